#pragma once
// Every blocking wait in the transport takes a Deadline (design.md, Conventions:
// a dead peer becomes an error, never a hang). It remembers its budget so a
// timeout can say "nothing within 5.0 s".
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>

namespace baton::transport {

class Deadline {
 public:
  using Clock = std::chrono::steady_clock;

  static Deadline after(std::chrono::milliseconds budget) { return Deadline(budget); }
  static Deadline after_seconds(double seconds) {
    return Deadline(std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000.0)));
  }

  Clock::time_point when() const { return end_; }
  bool expired() const { return Clock::now() >= end_; }
  // Time left, never negative.
  std::chrono::milliseconds remaining() const {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end_ - Clock::now());
    return std::max(left, std::chrono::milliseconds(0));
  }
  // "5.0 s" or "150 ms": the budget this deadline was given, for error messages.
  std::string budget_text() const {
    char text[32];
    if (budget_.count() < 1000) {
      std::snprintf(text, sizeof text, "%lld ms", static_cast<long long>(budget_.count()));
    } else {
      std::snprintf(text, sizeof text, "%.1f s", budget_.count() / 1000.0);
    }
    return text;
  }
  // The earlier of two deadlines (a wait bounded by both).
  Deadline earlier(const Deadline& other) const { return other.end_ < end_ ? other : *this; }

 private:
  explicit Deadline(std::chrono::milliseconds budget) : end_(Clock::now() + budget), budget_(budget) {}
  Clock::time_point end_;
  std::chrono::milliseconds budget_;
};

}  // namespace baton::transport
