#pragma once
// The message of the baton::Error that `f` throws, or "(no error)", so a test
// can check what an error says (and see it when the check fails).
#include <string>

#include "core/error.h"

namespace baton::test {

template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace baton::test
