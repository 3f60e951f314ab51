#include "coordinator/stage_trace.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "core/error.h"

namespace baton::coordinator {
namespace {

int64_t micros(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
}

}  // namespace

StageTrace::StageTrace(const std::string& path, int rank) : rank_(rank) {
  if (path.empty()) return;
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd_ < 0) throw Error("cannot open the trace file " + path, "give --trace a writable path");
}

StageTrace::~StageTrace() {
  if (fd_ >= 0) ::close(fd_);
}

void StageTrace::record(const worker::StageAddress& stage, const worker::StageMessage& m,
                        std::chrono::system_clock::time_point start, std::chrono::system_clock::time_point end) {
  const double ms = std::chrono::duration<double, std::milli>(end - start).count();
  spdlog::debug("stage {}: {} of request {} step {}{} took {:.1f} ms", stage.name(), worker::message_kind_name(m.kind),
                m.request_id, m.step, m.branches.size() == 2 ? " (both branches)" : "", ms);
  if (fd_ < 0) return;
  nlohmann::json line = {{"rank", rank_},       {"stage", stage.name()},
                         {"kind", worker::message_kind_name(m.kind)},
                         {"request", m.request_id}, {"step", m.step},
                         {"branches", m.branches},  {"start_us", micros(start)},
                         {"end_us", micros(end)}};
  const std::string text = line.dump() + "\n";
  // One write per line: O_APPEND keeps lines of several ranks whole.
  if (::write(fd_, text.data(), text.size()) != static_cast<ssize_t>(text.size()))
    spdlog::warn("could not write a line of the trace file");
}

std::vector<worker::Outgoing> handle_traced(worker::StageWorker& worker, const worker::StageAddress& to,
                                            worker::StageMessage message, StageTrace* trace) {
  if (!trace || message.kind == worker::MessageKind::Cancel) return worker.handle(to, std::move(message));
  worker::StageMessage header;  // what the trace needs, without the tensors
  header.kind = message.kind;
  header.request_id = message.request_id;
  header.step = message.step;
  header.branches = message.branches;
  const auto start = std::chrono::system_clock::now();
  auto out = worker.handle(to, std::move(message));
  trace->record(to, header, start, std::chrono::system_clock::now());
  return out;
}

}  // namespace baton::coordinator
