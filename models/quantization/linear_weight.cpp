#include "models/quantization/linear_weight.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <array>

#include "core/error.h"
#include "core/float8.h"
#include "core/torch_compat.h"

namespace baton::models {
namespace {

WeightFormat dense_format(at::ScalarType dtype) {
  if (dtype == at::kBFloat16) return WeightFormat::kBf16;
  if (dtype == at::kHalf) return WeightFormat::kFp16;
  return WeightFormat::kFp32;
}

const std::array<float, 256>& e4m3_values() {
  static const auto table = [] {
    std::array<float, 256> t{};
    for (int b = 0; b < 256; ++b) t[b] = float8_e4m3_to_float(static_cast<uint8_t>(b));
    return t;
  }();
  return table;
}

// out[r, c] = value(codes[r, c]) * scale[r], rounded once to T: one pass over
// the codes (int8 converts directly; e4m3 through its 256-entry table).
template <typename T>
void dequantize_cpu(WeightFormat format, const at::Tensor& codes, const at::Tensor& scale, at::Tensor& out) {
  const int64_t rows = codes.size(0), cols = codes.size(1);
  const auto* c = static_cast<const uint8_t*>(codes.data_ptr());
  const float* s = scale.data_ptr<float>();
  T* o = out.data_ptr<T>();
  const bool int8 = format == WeightFormat::kInt8;
  const auto& table = e4m3_values();
  at::parallel_for(0, rows, std::max<int64_t>(1, (int64_t{1} << 16) / std::max<int64_t>(cols, 1)),
                   [&](int64_t begin, int64_t end) {
                     for (int64_t r = begin; r < end; ++r) {
                       const uint8_t* cr = c + r * cols;
                       T* orow = o + r * cols;
                       const float sr = s[r];
                       if (int8) {
                         for (int64_t j = 0; j < cols; ++j)
                           orow[j] = static_cast<T>(static_cast<float>(static_cast<int8_t>(cr[j])) * sr);
                       } else {
                         for (int64_t j = 0; j < cols; ++j) orow[j] = static_cast<T>(table[cr[j]] * sr);
                       }
                     }
                   });
}

}  // namespace

LinearWeight::LinearWeight(at::Tensor dense) : format_(dense_format(dense.scalar_type())), data_(std::move(dense)) {}

LinearWeight::LinearWeight(WeightFormat format, at::Tensor codes, at::Tensor scale)
    : format_(format), data_(std::move(codes)), scale_(std::move(scale)) {}

LinearWeight LinearWeight::quantize(const at::Tensor& dense, WeightFormat format, const at::TensorOptions& options) {
  if (!is_8bit(format)) return LinearWeight(dense.to(options));
  require(dense.dim() == 2, "a weight to quantise must be a matrix [out, in], got " + format_shape(dense.sizes().vec()));
  const auto w = dense.to(at::kCPU, at::kFloat).contiguous();
  const int64_t rows = w.size(0), cols = w.size(1);
  const bool int8 = format == WeightFormat::kInt8;
  const double qmax = int8 ? 127.0 : 448.0;
  auto codes = at::empty({rows, cols}, at::TensorOptions().dtype(int8 ? at::kChar : at::kByte));
  auto scale = at::empty({rows}, at::TensorOptions().dtype(at::kFloat));
  // In blocks of rows, so the float32 temporaries stay small whatever the matrix.
  const int64_t block = std::max<int64_t>(1, (int64_t{1} << 22) / std::max<int64_t>(cols, 1));
  for (int64_t r0 = 0; r0 < rows; r0 += block) {
    const int64_t n = std::min(block, rows - r0);
    const auto part = w.narrow(0, r0, n);
    const auto absmax = at::amax(part.abs(), {1});
    require(at::isfinite(absmax).all().item<bool>(), "the weight has non-finite values (inf or NaN)",
            "the checkpoint is damaged; 8-bit formats need finite weights");
    auto s = absmax / qmax;
    s.masked_fill_(absmax == 0, 1.0);  // an all-zero row: any scale, codes 0
    auto scaled = part / s.unsqueeze(1);
    if (int8)
      codes.narrow(0, r0, n).copy_(scaled.round_().clamp_(-127, 127));
    else
      codes.narrow(0, r0, n).copy_(float8_e4m3_encode(scaled));
    scale.narrow(0, r0, n).copy_(s);
  }
  return LinearWeight(format, codes.to(options.device()), scale.to(options.device()));
}

LinearWeight LinearWeight::load(const TensorSource& source, const std::vector<Part>& parts,
                                const at::TensorOptions& options, WeightFormat format) {
  require(!parts.empty(), "LinearWeight::load needs at least one tensor");
  if (!is_8bit(format)) {
    if (parts.size() == 1) return LinearWeight(source.load_checked(parts[0].first, parts[0].second, options));
    std::vector<at::Tensor> dense;
    for (const auto& p : parts) dense.push_back(source.load_checked(p.first, p.second, options));
    return LinearWeight(at::cat(dense));
  }
  // Part by part on the CPU: only one dense float32 part exists at a time.
  const auto cpu = at::TensorOptions().dtype(at::kFloat);
  std::vector<at::Tensor> codes, scales;
  for (const auto& p : parts) {
    const auto dense = source.load_checked(p.first, p.second, cpu);
    try {
      auto q = quantize(dense, format, cpu);
      codes.push_back(q.data_);
      scales.push_back(q.scale_);
    } catch (Error& e) {
      throw e.with_context("quantising " + p.first + " to " + weight_format_name(format));
    }
  }
  const auto device = options.device();
  if (parts.size() == 1) return LinearWeight(format, codes[0].to(device), scales[0].to(device));
  return LinearWeight(format, at::cat(codes).to(device), at::cat(scales).to(device));
}

at::Tensor LinearWeight::apply(const at::Tensor& x, const at::Tensor& bias) const {
  if (!quantized()) return at::linear(x, data_, bias);
  if (format_ == WeightFormat::kFp8 && x.is_cuda()) {
    auto y = compat::fp8_linear(x, data_, scale_);
    if (y.defined()) return bias.defined() ? y.add_(bias) : y;
  }
  return at::linear(x, dequantize(x.scalar_type()), bias);
}

at::Tensor LinearWeight::dequantize(at::ScalarType dtype) const {
  if (!quantized()) return data_.to(dtype);
  if (data_.device().is_cpu()) {
    const auto codes = data_.contiguous();
    const auto scale = scale_.contiguous();
    auto out = at::empty(codes.sizes(), codes.options().dtype(dtype));
    switch (dtype) {
      case at::kFloat: dequantize_cpu<float>(format_, codes, scale, out); break;
      case at::kBFloat16: dequantize_cpu<at::BFloat16>(format_, codes, scale, out); break;
      case at::kHalf: dequantize_cpu<at::Half>(format_, codes, scale, out); break;
      default:
        throw Error("8-bit weights cannot be dequantised to " + std::string(c10::toString(dtype)),
                    "compute in fp32, bf16 or fp16");
    }
    return out;
  }
  const auto scale = scale_.unsqueeze(1);
  if (format_ == WeightFormat::kInt8) {
    // One kernel on CUDA: int8 and the float32 scale in, the compute dtype out.
    auto out = at::empty(data_.sizes(), data_.options().dtype(dtype));
    return at::mul_out(out, data_, scale);
  }
  auto w = compat::decode_float8_e4m3(data_, dtype);
  if (!w.defined()) {  // libtorch without a float8 dtype: the table on the device
    const auto& t = e4m3_values();
    const auto table = at::tensor(std::vector<float>(t.begin(), t.end())).to(data_.device(), dtype);
    w = table.index_select(0, data_.reshape({-1}).to(at::kLong)).view(data_.sizes());
  }
  return w.mul_(scale);
}

at::Tensor LinearWeight::rows_at(const at::Tensor& ids, at::ScalarType dtype) const {
  if (!quantized()) return at::embedding(data_, ids);
  const auto flat = ids.reshape({-1});
  auto sizes = ids.sizes().vec();
  sizes.push_back(in_features());
  return LinearWeight(format_, data_.index_select(0, flat), scale_.index_select(0, flat)).dequantize(dtype).view(sizes);
}

LinearWeight LinearWeight::narrow_rows(int64_t begin, int64_t count) const {
  if (!quantized()) return LinearWeight(data_.narrow(0, begin, count));
  return LinearWeight(format_, data_.narrow(0, begin, count), scale_.narrow(0, begin, count));
}

int64_t LinearWeight::bytes() const {
  int64_t n = data_.defined() ? static_cast<int64_t>(data_.numel() * data_.element_size()) : 0;
  if (scale_.defined()) n += static_cast<int64_t>(scale_.numel() * scale_.element_size());
  return n;
}

}  // namespace baton::models
