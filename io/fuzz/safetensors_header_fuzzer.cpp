// libFuzzer entry for the safetensors header parser (docs/fuzzing.md): any
// byte string must either parse or be refused with baton::Error; a crash,
// sanitizer report, hang or any other exception is a bug.
#include <cstddef>
#include <cstdint>

#include "core/error.h"
#include "io/safetensors_header.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const auto header = baton::io::parse_safetensors_header(data, size, "fuzz.safetensors");
    // A parsed header promises every tensor lies inside the data buffer.
    for (const auto& kv : header.tensors)
      if (kv.second.end > header.data_size || header.data_start + header.data_size != size) __builtin_trap();
  } catch (const baton::Error&) {
  }
  return 0;
}
