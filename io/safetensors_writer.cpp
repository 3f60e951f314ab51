#include "io/safetensors_writer.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/float8.h"

namespace baton::io {
namespace {

// The bytes of `t` stored as `dtype` (little-endian host assumed, as libtorch does).
std::vector<uint8_t> encode(const at::Tensor& t, StDtype dtype) {
  const auto cpu = t.to(at::kCPU);
  std::vector<uint8_t> out;
  if (dtype == StDtype::F8_E4M3 || dtype == StDtype::F8_E5M2) {
    const auto f = cpu.to(at::kFloat).contiguous();
    const float* p = f.data_ptr<float>();
    out.resize(static_cast<size_t>(f.numel()));
    const auto enc = dtype == StDtype::F8_E4M3 ? float_to_float8_e4m3 : float_to_float8_e5m2;
    for (size_t i = 0; i < out.size(); ++i) out[i] = enc(p[i]);
    return out;
  }
  at::ScalarType st = at::kFloat;
  switch (dtype) {
    case StDtype::F64: st = at::kDouble; break;
    case StDtype::F32: st = at::kFloat; break;
    case StDtype::F16: st = at::kHalf; break;
    case StDtype::BF16: st = at::kBFloat16; break;
    case StDtype::I64: st = at::kLong; break;
    case StDtype::I32: st = at::kInt; break;
    case StDtype::I16: st = at::kShort; break;
    case StDtype::I8: st = at::kChar; break;
    case StDtype::U8: st = at::kByte; break;
    case StDtype::BOOL: st = at::kBool; break;  // one byte, 0 or 1
    default: break;
  }
  const auto c = cpu.to(st).contiguous();
  const size_t n = static_cast<size_t>(c.numel()) * st_dtype_size(dtype);
  out.resize(n);
  if (n) std::memcpy(out.data(), c.data_ptr(), n);
  return out;
}

}  // namespace

StDtype st_dtype_of(at::ScalarType dtype) {
  switch (dtype) {
    case at::kDouble: return StDtype::F64;
    case at::kFloat: return StDtype::F32;
    case at::kHalf: return StDtype::F16;
    case at::kBFloat16: return StDtype::BF16;
    case at::kLong: return StDtype::I64;
    case at::kInt: return StDtype::I32;
    case at::kShort: return StDtype::I16;
    case at::kChar: return StDtype::I8;
    case at::kByte: return StDtype::U8;
    case at::kBool: return StDtype::BOOL;
    default: throw Error(std::string("libtorch dtype ") + c10::toString(dtype) + " has no safetensors equivalent");
  }
}

void SafetensorsWriter::add(const std::string& name, const at::Tensor& tensor) {
  add(name, tensor, st_dtype_of(tensor.scalar_type()));
}

void SafetensorsWriter::add(const std::string& name, const at::Tensor& tensor, StDtype dtype) {
  add_lazy(name, tensor.sizes().vec(), dtype, [tensor] { return tensor; });
}

void SafetensorsWriter::add_lazy(const std::string& name, std::vector<int64_t> shape, StDtype dtype,
                                 std::function<at::Tensor()> make) {
  if (name.empty() || name == "__metadata__") throw Error("safetensors writer: '" + name + "' cannot name a tensor");
  if (!entries_.emplace(name, Entry{std::move(shape), dtype, std::move(make)}).second)
    throw Error("safetensors writer: tensor " + name + " was added twice");
}

void SafetensorsWriter::set_metadata(const std::string& key, const std::string& value) { metadata_[key] = value; }

void SafetensorsWriter::write(const std::string& path) const {
  // Reference order: larger elements first, then by name.
  std::vector<const std::pair<const std::string, Entry>*> order;
  for (const auto& kv : entries_) order.push_back(&kv);
  std::stable_sort(order.begin(), order.end(), [](auto* a, auto* b) {
    return st_dtype_size(a->second.dtype) > st_dtype_size(b->second.dtype);
  });
  nlohmann::json header = nlohmann::json::object();
  if (!metadata_.empty()) header["__metadata__"] = metadata_;
  uint64_t offset = 0;
  for (const auto* kv : order) {
    uint64_t numel = 1;
    for (auto d : kv->second.shape) numel *= static_cast<uint64_t>(d);
    const uint64_t n = numel * st_dtype_size(kv->second.dtype);
    header[kv->first] = {{"dtype", st_dtype_name(kv->second.dtype)},
                         {"shape", kv->second.shape},
                         {"data_offsets", {offset, offset + n}}};
    offset += n;
  }
  std::string text = header.dump();
  text.append((8 - (8 + text.size()) % 8) % 8, ' ');

  const std::string tmp = path + ".tmp-" + std::to_string(::getpid());
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) throw Error(path + ": cannot write (" + std::strerror(errno) + ")");
  try {
    auto put = [&](const void* data, size_t n) {
      if (n && std::fwrite(data, 1, n, f) != n) throw Error(path + ": write failed (" + std::strerror(errno) + ")");
    };
    uint8_t len[8];
    for (int i = 0; i < 8; ++i) len[i] = static_cast<uint8_t>(uint64_t(text.size()) >> (8 * i));
    put(len, 8);
    put(text.data(), text.size());
    for (const auto* kv : order) {
      const auto t = kv->second.make();
      if (t.sizes().vec() != kv->second.shape)
        throw Error(path + ": tensor " + kv->first + " has shape " + format_dims(t.sizes().vec()) + ", declared " +
                    format_dims(kv->second.shape));
      const auto bytes = encode(t, kv->second.dtype);
      put(bytes.data(), bytes.size());
    }
    if (std::fflush(f) != 0 || ::fsync(fileno(f)) != 0)
      throw Error(path + ": write failed (" + std::strerror(errno) + ")");
    std::fclose(f);
    f = nullptr;
    if (std::rename(tmp.c_str(), path.c_str()) != 0)
      throw Error(path + ": cannot move the finished file into place (" + std::strerror(errno) + ")");
  } catch (...) {
    if (f) std::fclose(f);
    std::remove(tmp.c_str());
    throw;
  }
}

}  // namespace baton::io
