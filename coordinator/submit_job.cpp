#include "coordinator/submit_job.h"

#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <map>

#include "coordinator/generate_job.h"
#include "coordinator/progress_display.h"
#include "coordinator/service_protocol.h"
#include "core/error.h"
#include "io/atomic_file.h"

namespace baton::coordinator {
namespace fs = std::filesystem;

SubmitReport run_submit(const SubmitOptions& o) {
  if (o.requests.empty()) throw UsageError("no prompt given", "use --prompt TEXT or --prompt-file FILE");
  std::vector<std::string> paths;
  if (o.wait) {
    paths = output_paths(o.output, o.requests);
    for (const auto& p : paths) {
      const auto parent = fs::path(p).parent_path();
      std::error_code ec;
      if (!parent.empty()) fs::create_directories(parent, ec);
      if (ec) throw UsageError("cannot create the output folder " + parent.string() + " (" + ec.message() + ")");
    }
  }
  ServiceClient client(o.endpoint, o.credentials, o.timeout);
  SubmitReport report;
  std::vector<uint64_t> ids;
  std::vector<std::string> queued_paths, labels;
  for (size_t i = 0; i < o.requests.size(); ++i) {
    try {
      const uint64_t id = client.submit(o.requests[i], o.wait, o.wait);
      ids.push_back(id);
      report.job_ids.push_back(id);
      labels.push_back(fmt::format("job {} (prompt {}, seed {})", id, i + 1, o.requests[i].seed));
      if (o.wait) queued_paths.push_back(paths[i]);
    } catch (const ServerBusy& e) {
      // The jobs queued so far still run (and are waited for); the rest are reported.
      report.job_ids.push_back(0);
      report.errors.push_back(fmt::format("prompt {}: {} ({})", i + 1, e.what(), e.hint()));
    } catch (const UsageError& e) {
      if (ids.empty() && o.requests.size() == 1) throw;
      report.job_ids.push_back(0);
      report.errors.push_back(fmt::format("prompt {}: {}", i + 1, e.what()));
    }
  }
  if (!o.wait || ids.empty()) return report;
  auto waited = wait_for_jobs(client, ids, queued_paths, labels, o.interactive);
  report.written = std::move(waited.written);
  report.errors.insert(report.errors.end(), waited.errors.begin(), waited.errors.end());
  return report;
}

SubmitReport wait_for_jobs(ServiceClient& client, const std::vector<uint64_t>& ids,
                           const std::vector<std::string>& paths, const std::vector<std::string>& labels,
                           bool interactive) {
  std::map<uint64_t, size_t> index_of;
  for (size_t i = 0; i < ids.size(); ++i) index_of[ids[i]] = i;
  std::vector<std::string> written(ids.size());
  SubmitReport report;
  report.job_ids = ids;
  ProgressDisplay progress(ids.size(), interactive);
  std::map<uint64_t, bool> shown;
  const bool want_png = std::any_of(paths.begin(), paths.end(), [](const auto& p) { return !p.empty(); });
  client.wait(ids, want_png, [&](const service::JobEvent& e) {
    const size_t i = index_of.at(e.job_id());
    // A job may be running already when we start watching it.
    if (!shown[e.job_id()]) {
      progress.started(e.job_id(), labels[i], e.steps());
      shown[e.job_id()] = true;
    }
    switch (e.kind()) {
      case service::JobEvent::PROGRESS: progress.step(e.job_id(), e.step(), e.steps()); break;
      case service::JobEvent::DONE:
        if (!paths[i].empty()) {
          if (e.png().empty()) {
            const std::string why = "the server no longer holds the result" +
                                    (e.output_path().empty() ? std::string()
                                                             : " (it was written on the server to " + e.output_path() + ")");
            report.errors.push_back(labels[i] + ": " + why);
            progress.failed(e.job_id(), why);
            break;
          }
          io::write_file_atomically(paths[i], e.png().data(), e.png().size());
          written[i] = paths[i];
        }
        progress.finished(e.job_id(), paths[i].empty() ? e.output_path() : paths[i]);
        break;
      case service::JobEvent::FAILED:
      case service::JobEvent::CANCELLED: {
        const std::string what = (e.kind() == service::JobEvent::FAILED ? "failed: " : "cancelled: ") + e.error();
        report.errors.push_back(labels[i] + " " + what);
        progress.failed(e.job_id(), what);
        break;
      }
      default: break;
    }
  });
  for (auto& p : written)
    if (!p.empty()) report.written.push_back(p);
  return report;
}

std::string format_job_table(const std::vector<service::JobInfo>& jobs) {
  if (jobs.empty()) return "no jobs\n";
  std::string out = fmt::format("{:>6}  {:<9}  {:>9}  {:>7}  {:>9}  {}\n", "JOB", "STATE", "STEP", "AGE", "SIZE", "PROMPT");
  for (const auto& j : jobs) {
    std::string prompt = j.request().prompt();
    for (auto& c : prompt)
      if (c == '\n' || c == '\t') c = ' ';
    if (prompt.size() > 60) prompt = prompt.substr(0, 57) + "...";  // may cut UTF-8: only for the terminal
    out += fmt::format("{:>6}  {:<9}  {:>9}  {:>6.0f}s  {:>9}  {}\n", j.job_id(), job_state_name(j.state()),
                       fmt::format("{}/{}", j.step(), j.steps()), j.age_seconds(),
                       fmt::format("{}x{}", j.request().width(), j.request().height()), prompt);
  }
  return out;
}

std::string format_job(const service::JobInfo& j) {
  const auto& r = j.request();
  std::string out = fmt::format("job {}: {}", j.job_id(), job_state_name(j.state()));
  if (j.state() == service::QUEUED) out += fmt::format(" (position {} in the queue)", j.queue_position());
  out += fmt::format("\n  step      {}/{}\n  age       {:.1f} s\n", j.step(), j.steps(), j.age_seconds());
  if (j.state() != service::QUEUED) out += fmt::format("  running   {:.1f} s\n", j.run_seconds());
  out += fmt::format("  prompt    {}\n", r.prompt());
  if (!r.negative_prompt().empty()) out += fmt::format("  negative  {}\n", r.negative_prompt());
  out += fmt::format("  size      {}x{}\n  seed      {}\n  cfg       {} (trunc {}, renorm {})\n  shift     {}\n", r.width(),
                     r.height(), r.seed(), r.cfg_scale(), r.cfg_trunc(), r.renorm_cfg(), r.shift());
  if (!j.error().empty()) out += fmt::format("  error     {}\n", j.error());
  if (!j.output_path().empty()) out += fmt::format("  written   {} (on the server)\n", j.output_path());
  if (j.state() == service::DONE)
    out += j.result_held() ? "  result    held by the server: baton status " + std::to_string(j.job_id()) + " --wait -o FILE\n"
                           : "  result    no longer held by the server\n";
  return out;
}

}  // namespace baton::coordinator
