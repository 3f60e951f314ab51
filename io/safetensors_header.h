#pragma once
// The safetensors header: u64 little-endian length N, N bytes of JSON
// {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {str: str}},
// then the data buffer (offsets relative to its start). Parsing is separate
// from the file so the fuzz target (io/fuzz/) links no libtorch.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace baton::io {

enum class StDtype { F64, F32, F16, BF16, F8_E4M3, F8_E5M2, I64, I32, I16, I8, U8, BOOL };

// "F32" -> StDtype::F32; throws Error for names safetensors does not define.
StDtype parse_st_dtype(const std::string& name);
const char* st_dtype_name(StDtype dtype);
size_t st_dtype_size(StDtype dtype);
// Every dtype, in the order above.
const std::vector<StDtype>& all_st_dtypes();

struct TensorInfo {
  std::string name;
  StDtype dtype = StDtype::F32;
  std::vector<int64_t> shape;
  uint64_t begin = 0;  // byte range in the data buffer
  uint64_t end = 0;
  uint64_t nbytes() const { return end - begin; }
  uint64_t numel() const;
};

struct SafetensorsHeader {
  uint64_t data_start = 0;  // file offset of the data buffer (8 + N)
  uint64_t data_size = 0;
  std::map<std::string, TensorInfo> tensors;
  std::map<std::string, std::string> metadata;
};

// The header is untrusted: bounded before anything is allocated (the
// reference implementation caps it at 100 MB).
constexpr uint64_t kMaxSafetensorsHeaderBytes = 100ull << 20;

// Validates the header of a file whose first `file_size` bytes are at `file`:
// lengths, JSON, unique names, known dtypes, shapes, offsets inside the data
// buffer, byte length = numel x dtype size, no two tensors overlapping. Each
// defect is an Error naming `path`, the tensor and what was expected.
SafetensorsHeader parse_safetensors_header(const uint8_t* file, uint64_t file_size, const std::string& path);

// "[3840, 2304]"
std::string format_dims(const std::vector<int64_t>& shape);

}  // namespace baton::io
