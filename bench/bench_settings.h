#pragma once
// What every `baton bench` scenario is given (docs/benchmarks.md): the device
// and dtype, how many calls to time, the image size, and the model: a preset
// with seeded random weights (the released sizes without a download) or a
// checkpoint folder in any layout io::ModelFolder reads.
#include <ATen/ATen.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/tensor_source.h"
#include "core/weight_format.h"
#include "io/model_folder.h"
#include "partition/model_configs.h"

namespace baton::bench {

struct ImageSize {
  int64_t width = 0, height = 0;
  std::string str() const { return std::to_string(width) + "x" + std::to_string(height); }
};
// "1024x768" or "1024" (square); UsageError otherwise.
ImageSize parse_image_size(const std::string& text);

struct BenchSettings {
  std::string device = "auto";  // cpu, cuda:N; auto = cuda:0 when there is one, else cpu
  std::string dtype = "auto";   // fp32, bf16, fp16; auto = bf16 on CUDA, fp32 on a CPU
  int iters = 10;               // timed calls (the median is reported)
  int warmup = 3;               // untimed calls first
  int64_t width = 1024;
  int64_t height = 1024;
  std::string preset = "newbie-exp0.1";  // used when model_dir is empty
  std::string model_dir;                 // a checkpoint folder: its configs and its weights
  uint64_t seed = 1234;                  // random weights and inputs
};

at::Device bench_device(const BenchSettings& settings);
at::ScalarType bench_dtype(const BenchSettings& settings, const at::Device& device);
// `--weights` of dit and text (docs/quantization.md): the 8-bit formats to
// run after the dense model (the reference of their errors). A dense entry
// (bf16, fp16, fp32) names the compute dtype: it sets settings.dtype when that
// is auto and must agree with it otherwise (UsageError).
std::vector<WeightFormat> eight_bit_formats(const std::vector<std::string>& weights, BenchSettings& settings);
// Throws UsageError for iters < 1, warmup < 0, or a size that is not a positive multiple of 16.
void validate_settings(const BenchSettings& settings);

// The model a scenario runs: configs and, per component, where the weights come from.
class BenchModel {
 public:
  explicit BenchModel(const BenchSettings& settings);
  // Any configs, with seeded random weights.
  BenchModel(partition::ModelConfigs configs, uint64_t seed);
  ~BenchModel();

  const partition::ModelConfigs& configs() const { return configs_; }
  bool random_weights() const { return !folder_; }
  // "newbie-exp0.1 (random weights)" or the folder and its layout.
  std::string describe() const;
  // The component's weights by canonical names: seeded random tensors of the
  // component's shapes (io::all_components order gives each its own seed), or
  // the checkpoint's (io::ModelFolder::weights).
  std::unique_ptr<TensorSource> weights(io::Component component) const;

 private:
  partition::ModelConfigs configs_;
  std::optional<io::ModelFolder> folder_;
  uint64_t seed_;
};

}  // namespace baton::bench
