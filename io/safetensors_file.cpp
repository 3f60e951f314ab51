#include "io/safetensors_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>

#include "core/error.h"

namespace baton::io {
namespace {

struct DtypeEntry {
  StDtype dtype;
  const char* name;
  size_t size;
};
constexpr DtypeEntry kDtypes[] = {
    {StDtype::F64, "F64", 8},         {StDtype::F32, "F32", 4},         {StDtype::F16, "F16", 2},
    {StDtype::BF16, "BF16", 2},       {StDtype::F8_E4M3, "F8_E4M3", 1}, {StDtype::F8_E5M2, "F8_E5M2", 1},
    {StDtype::I64, "I64", 8},         {StDtype::I32, "I32", 4},         {StDtype::I16, "I16", 2},
    {StDtype::I8, "I8", 1},           {StDtype::U8, "U8", 1},           {StDtype::BOOL, "BOOL", 1},
};

// The header is untrusted: bound it before allocating (the reference
// implementation caps it at 100 MB).
constexpr uint64_t kMaxHeaderBytes = 100ull << 20;

at::ScalarType torch_dtype(StDtype d, const std::string& where) {
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
    case StDtype::BOOL: return at::kBool;
    default:
      throw Error(where + ": dtype " + st_dtype_name(d) + " cannot be loaded by this build yet");
  }
}

}  // namespace

StDtype parse_st_dtype(const std::string& name) {
  for (const auto& e : kDtypes)
    if (name == e.name) return e.dtype;
  throw Error("unknown safetensors dtype '" + name + "'",
              "expected one of F64, F32, F16, BF16, F8_E4M3, F8_E5M2, I64, I32, I16, I8, U8, BOOL");
}

const char* st_dtype_name(StDtype dtype) {
  for (const auto& e : kDtypes)
    if (e.dtype == dtype) return e.name;
  return "?";
}

size_t st_dtype_size(StDtype dtype) {
  for (const auto& e : kDtypes)
    if (e.dtype == dtype) return e.size;
  return 0;
}

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
    if (file_size_ < 8) throw Error(path + ": truncated: " + std::to_string(file_size_) +
                                    " bytes, a safetensors file has at least an 8-byte header length");
    void* m = ::mmap(nullptr, file_size_, PROT_READ, MAP_PRIVATE, fd_, 0);
    if (m == MAP_FAILED) throw Error(path + ": mmap failed (" + std::strerror(errno) + ")");
    map_ = static_cast<const uint8_t*>(m);

    uint64_t header_len = 0;
    for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | map_[i];
    if (header_len > kMaxHeaderBytes)
      throw Error(path + ": header length " + std::to_string(header_len) + " exceeds the 100 MiB limit");
    if (header_len > file_size_ - 8)
      throw Error(path + ": header length " + std::to_string(header_len) + " is larger than the file (" +
                  std::to_string(file_size_) + " bytes): truncated or not a safetensors file");
    data_start_ = 8 + header_len;
    const uint64_t data_size = file_size_ - data_start_;

    nlohmann::json header;
    try {
      header = nlohmann::json::parse(reinterpret_cast<const char*>(map_ + 8),
                                     reinterpret_cast<const char*>(map_ + data_start_));
    } catch (const nlohmann::json::exception& e) {
      throw Error(path + ": header is not valid JSON (" + e.what() + ")");
    }
    if (!header.is_object()) throw Error(path + ": header is not a JSON object");

    std::vector<std::pair<uint64_t, uint64_t>> ranges;
    for (auto it = header.begin(); it != header.end(); ++it) {
      const std::string& name = it.key();
      const auto& v = it.value();
      if (name == "__metadata__") {
        if (!v.is_object()) throw Error(path + ": __metadata__ is not an object of strings");
        for (auto m = v.begin(); m != v.end(); ++m) {
          if (!m.value().is_string())
            throw Error(path + ": __metadata__ value '" + m.key() + "' is not a string");
          metadata_[m.key()] = m.value().get<std::string>();
        }
        continue;
      }
      const std::string where = path + ": tensor " + name;
      if (!v.is_object() || !v.contains("dtype") || !v.contains("shape") || !v.contains("data_offsets"))
        throw Error(where + ": entry needs dtype, shape and data_offsets");
      if (!v["dtype"].is_string()) throw Error(where + ": dtype is not a string");
      TensorInfo info;
      info.name = name;
      try {
        info.dtype = parse_st_dtype(v["dtype"].get<std::string>());
      } catch (Error& e) {
        throw e.with_context(where);
      }
      const auto& shape = v["shape"];
      const auto& offs = v["data_offsets"];
      if (!shape.is_array() || shape.size() > 16) throw Error(where + ": shape is not an array of at most 16 sizes");
      uint64_t numel = 1;
      for (const auto& d : shape) {
        if (!d.is_number_unsigned()) throw Error(where + ": shape holds a negative or non-integer size");
        const uint64_t n = d.get<uint64_t>();
        if (n != 0 && numel > (uint64_t(1) << 62) / n) throw Error(where + ": shape is too large");
        numel *= n;
        info.shape.push_back(static_cast<int64_t>(n));
      }
      if (!offs.is_array() || offs.size() != 2 || !offs[0].is_number_unsigned() || !offs[1].is_number_unsigned())
        throw Error(where + ": data_offsets must be two non-negative integers");
      info.begin = offs[0].get<uint64_t>();
      info.end = offs[1].get<uint64_t>();
      if (info.begin > info.end || info.end > data_size)
        throw Error(where + ": data_offsets [" + std::to_string(info.begin) + ", " + std::to_string(info.end) +
                    "] are out of range of the " + std::to_string(data_size) + "-byte data buffer");
      const uint64_t expected = numel * st_dtype_size(info.dtype);
      if (info.nbytes() != expected)
        throw Error(where + ": holds " + std::to_string(info.nbytes()) + " bytes, but shape " +
                    format_shape(info.shape) + " x " + st_dtype_name(info.dtype) + " needs " +
                    std::to_string(expected));
      ranges.emplace_back(info.begin, info.end);
      tensors_.emplace(name, std::move(info));
    }
    std::sort(ranges.begin(), ranges.end());
    for (size_t i = 1; i < ranges.size(); ++i)
      if (ranges[i].first < ranges[i - 1].second)
        throw Error(path + ": two tensors overlap in the data buffer at byte " + std::to_string(ranges[i].first));
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

const TensorInfo& SafetensorsFile::info(const std::string& name) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end()) throw Error(path_ + ": tensor " + name + " is missing");
  return it->second;
}

bool SafetensorsFile::contains(const std::string& name) const { return tensors_.count(name) != 0; }

std::vector<int64_t> SafetensorsFile::shape(const std::string& name) const { return info(name).shape; }

at::Tensor SafetensorsFile::load(const std::string& name, const at::TensorOptions& options) const {
  const auto& ti = info(name);
  // Copy into an aligned CPU tensor of the file's dtype (offsets need not be
  // aligned), then convert to the requested device and dtype.
  auto host = at::empty(ti.shape, at::TensorOptions().dtype(torch_dtype(ti.dtype, path_ + ": tensor " + name)));
  if (ti.nbytes()) std::memcpy(host.data_ptr(), map_ + data_start_ + ti.begin, ti.nbytes());
  bytes_read_ += ti.nbytes();
  return host.to(options.device(), options.dtype().toScalarType());
}

std::vector<std::string> SafetensorsFile::names() const {
  std::vector<std::string> out;
  out.reserve(tensors_.size());
  for (const auto& kv : tensors_) out.push_back(kv.first);
  return out;
}

}  // namespace baton::io
