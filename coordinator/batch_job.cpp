#include "coordinator/batch_job.h"

#include <fcntl.h>
#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "coordinator/batch_manifest.h"
#include "coordinator/progress_display.h"
#include "core/error.h"
#include "io/atomic_file.h"
#include "io/png_image.h"

namespace baton::coordinator {
namespace fs = std::filesystem;

namespace {

// Only one batch at a time writes into a folder (a second would duplicate work).
class FolderLock {
 public:
  explicit FolderLock(const std::string& dir) {
    const std::string path = (fs::path(dir) / ".batch.lock").string();
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) throw Error("cannot create " + path + " (" + std::strerror(errno) + ")");
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      ::close(fd_);
      throw UsageError("another `baton batch` is writing into " + dir, "wait for it to finish, or use another --out");
    }
  }
  ~FolderLock() { ::close(fd_); }  // closing releases the lock

 private:
  int fd_ = -1;
};

// The image at `path` is complete and was made from `request`: it decodes,
// and its "baton" chunk holds the same request. Says why not in `why`.
bool image_is_complete(const std::string& path, const sampling::GenerationRequest& request, std::string& why) {
  try {
    const auto png = io::read_png(path);
    const std::string* recipe = png.text(io::kBatonKeyword);
    if (!recipe) return why = "it has no baton chunk", false;
    const auto j = nlohmann::json::parse(*recipe);
    if (!j.contains("request") || j.at("request") != request.to_json())
      return why = "it was made from another request", false;
    if (png.image.width != request.width || png.image.height != request.height)
      return why = "its size differs from the request's", false;
    return true;
  } catch (const std::exception& e) {
    why = e.what();
    return false;
  }
}

// Temporaries of write_file_atomically (".NAME.tmp.XXXXXX") that a kill left behind.
void remove_stale_temporaries(const std::string& dir) {
  std::error_code ec;
  for (const auto& f : fs::directory_iterator(dir, ec)) {
    const std::string name = f.path().filename().string();
    if (name.size() > 1 && name[0] == '.' && name.find(".png.tmp.") != std::string::npos) {
      spdlog::info("batch: removing {} (left by a run that was stopped)", name);
      fs::remove(f.path(), ec);
    }
  }
}

nlohmann::json manifest_entry(const BatchLine& l, size_t bytes, double seconds) {
  return {{"line", l.line}, {"file", l.file}, {"seed", l.request.seed}, {"request", l.request.to_json()},
          {"bytes", bytes}, {"seconds", std::round(seconds * 1000) / 1000}};
}

}  // namespace

std::vector<BatchLine> read_batch_file(const std::string& path, const sampling::GenerationRequest& defaults,
                                       uint64_t seed_base) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UsageError("cannot read prompt file " + path + " (" + std::strerror(errno) + ")");
  std::vector<BatchLine> out;
  std::string text;
  int64_t number = 0;
  while (std::getline(in, text)) {
    ++number;
    if (!text.empty() && text.back() == '\r') text.pop_back();
    const auto first = text.find_first_not_of(" \t");
    if (first == std::string::npos || text[first] == '#') continue;
    const std::string where = path + " line " + std::to_string(number);
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(text);
    } catch (const nlohmann::json::exception& e) {
      throw UsageError(where + " is not JSON (" + e.what() + ")",
                       R"(each line is one request, e.g. {"prompt": "1girl, smile", "seed": 42})");
    }
    BatchLine l;
    l.line = number;
    try {
      l.request = sampling::GenerationRequest::from_json(j, defaults);
      if (!j.contains("seed")) l.request.seed = (seed_base + static_cast<uint64_t>(number)) & ((uint64_t(1) << 53) - 1);
    } catch (const Error& e) {
      throw UsageError(where + ": " + e.what(), e.hint());
    }
    l.file = fmt::format("{:06d}-{}.png", l.line, l.request.seed);
    out.push_back(std::move(l));
  }
  if (in.bad()) throw UsageError("cannot read prompt file " + path);
  if (out.empty()) throw UsageError("prompt file " + path + " holds no request", "one JSON object per line");
  return out;
}

namespace {

// Nothing left to make: every image is complete from an earlier run (under
// mpirun this ends every rank's open cleanly).
struct NothingPending : std::exception {
  const char* what() const noexcept override { return "every image is complete from an earlier run"; }
};

}  // namespace

BatchReport run_batch(const BatchOptions& o) {
  const auto start = std::chrono::steady_clock::now();
  const auto lines = read_batch_file(o.prompts_file, o.defaults, o.seed_base);
  BatchReport report;
  report.requests = lines.size();

  // The output folder, its lock and the manifest are rank 0's (under mpirun
  // the other ranks only host stages): made in `prepare`, which runs there.
  std::unique_ptr<FolderLock> lock;
  std::unique_ptr<BatchManifest> manifest_holder;
  std::vector<const BatchLine*> pending;
  const auto prepare = [&] {
    std::error_code ec;
    fs::create_directories(o.out_dir, ec);
    if (ec) throw UsageError("cannot create the output folder " + o.out_dir + " (" + ec.message() + ")");
    lock = std::make_unique<FolderLock>(o.out_dir);
    remove_stale_temporaries(o.out_dir);
    manifest_holder = std::make_unique<BatchManifest>((fs::path(o.out_dir) / "manifest.jsonl").string());
    auto& manifest = *manifest_holder;
    for (const auto& l : lines) {
      const std::string path = (fs::path(o.out_dir) / l.file).string();
      std::string why;
      if (fs::exists(path) && image_is_complete(path, l.request, why)) {
        // A kill between the image and its manifest line: the image is good, record it now.
        if (!manifest.entry(l.line) || manifest.entry(l.line)->value("file", "") != l.file)
          manifest.append(manifest_entry(l, fs::file_size(path), 0.0));
        ++report.skipped;
        continue;
      }
      if (fs::exists(path)) spdlog::warn("batch: {} will be made again: {}", path, why);
      manifest.forget(l.line);
      pending.push_back(&l);
    }
    if (report.skipped)
      spdlog::info("batch: {} of {} image(s) are complete from an earlier run", report.skipped, lines.size());
    if (pending.empty()) throw NothingPending();
  };

  // Planned for every line, so each rank sizes it alike without the folder.
  std::vector<sampling::GenerationRequest> requests;
  for (const auto& l : lines) requests.push_back(l.request);
  std::unique_ptr<Pipeline> pipeline;
  try {
    pipeline = Pipeline::open(o, PlannedSize::of(requests), prepare);
  } catch (const NothingPending&) {
  }
  if (!pipeline) {  // nothing to make, or another rank of an mpirun job (rank 0 reports)
    report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return report;
  }
  auto& manifest = *manifest_holder;
  RequestRunner& runner = pipeline->runner();
  std::map<uint64_t, const BatchLine*> line_of;
  std::map<uint64_t, std::chrono::steady_clock::time_point> started;
  for (const auto* l : pending) line_of[runner.submit(l->request)] = l;
  ProgressDisplay progress(pending.size(), o.interactive);
  while (!runner.idle()) {
    auto e = runner.poll(std::chrono::milliseconds(500));
    if (!e) continue;
    const BatchLine& l = *line_of.at(e->id);
    switch (e->kind) {
      case RunEvent::Kind::Started:
        started[e->id] = std::chrono::steady_clock::now();
        progress.started(e->id, fmt::format("line {} seed {}", l.line, l.request.seed), e->steps);
        break;
      case RunEvent::Kind::Progress: progress.step(e->id, e->step, e->steps); break;
      case RunEvent::Kind::Done: {
        const std::string path = (fs::path(o.out_dir) / l.file).string();
        io::write_file_atomically(path, e->png.data(), e->png.size());
        manifest.append(manifest_entry(
            l, e->png.size(), std::chrono::duration<double>(std::chrono::steady_clock::now() - started[e->id]).count()));
        ++report.written;
        progress.finished(e->id, path);
        break;
      }
      case RunEvent::Kind::Failed:
        report.errors.push_back(fmt::format("line {}: {}", l.line, e->error));
        progress.failed(e->id, e->error);
        break;
    }
  }
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

std::string format_batch_report(const BatchReport& r) {
  std::string out = fmt::format("{} request(s): {} written now, {} complete from an earlier run", r.requests, r.written,
                                r.skipped);
  if (!r.errors.empty()) out += fmt::format(", {} failed (run the same command again to retry them)", r.errors.size());
  return out + fmt::format(" ({:.1f} s)\n", r.seconds);
}

}  // namespace baton::coordinator
