#pragma once
// A safetensors file, memory-mapped; the header is parsed and validated when
// the file is opened (io/safetensors_header.h), a tensor's bytes are touched
// only when it is loaded.
#include <atomic>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "io/checkpoint.h"
#include "io/safetensors_header.h"

namespace baton::io {

class SafetensorsFile : public Checkpoint {
 public:
  // Opens and validates; every defect is an Error that names the file (and the
  // tensor) and says what was expected.
  explicit SafetensorsFile(const std::string& path);
  ~SafetensorsFile() override;
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  const std::string& path() const { return path_; }
  std::map<std::string, std::string> metadata() const override { return header_.metadata; }
  TensorInfo info(const std::string& name) const override;

  bool contains(const std::string& name) const override;
  std::vector<int64_t> shape(const std::string& name) const override;
  // Reads the tensor straight into `options`' device and dtype. F8_E4M3 and
  // F8_E5M2 (no libtorch 1.13 dtype) are decoded to float32 first.
  at::Tensor load(const std::string& name, const at::TensorOptions& options) const override;
  std::vector<std::string> names() const override;
  std::string describe() const override { return path_; }

  uint64_t bytes_read() const override { return bytes_read_.load(); }
  std::vector<std::string> files() const override { return {path_}; }

 private:
  const TensorInfo& find(const std::string& name) const;

  std::string path_;
  int fd_ = -1;
  const uint8_t* map_ = nullptr;
  uint64_t file_size_ = 0;
  SafetensorsHeader header_;
  mutable std::atomic<uint64_t> bytes_read_{0};
};

}  // namespace baton::io
