#pragma once
// A safetensors file, memory-mapped; the header is parsed and validated when
// the file is opened, a tensor's bytes are touched only when it is loaded.
// Format: u64 little-endian header length N, N bytes of JSON
// {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {str: str}},
// then the data buffer (offsets are relative to its start).
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/tensor_source.h"

namespace baton::io {

enum class StDtype { F64, F32, F16, BF16, F8_E4M3, F8_E5M2, I64, I32, I16, I8, U8, BOOL };

// "F32" -> StDtype::F32; throws Error for names safetensors does not define.
StDtype parse_st_dtype(const std::string& name);
const char* st_dtype_name(StDtype dtype);
size_t st_dtype_size(StDtype dtype);

struct TensorInfo {
  std::string name;
  StDtype dtype = StDtype::F32;
  std::vector<int64_t> shape;
  uint64_t begin = 0;  // byte range in the data buffer
  uint64_t end = 0;
  uint64_t nbytes() const { return end - begin; }
};

class SafetensorsFile : public TensorSource {
 public:
  // Opens and validates; every defect is an Error that names the file (and the
  // tensor) and says what was expected.
  explicit SafetensorsFile(const std::string& path);
  ~SafetensorsFile() override;
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  const std::string& path() const { return path_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  const TensorInfo& info(const std::string& name) const;

  bool contains(const std::string& name) const override;
  std::vector<int64_t> shape(const std::string& name) const override;
  at::Tensor load(const std::string& name, const at::TensorOptions& options) const override;
  std::vector<std::string> names() const override;
  std::string describe() const override { return path_; }

  // Bytes of tensor data copied out of the mapping so far (partial-load accounting).
  uint64_t bytes_read() const { return bytes_read_; }

 private:
  std::string path_;
  int fd_ = -1;
  const uint8_t* map_ = nullptr;
  uint64_t file_size_ = 0;
  uint64_t data_start_ = 0;
  std::map<std::string, TensorInfo> tensors_;
  std::map<std::string, std::string> metadata_;
  mutable uint64_t bytes_read_ = 0;
};

}  // namespace baton::io
