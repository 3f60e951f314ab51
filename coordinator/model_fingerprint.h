#pragma once
// What every rank of a job must agree on before stages talk (the Hello of
// transport/wire.proto): the model and the plan, as short hashes.
#include <string>

namespace baton::coordinator {

// FNV-1a 64 of `text`, as 16 hex digits.
std::string fingerprint_of(const std::string& text);

// The model folder's fingerprint: every file's path (relative) and size, and
// the content of its small text files (configs, indexes). Cheap (no weights
// are read) and the same for copies of one checkpoint on several hosts.
std::string model_fingerprint(const std::string& model_dir);

}  // namespace baton::coordinator
