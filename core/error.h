#pragma once
// The one error type of baton (design.md, Conventions): what failed, on which
// input, and what to do. The CLI prints it and exits non-zero; no stack traces.
#include <stdexcept>
#include <string>

namespace baton {

class Error : public std::runtime_error {
 public:
  // `what_failed` names the input (file, tensor, option) and the expectation;
  // `hint` says what the user can do about it (may be empty).
  explicit Error(std::string what_failed, std::string hint = {});

  const char* what() const noexcept override { return message_.c_str(); }
  const std::string& hint() const noexcept { return hint_; }

  // Adds an outer context ("loading transformer: ...") and returns *this, so a
  // caller can catch, annotate and rethrow without losing the hint.
  Error& with_context(const std::string& context);

 private:
  std::string message_;
  std::string hint_;
};

// A mistake on the command line: exit status 2.
class UsageError : public Error {
 public:
  using Error::Error;
};

// Throws Error(what_failed, hint) when `ok` is false. For checks on user input.
inline void require(bool ok, const std::string& what_failed, const std::string& hint = {}) {
  if (!ok) throw Error(what_failed, hint);
}

}  // namespace baton
