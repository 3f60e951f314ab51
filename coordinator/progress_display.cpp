#include "coordinator/progress_display.h"

#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace baton::coordinator {
namespace {
double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}
}  // namespace

bool ProgressDisplay::stderr_is_terminal() {
  const char* term = std::getenv("TERM");
  return ::isatty(STDERR_FILENO) && !(term && std::strcmp(term, "dumb") == 0);
}

ProgressDisplay::ProgressDisplay(size_t total_images, bool interactive)
    : total_(total_images), interactive_(interactive), begin_(std::chrono::steady_clock::now()) {}

ProgressDisplay::~ProgressDisplay() { clear_line(); }

void ProgressDisplay::clear_line() {
  if (interactive_ && line_drawn_) {
    std::fputs("\r\033[2K", stderr);
    std::fflush(stderr);
    line_drawn_ = false;
  }
}

void ProgressDisplay::started(uint64_t id, const std::string& label, int64_t steps) {
  running_[id] = {label, 0, steps, std::chrono::steady_clock::now()};
  redraw();
}

void ProgressDisplay::step(uint64_t id, int64_t step, int64_t steps) {
  auto it = running_.find(id);
  if (it == running_.end()) return;
  it->second.step = step;
  it->second.steps = steps;
  redraw();
}

void ProgressDisplay::finished(uint64_t id, const std::string& path) {
  clear_line();
  auto it = running_.find(id);
  const double secs = it != running_.end() ? seconds_since(it->second.start) : 0.0;
  ++done_;
  spdlog::info("image {}/{} written to {} ({:.1f} s)", done_, total_, path, secs);
  if (it != running_.end()) running_.erase(it);
  redraw();
}

void ProgressDisplay::failed(uint64_t id, const std::string& error) {
  clear_line();
  ++done_;
  auto it = running_.find(id);
  spdlog::error("image {}/{} ({}) failed: {}", done_, total_, it != running_.end() ? it->second.label : "?", error);
  if (it != running_.end()) running_.erase(it);
  redraw();
}

void ProgressDisplay::redraw() {
  if (!interactive_ || running_.empty()) return;
  // The oldest running image drives the bar; the others are counted.
  const auto& r = running_.begin()->second;
  const double secs = seconds_since(r.start);
  const double rate = r.step > 0 ? r.step / secs : 0.0;
  const double left = rate > 0 ? (r.steps - r.step) / rate : 0.0;
  const int width = 24;
  const int filled = r.steps > 0 ? static_cast<int>(width * r.step / r.steps) : 0;
  std::string bar(static_cast<size_t>(filled), '#');
  bar.resize(width, '.');
  std::string line = fmt::format("[{}] image {}/{} step {}/{} {:.2f} it/s, {:.0f} s left", bar, done_ + 1, total_,
                                 r.step, r.steps, rate, left);
  if (running_.size() > 1) line += fmt::format(" (+{} in flight)", running_.size() - 1);
  std::fprintf(stderr, "\r\033[2K%s", line.c_str());
  std::fflush(stderr);
  line_drawn_ = true;
}

}  // namespace baton::coordinator
