#pragma once
// What each stage did when (`baton generate --trace FILE`, docs/distributed.md):
// one JSON line per message a stage handled, with wall-clock start and end in
// microseconds since the epoch, so lines of ranks on one host line up. With
// --log-level debug the same lines go to the log.
#include <chrono>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "worker/stage_worker.h"

namespace baton::coordinator {

class StageTrace {
 public:
  // Appends to `path` (every rank of a job may append to the same file:
  // each line is written with one write() on a file opened with O_APPEND).
  // An empty path records nothing but still logs at debug level.
  StageTrace(const std::string& path, int rank);
  ~StageTrace();
  StageTrace(const StageTrace&) = delete;
  StageTrace& operator=(const StageTrace&) = delete;

  void record(const worker::StageAddress& stage, const worker::StageMessage& message,
              std::chrono::system_clock::time_point start, std::chrono::system_clock::time_point end);

 private:
  int fd_ = -1;
  int rank_ = 0;
};

// worker.handle(to, message), recorded in `trace` (when not null).
std::vector<worker::Outgoing> handle_traced(worker::StageWorker& worker, const worker::StageAddress& to,
                                            worker::StageMessage message, StageTrace* trace);

}  // namespace baton::coordinator
