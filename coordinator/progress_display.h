#pragma once
// What a user sees while images are made: on a terminal a progress bar per
// running image (step, it/s, time left); otherwise one log line per image.
#include <chrono>
#include <cstdint>
#include <map>
#include <string>

namespace baton::coordinator {

class ProgressDisplay {
 public:
  // `interactive` false: log lines only (pipes, files, CI).
  ProgressDisplay(size_t total_images, bool interactive);
  ~ProgressDisplay();

  void started(uint64_t id, const std::string& label, int64_t steps);
  void step(uint64_t id, int64_t step, int64_t steps);
  void finished(uint64_t id, const std::string& path);
  void failed(uint64_t id, const std::string& error);

  // True when stderr is a terminal and TERM is not "dumb".
  static bool stderr_is_terminal();

 private:
  struct Running {
    std::string label;
    int64_t step = 0, steps = 0;
    std::chrono::steady_clock::time_point start;
  };
  void redraw();
  void clear_line();

  size_t total_;
  size_t done_ = 0;
  bool interactive_;
  bool line_drawn_ = false;
  std::map<uint64_t, Running> running_;
  std::chrono::steady_clock::time_point begin_;
};

}  // namespace baton::coordinator
