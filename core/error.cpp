#include "core/error.h"

namespace baton {

Error::Error(std::string what_failed, std::string hint)
    : std::runtime_error(what_failed), message_(std::move(what_failed)), hint_(std::move(hint)) {}

Error& Error::with_context(const std::string& context) {
  message_ = context + ": " + message_;
  return *this;
}

}  // namespace baton
