#include "partition/stage_cost.h"

#include <algorithm>

#include "models/vae/vae_memory.h"
#include "partition/flop_model.h"

namespace baton::partition {

DeviceProfile make_profile(const InventoryDevice& device, WeightFormat gpu_format, WeightFormat cpu_format,
                           AttentionKind gpu_attention, const DeviceSpeeds& speeds) {
  DeviceProfile p;
  p.device = device;
  const bool cpu = device.kind == DeviceKind::kCpu;
  p.format = cpu ? cpu_format : gpu_format;
  p.attention = cpu ? AttentionKind::kMath : gpu_attention;
  p.speed = speeds.speed(device, p.format);
  return p;
}

CostModel::CostModel(ModelConfigs model, Workload workload)
    : model_(std::move(model)), workload_(workload), geometry_(geometry(workload_, model_)) {
  const auto& c = model_.dit;
  dit_block_ = count_params(models::nextdit_block_shapes(c, "layers.0.", true));
  ParamCount all = count_params(models::nextdit_tensor_shapes(c));
  models::TensorShapes final_shapes;
  for (const auto& kv : models::nextdit_tensor_shapes(c))
    if (kv.first.rfind("final_layer.", 0) == 0) final_shapes.insert(kv);
  dit_final_ = count_params(final_shapes);
  const ParamCount norm_final{0, 0, c.dim};  // in the checkpoint, never loaded
  dit_prologue_ = all - dit_final_ - norm_final - dit_block_ * c.n_layers;
  models::TensorShapes refiner_shapes;
  for (const auto& kv : models::nextdit_tensor_shapes(c))
    if (kv.first.rfind("noise_refiner.", 0) == 0 || kv.first.rfind("context_refiner.", 0) == 0)
      refiner_shapes.insert(kv);
  dit_refiners_ = count_params(refiner_shapes);

  auto gemma_one = model_.gemma;
  gemma_one.num_hidden_layers = 2;  // used_layers() = 1: the embedding and one layer
  gemma_one.global_layers.assign(2, false);
  const ParamCount embed_and_layer = count_params(models::gemma3_tensor_shapes(gemma_one));
  models::TensorShapes embed{{"embed_tokens.weight", {model_.gemma.vocab_size, model_.gemma.hidden_size}}};
  gemma_embed_ = count_params(embed);
  gemma_layer_ = embed_and_layer - gemma_embed_;
  jina_ = count_params(models::jina_tensor_shapes(model_.jina));
  vae_ = count_params(models::vae_decoder_tensor_shapes(model_.vae));

  const auto f = dit_flops_per_image(model_, workload_);
  gflop_block_ = f.block / 1e9;
  gflop_prologue_ = f.prologue / 1e9;
  gflop_final_ = f.final / 1e9;
  gflop_gemma_layer_ = gemma_layer_flops_per_image(model_, workload_) / 1e9;
  gflop_jina_ = jina_flops_per_image(model_, workload_) / 1e9;
}

WeightFormat CostModel::component_format(StageKind kind, WeightFormat f, bool cpu) {
  if (kind != StageKind::kVae) return f;
  if (is_8bit(f)) return compute_format(f, cpu);
  if (f == WeightFormat::kFp16) return WeightFormat::kFp32;
  return f;
}

namespace {
bool on_cpu(const DeviceProfile& d) { return d.device.kind == DeviceKind::kCpu; }
}  // namespace

MemoryBreakdown CostModel::activation_detail(const StageContent& c, const DeviceProfile& d) const {
  const auto format = component_format(c.kind, d.format, on_cpu(d));
  const int64_t e = compute_dtype_bytes(format, on_cpu(d));
  switch (c.kind) {
    case StageKind::kText:
      return text_activations(model_, workload_, e, d.attention, c.jina, c.gemma_embed, c.gemma_end > c.gemma_begin);
    case StageKind::kDit:
      return dit_activations(model_, workload_, e, d.attention, d.device.kind == DeviceKind::kCpu, c.prologue,
                             c.final);
    case StageKind::kVae:
      return vae_activations(model_.vae, workload_.width, workload_.height, e, d.device.kind == DeviceKind::kCpu,
                             c.vae_tiling);
  }
  return {};
}

int64_t CostModel::activation_bytes(const StageContent& c, const DeviceProfile& d) const {
  const int64_t e = compute_dtype_bytes(component_format(c.kind, d.format, on_cpu(d)), on_cpu(d));
  int flags = 0;
  if (c.kind == StageKind::kText) flags = (c.jina ? 1 : 0) | (c.gemma_embed ? 2 : 0) | (c.gemma_end > c.gemma_begin ? 4 : 0);
  if (c.kind == StageKind::kDit) flags = (c.prologue ? 1 : 0) | (c.final ? 2 : 0);
  const bool vae = c.kind == StageKind::kVae;
  // Estimates depend on the device type (how norms and convolutions run) and the attention kind.
  const int device_key = 2 * static_cast<int>(d.device.kind) + static_cast<int>(d.attention);
  const auto key = std::make_tuple(static_cast<int>(c.kind), e, device_key, flags, vae ? c.vae_tiling.tile_h : 0,
                                   vae ? c.vae_tiling.tile_w : 0, vae ? c.vae_tiling.overlap : 0);
  auto it = activation_memo_.find(key);
  if (it != activation_memo_.end()) return it->second;
  const int64_t bytes = activation_detail(c, d).total;
  activation_memo_.emplace(key, bytes);
  return bytes;
}

StageCost CostModel::stage_cost(const StageContent& c, const DeviceProfile& d) const {
  StageCost s;
  const bool cpu = on_cpu(d);
  s.format = component_format(c.kind, d.format, cpu);
  s.time_shared = c.time_shared;
  const int64_t e = compute_dtype_bytes(s.format, cpu);
  // `params` are stored in s.format; `dense` always in the compute dtype: 8-bit
  // formats cover Gemma and the DiT's blocks and refiners (docs/quantization.md),
  // not Jina, the DiT's embedders or its final layer.
  ParamCount params, dense;
  double gflop = 0;
  switch (c.kind) {
    case StageKind::kText: {
      const int layers = std::max(0, c.gemma_end - c.gemma_begin);
      params = gemma_layer_ * layers;
      gflop = gflop_gemma_layer_ * layers;
      if (c.gemma_embed) params += gemma_embed_;
      if (c.jina) {
        dense += jina_;
        gflop += gflop_jina_;
      }
      s.boundary_bytes = e * Workload::kPromptsPerRequest * workload_.caption_tokens * model_.gemma.hidden_size;
      break;
    }
    case StageKind::kDit: {
      const int blocks = std::max(0, c.dit_end - c.dit_begin);
      params = dit_block_ * blocks;
      gflop = gflop_block_ * blocks;
      if (c.prologue) {
        params += dit_refiners_;
        dense += dit_prologue_ - dit_refiners_;
        gflop += gflop_prologue_;
      }
      if (c.final) {
        dense += dit_final_;
        gflop += gflop_final_;
      }
      s.boundary_bytes = c.final ? 4 * workload_.microbatch_samples * model_.dit.in_channels * geometry_.latent_h *
                                       geometry_.latent_w
                                 : e * workload_.microbatch_samples * geometry_.joint_tokens * model_.dit.dim;
      break;
    }
    case StageKind::kVae:
      params = vae_;
      gflop = vae_flops_per_image(model_.vae, workload_.width, workload_.height, c.vae_tiling) / 1e9;
      s.boundary_bytes = 3 * workload_.width * workload_.height;
      break;
  }
  // The VAE as VaeDecoder loads it (GroupNorm parameters in float32).
  s.weights = c.kind == StageKind::kVae
                  ? models::vae_decoder_weight_bytes(model_.vae, e >= 4 ? at::kFloat : at::kBFloat16)
                  : weight_bytes(params, s.format, cpu) + weight_bytes(dense, compute_format(s.format, cpu), cpu);
  s.activations = activation_bytes(c, d);
  s.workspace = workspace_bytes(s.activations, d);
  s.gflop_per_image = gflop;
  s.ms_per_image = d.speed.tflops > 0 ? gflop / d.speed.tflops : 0;  // GFLOP / (TFLOP/s) = ms
  if (c.kind == StageKind::kDit) s.ms_per_step = s.ms_per_image / static_cast<double>(workload_.steps);
  return s;
}

int64_t CostModel::workspace_bytes(int64_t activations, const DeviceProfile& d) {
  return static_cast<int64_t>(kFragmentation * static_cast<double>(activations)) +
         (d.device.kind == DeviceKind::kCuda ? kGpuLibraryWorkspace : 0);
}

int64_t CostModel::activation_room(std::vector<StageCost> costs, size_t index, const DeviceProfile& d) const {
  auto fits = [&](int64_t activations) {
    costs[index].activations = activations;
    costs[index].workspace = workspace_bytes(activations, d);
    return device_cost(costs.data(), costs.size(), d).total <= d.device.budget;
  };
  if (!fits(0)) return -1;
  // The device total grows with the stage's activations: bisect for the largest that fits.
  int64_t lo = 0, hi = d.device.budget;
  while (lo < hi) {
    const int64_t mid = lo + (hi - lo + 1) / 2;
    if (fits(mid)) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

DeviceCost CostModel::device_cost(const StageCost* costs, size_t n, const DeviceProfile& d) const {
  // Phase 0: everything resident; phase 1: time-shared text stages.
  DeviceCost phase[2];
  bool has_shared = false;
  for (size_t i = 0; i < n; ++i) {
    auto& p = phase[costs[i].time_shared ? 1 : 0];
    has_shared = has_shared || costs[i].time_shared;
    p.weights += costs[i].weights;
    p.activations = std::max(p.activations, costs[i].activations);
    p.workspace = std::max(p.workspace, costs[i].workspace);
    p.ms_per_image += costs[i].ms_per_image;
  }
  auto finish = [&](DeviceCost& p) {
    p.context = d.speed.context_bytes;
    const int64_t used = p.weights + p.activations + p.workspace + p.context;
    p.margin = std::max(kMinMargin, static_cast<int64_t>(kMarginFraction * static_cast<double>(used)));
    p.total = used + p.margin;
  };
  finish(phase[0]);
  if (!has_shared) return phase[0];
  finish(phase[1]);
  DeviceCost out = phase[1].total > phase[0].total ? phase[1] : phase[0];
  out.ms_per_image = phase[0].ms_per_image;
  out.time_shared_ms = phase[1].ms_per_image;
  return out;
}

}  // namespace baton::partition
