#pragma once
// Writes safetensors files the way the reference implementation does: header
// padded with spaces so the data buffer starts on an 8-byte boundary, tensors
// ordered by element size (largest first) then name so every tensor is aligned
// to its element size. Written to a temporary file beside the target and
// renamed into place, so a reader never sees half a file.
#include <ATen/ATen.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "io/safetensors_header.h"

namespace baton::io {

// The safetensors dtype a libtorch dtype is stored as; Error for others.
StDtype st_dtype_of(at::ScalarType dtype);

class SafetensorsWriter {
 public:
  // Stores `tensor` as its own dtype, or as `dtype` (converted; F8_E4M3 and
  // F8_E5M2 are encoded from float32, see core/float8.h).
  void add(const std::string& name, const at::Tensor& tensor);
  void add(const std::string& name, const at::Tensor& tensor, StDtype dtype);
  // A tensor produced only while the file is written, so writing a large
  // checkpoint holds one tensor at a time. `make` must return `shape`.
  void add_lazy(const std::string& name, std::vector<int64_t> shape, StDtype dtype,
                std::function<at::Tensor()> make);
  void set_metadata(const std::string& key, const std::string& value);

  size_t size() const { return entries_.size(); }
  // Writes everything to `path` (PATH.tmp-<pid> then rename). Throws Error
  // naming the path on I/O failure and leaves no temporary file behind.
  void write(const std::string& path) const;

 private:
  struct Entry {
    std::vector<int64_t> shape;
    StDtype dtype;
    std::function<at::Tensor()> make;
  };
  std::map<std::string, Entry> entries_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace baton::io
