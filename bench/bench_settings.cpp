#include "bench/bench_settings.h"

#include "core/device_memory.h"
#include "core/dtype.h"
#include "core/error.h"
#include "core/random_tensor_source.h"
#include "core/torch_compat.h"

namespace baton::bench {

ImageSize parse_image_size(const std::string& text) {
  ImageSize size;
  const auto x = text.find('x');
  try {
    size_t used = 0;
    size.width = std::stoll(text.substr(0, x), &used);
    if (used != (x == std::string::npos ? text.size() : x)) throw std::invalid_argument(text);
    size.height = x == std::string::npos ? size.width : std::stoll(text.substr(x + 1), &used);
    if (x != std::string::npos && used != text.size() - x - 1) throw std::invalid_argument(text);
  } catch (const std::exception&) {
    throw UsageError("image size '" + text + "' is not WIDTHxHEIGHT", "e.g. 1024x1024, 832x1216, or 512 for 512x512");
  }
  if (size.width <= 0 || size.height <= 0 || size.width % 16 || size.height % 16)
    throw UsageError("image size " + text + " cannot be benchmarked", "width and height must be positive multiples of 16");
  return size;
}

at::Device bench_device(const BenchSettings& s) {
  const std::string name = s.device == "auto" ? (cuda_device_count() > 0 ? "cuda:0" : "cpu") : s.device;
  try {
    const at::Device device(name);
    if (device.is_cuda() && !device.has_index()) return at::Device(at::kCUDA, 0);
    if (device.is_cpu() || device.is_cuda()) return device;
  } catch (const std::exception&) {
  }
  throw UsageError("--device '" + name + "' is not a device baton benchmarks", "use cpu or cuda:N");
}

at::ScalarType bench_dtype(const BenchSettings& s, const at::Device& device) {
  const auto dtype = parse_dtype(s.dtype == "auto" ? (device.is_cuda() ? "bf16" : "fp32") : s.dtype);
  if (!compat::supports_compute_dtype(device, dtype))
    throw UsageError("--dtype " + dtype_name(dtype) + " cannot compute on " + device.str() + " with libtorch " +
                         compat::torch_version(),
                     "use fp32 or bf16 on the CPU; bf16 or fp16 on CUDA");
  return dtype;
}

std::vector<WeightFormat> eight_bit_formats(const std::vector<std::string>& weights, BenchSettings& s) {
  std::vector<WeightFormat> out;
  for (const auto& w : weights) {
    const auto f = parse_weight_format(w);
    if (is_8bit(f)) {
      out.push_back(f);
    } else if (s.dtype == "auto") {
      s.dtype = w;
    } else if (parse_dtype(s.dtype) != parse_dtype(w)) {
      throw UsageError("--weights " + w + " with --dtype " + s.dtype,
                       "dense weights are in the compute dtype: give it once, e.g. --dtype bf16 --weights int8,fp8");
    }
  }
  return out;
}

void validate_settings(const BenchSettings& s) {
  if (s.iters < 1 || s.warmup < 0) throw UsageError("--iters must be at least 1 and --warmup at least 0");
  if (s.width <= 0 || s.height <= 0 || s.width % 16 || s.height % 16)
    throw UsageError("image size " + std::to_string(s.width) + "x" + std::to_string(s.height) + " cannot be benchmarked",
                     "--width and --height must be positive multiples of 16");
}

BenchModel::BenchModel(const BenchSettings& s) : seed_(s.seed) {
  if (s.model_dir.empty()) {
    configs_ = partition::model_from_preset(s.preset);
  } else {
    folder_.emplace(s.model_dir);
    configs_ = partition::model_from_folder(*folder_);
  }
}

BenchModel::BenchModel(partition::ModelConfigs configs, uint64_t seed) : configs_(std::move(configs)), seed_(seed) {}

BenchModel::~BenchModel() = default;

std::string BenchModel::describe() const {
  if (!folder_) return (configs_.preset.empty() ? std::string("custom configs") : configs_.preset) + " (random weights)";
  return folder_->path() + " (" + io::layout_name(folder_->layout()) + " layout)";
}

std::unique_ptr<TensorSource> BenchModel::weights(io::Component c) const {
  if (folder_) return folder_->weights(c);
  const uint64_t seed = seed_ + 1000 * static_cast<uint64_t>(c);
  const std::string label = std::string("random ") + io::component_name(c) + " weights";
  switch (c) {
    case io::Component::Transformer:
      return std::make_unique<RandomTensorSource>(models::nextdit_tensor_shapes(configs_.dit), seed, 1.0, label);
    case io::Component::TextEncoder:  // Gemma norms are offsets around 0: y = x (1 + w)
      return std::make_unique<RandomTensorSource>(models::gemma3_tensor_shapes(configs_.gemma), seed, 0.0, label);
    case io::Component::Clip:
      return std::make_unique<RandomTensorSource>(models::jina_tensor_shapes(configs_.jina), seed, 1.0, label);
    case io::Component::Vae:
      return std::make_unique<RandomTensorSource>(models::vae_decoder_tensor_shapes(configs_.vae), seed, 1.0, label);
  }
  throw Error("unknown model component");
}

}  // namespace baton::bench
