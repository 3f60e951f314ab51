#include "io/safetensors_header.h"

#include <algorithm>
#include <tuple>

#include "core/error.h"
#include "io/json_document.h"

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

constexpr const char* kTruncatedHint = "the file may be truncated (an interrupted download or copy): fetch it again";

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

const std::vector<StDtype>& all_st_dtypes() {
  static const std::vector<StDtype> all = [] {
    std::vector<StDtype> v;
    for (const auto& e : kDtypes) v.push_back(e.dtype);
    return v;
  }();
  return all;
}

uint64_t TensorInfo::numel() const {
  uint64_t n = 1;
  for (auto d : shape) n *= static_cast<uint64_t>(d);
  return n;
}

std::string format_dims(const std::vector<int64_t>& shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + "]";
}

SafetensorsHeader parse_safetensors_header(const uint8_t* file, uint64_t file_size, const std::string& path) {
  if (file_size < 8)
    throw Error(path + ": truncated: " + std::to_string(file_size) +
                    " bytes, a safetensors file starts with an 8-byte header length",
                kTruncatedHint);
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | file[i];
  if (header_len > kMaxSafetensorsHeaderBytes)
    throw Error(path + ": header length " + std::to_string(header_len) + " exceeds the 100 MiB limit",
                "this is not a safetensors file, or its first 8 bytes are damaged");
  if (header_len > file_size - 8)
    throw Error(path + ": header length " + std::to_string(header_len) + " is larger than the file (" +
                    std::to_string(file_size) + " bytes): truncated or not a safetensors file",
                kTruncatedHint);
  SafetensorsHeader h;
  h.data_start = 8 + header_len;
  h.data_size = file_size - h.data_start;

  const auto header = parse_json_strict(reinterpret_cast<const char*>(file + 8),
                                        reinterpret_cast<const char*>(file + h.data_start), path + ": header");
  if (!header.is_object())
    throw Error(path + ": header is not a JSON object of tensors (found " + header.type_name() + ")");

  std::vector<std::tuple<uint64_t, uint64_t, std::string>> ranges;
  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    const auto& v = it.value();
    if (name == "__metadata__") {
      if (!v.is_object()) throw Error(path + ": __metadata__ is not an object of strings");
      for (auto m = v.begin(); m != v.end(); ++m) {
        if (!m.value().is_string()) throw Error(path + ": __metadata__ value '" + m.key() + "' is not a string");
        h.metadata[m.key()] = m.value().get<std::string>();
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
      if (!d.is_number_unsigned()) throw Error(where + ": shape " + shape.dump() + " holds a negative or non-integer size");
      const uint64_t n = d.get<uint64_t>();
      if (n != 0 && numel > (uint64_t(1) << 56) / n) throw Error(where + ": shape " + shape.dump() + " is too large");
      numel *= n;
      info.shape.push_back(static_cast<int64_t>(n));
    }
    if (!offs.is_array() || offs.size() != 2 || !offs[0].is_number_unsigned() || !offs[1].is_number_unsigned())
      throw Error(where + ": data_offsets must be two non-negative integers, found " +
                  (offs.is_array() && offs.size() <= 4 ? offs.dump() : std::string(offs.type_name())));
    info.begin = offs[0].get<uint64_t>();
    info.end = offs[1].get<uint64_t>();
    if (info.begin > info.end || info.end > h.data_size)
      throw Error(where + ": data_offsets [" + std::to_string(info.begin) + ", " + std::to_string(info.end) +
                      "] are out of range of the " + std::to_string(h.data_size) + "-byte data buffer",
                  info.begin <= info.end ? kTruncatedHint : "");
    const uint64_t expected = numel * st_dtype_size(info.dtype);
    if (info.nbytes() != expected)
      throw Error(where + ": holds " + std::to_string(info.nbytes()) + " bytes, but shape " + format_dims(info.shape) +
                  " x " + st_dtype_name(info.dtype) + " needs " + std::to_string(expected));
    if (info.nbytes()) ranges.emplace_back(info.begin, info.end, name);
    h.tensors.emplace(name, std::move(info));
  }
  std::sort(ranges.begin(), ranges.end());
  for (size_t i = 1; i < ranges.size(); ++i)
    if (std::get<0>(ranges[i]) < std::get<1>(ranges[i - 1]))
      throw Error(path + ": tensors " + std::get<2>(ranges[i - 1]) + " and " + std::get<2>(ranges[i]) +
                  " overlap in the data buffer (bytes " + std::to_string(std::get<0>(ranges[i])) + " to " +
                  std::to_string(std::min(std::get<1>(ranges[i]), std::get<1>(ranges[i - 1]))) +
                  "); each tensor needs its own bytes");
  return h;
}

}  // namespace baton::io
