#include "coordinator/generate_job.h"

#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <map>

#include "coordinator/progress_display.h"
#include "core/byte_size.h"
#include "core/error.h"
#include "io/atomic_file.h"

namespace baton::coordinator {
namespace fs = std::filesystem;

std::vector<std::string> output_paths(const std::string& output,
                                      const std::vector<sampling::GenerationRequest>& requests) {
  const bool is_file = output.size() > 4 && output.compare(output.size() - 4, 4, ".png") == 0;
  if (is_file && requests.size() != 1)
    throw UsageError("-o " + output + " names one file, but there are " + std::to_string(requests.size()) + " prompts",
                     "give a folder with -o when generating several images");
  if (is_file) return {output};
  std::vector<std::string> paths;
  for (size_t i = 0; i < requests.size(); ++i) {
    const std::string name = requests.size() == 1
                                 ? fmt::format("newbie-{}.png", requests[i].seed)
                                 : fmt::format("newbie-{:03d}-{}.png", i + 1, requests[i].seed);
    paths.push_back((fs::path(output) / name).string());
  }
  return paths;
}

GenerateReport run_generate(const GenerateOptions& o) {
  if (o.requests.empty()) throw UsageError("no prompt given", "use --prompt TEXT or --prompt-file FILE");
  for (const auto& r : o.requests) r.validate();
  const auto paths = output_paths(o.output, o.requests);
  auto pipeline = Pipeline::open(o, PlannedSize::of(o.requests), [&] {
    for (const auto& p : paths) {
      const auto parent = fs::path(p).parent_path();
      std::error_code ec;
      if (!parent.empty()) fs::create_directories(parent, ec);
      if (ec) throw UsageError("cannot create the output folder " + parent.string() + " (" + ec.message() + ")");
    }
  });
  if (!pipeline) return {};  // another rank of an mpirun job: rank 0 reports
  RequestRunner& runner = pipeline->runner();

  GenerateReport report;
  const auto start = std::chrono::steady_clock::now();
  std::map<uint64_t, size_t> index_of;
  for (size_t i = 0; i < o.requests.size(); ++i) index_of[runner.submit(o.requests[i])] = i;
  std::vector<std::string> written(o.requests.size());
  ProgressDisplay progress(o.requests.size(), o.interactive);
  while (!runner.idle()) {
    auto e = runner.poll(std::chrono::milliseconds(500));
    if (!e) continue;
    const size_t i = index_of.at(e->id);
    switch (e->kind) {
      case RunEvent::Kind::Started:
        progress.started(e->id, fmt::format("prompt {} seed {}", i + 1, o.requests[i].seed), e->steps);
        break;
      case RunEvent::Kind::Progress: progress.step(e->id, e->step, e->steps); break;
      case RunEvent::Kind::Done:
        io::write_file_atomically(paths[i], e->png.data(), e->png.size());
        written[i] = paths[i];
        progress.finished(e->id, paths[i]);
        break;
      case RunEvent::Kind::Failed:
        report.errors.push_back(fmt::format("prompt {}: {}", i + 1, e->error));
        progress.failed(e->id, e->error);
        break;
    }
  }
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (auto& p : written)
    if (!p.empty()) report.written.push_back(p);
  pipeline->close();
  report.stages = pipeline->stage_timings();
  report.peak_bytes = pipeline->peak_bytes();
  return report;
}

std::string format_generate_report(const GenerateReport& r) {
  std::string out = fmt::format("{} image(s) in {:.1f} s", r.written.size(), r.seconds);
  if (!r.errors.empty()) out += fmt::format(", {} failed", r.errors.size());
  out += "\n";
  for (const auto& s : r.stages) out += fmt::format("  {:<6} on {:<8} busy {:8.2f} s\n", s.stage, s.device, s.busy_seconds);
  for (const auto& [device, bytes] : r.peak_bytes)
    out += fmt::format("  peak on {:<8} {} ({})\n", device, format_byte_size(bytes),
                       device.find("cuda:") != std::string::npos ? "allocated" : "process max RSS");  // "cuda:0", "r2/cuda:0"
  return out;
}

}  // namespace baton::coordinator
