#include "io/safetensors_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include "core/error.h"
#include "core/float8.h"

namespace baton::io {
namespace {

at::ScalarType stored_torch_dtype(StDtype d) {
  switch (d) {
    case StDtype::F64: return at::kDouble;
    case StDtype::F32: return at::kFloat;
    case StDtype::F16: return at::kHalf;
    case StDtype::BF16: return at::kBFloat16;
    case StDtype::I64: return at::kLong;
    case StDtype::I32: return at::kInt;
    case StDtype::I16: return at::kShort;
    case StDtype::I8: return at::kChar;
    case StDtype::U8: return at::kByte;
    case StDtype::BOOL: return at::kByte;  // loaded as bytes, then != 0 (a stray 2 stays true)
    case StDtype::F8_E4M3:
    case StDtype::F8_E5M2: return at::kFloat;  // decoded
  }
  return at::kFloat;
}

}  // namespace

SafetensorsFile::SafetensorsFile(const std::string& path) : path_(path) {
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) throw Error(path + ": cannot open (" + std::strerror(errno) + ")");
  struct stat st {};
  if (::fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd_);
    throw Error(path + ": not a regular file");
  }
  file_size_ = static_cast<uint64_t>(st.st_size);
  try {
    if (file_size_ > 0) {
      void* m = ::mmap(nullptr, file_size_, PROT_READ, MAP_PRIVATE, fd_, 0);
      if (m == MAP_FAILED) throw Error(path + ": mmap failed (" + std::strerror(errno) + ")");
      map_ = static_cast<const uint8_t*>(m);
    }
    header_ = parse_safetensors_header(map_, file_size_, path);
  } catch (...) {
    if (map_) ::munmap(const_cast<uint8_t*>(map_), file_size_);
    ::close(fd_);
    throw;
  }
}

SafetensorsFile::~SafetensorsFile() {
  if (map_) ::munmap(const_cast<uint8_t*>(map_), file_size_);
  if (fd_ >= 0) ::close(fd_);
}

const TensorInfo& SafetensorsFile::find(const std::string& name) const {
  auto it = header_.tensors.find(name);
  if (it == header_.tensors.end()) throw Error(path_ + ": tensor " + name + " is missing");
  return it->second;
}

TensorInfo SafetensorsFile::info(const std::string& name) const { return find(name); }

bool SafetensorsFile::contains(const std::string& name) const { return header_.tensors.count(name) != 0; }

std::vector<int64_t> SafetensorsFile::shape(const std::string& name) const { return find(name).shape; }

at::Tensor SafetensorsFile::load(const std::string& name, const at::TensorOptions& options) const {
  const auto& ti = find(name);
  const at::ScalarType target = options.dtype().toScalarType();
  const at::Device device = options.device();
  const uint8_t* src = map_ + header_.data_start + ti.begin;
  const at::ScalarType stored = stored_torch_dtype(ti.dtype);
  bytes_read_ += ti.nbytes();

  if (ti.dtype == StDtype::F8_E4M3 || ti.dtype == StDtype::F8_E5M2) {
    auto decoded = at::empty(ti.shape, at::kFloat);
    float* out = decoded.data_ptr<float>();
    const auto decode = ti.dtype == StDtype::F8_E4M3 ? float8_e4m3_to_float : float8_e5m2_to_float;
    for (uint64_t i = 0; i < ti.nbytes(); ++i) out[i] = decode(src[i]);
    return decoded.to(device, target);
  }
  at::Tensor host;
  const size_t element = st_dtype_size(ti.dtype);
  if (reinterpret_cast<uintptr_t>(src) % element == 0 && ti.nbytes()) {
    // Aligned (the writer and the reference both align): convert straight out
    // of the mapping, one copy.
    host = at::from_blob(const_cast<uint8_t*>(src), ti.shape, at::TensorOptions().dtype(stored));
  } else {
    host = at::empty(ti.shape, at::TensorOptions().dtype(stored));
    if (ti.nbytes()) std::memcpy(host.data_ptr(), src, ti.nbytes());
  }
  if (ti.dtype == StDtype::BOOL) host = host.ne(0);
  auto out = host.to(device, target);
  // to() returns the mapping itself when nothing changes; never hand that out.
  if (out.data_ptr() == static_cast<const void*>(src) && ti.nbytes()) out = out.clone();
  return out;
}

std::vector<std::string> SafetensorsFile::names() const {
  std::vector<std::string> out;
  out.reserve(header_.tensors.size());
  for (const auto& kv : header_.tensors) out.push_back(kv.first);
  return out;
}

}  // namespace baton::io
