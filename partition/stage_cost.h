#pragma once
// The cost of one stage on one device (weights, activations, workspace, time)
// and of a device holding several stages (context and margin once). The
// planner's search and the evaluation of a saved plan both use these, so a
// plan the planner makes always passes validation.
#include <cstdint>
#include <map>
#include <tuple>
#include <vector>

#include "partition/activation_model.h"
#include "partition/device_inventory.h"
#include "partition/device_speeds.h"
#include "partition/weight_format.h"
#include "partition/workload.h"

namespace baton::partition {

enum class StageKind { kText, kDit, kVae };

// What a stage holds (the placement part of pb::Stage).
struct StageContent {
  StageKind kind = StageKind::kDit;
  bool jina = false;
  bool gemma_embed = false;
  int gemma_begin = 0, gemma_end = 0;  // [begin, end)
  int dit_begin = 0, dit_end = 0;      // [begin, end)
  bool prologue = false;
  bool final = false;
  models::VaeTiling vae_tiling = models::VaeTiling::whole();  // or tiles, in latent pixels
  bool time_shared = false;            // text stage loaded only while prompts are encoded
};

// A device as the cost model sees it: budget, formats and speed.
struct DeviceProfile {
  InventoryDevice device;
  WeightFormat format = WeightFormat::kBf16;  // text and DiT weights on this device
  AttentionKind attention = AttentionKind::kFlash;
  DeviceSpeed speed;
};
DeviceProfile make_profile(const InventoryDevice& device, WeightFormat gpu_format, WeightFormat cpu_format,
                           AttentionKind gpu_attention, const DeviceSpeeds& speeds);

struct StageCost {
  WeightFormat format = WeightFormat::kBf16;
  int64_t weights = 0;
  int64_t activations = 0;
  int64_t workspace = 0;
  double gflop_per_image = 0;
  double ms_per_image = 0;
  double ms_per_step = 0;       // DiT: per denoising step of one image
  int64_t boundary_bytes = 0;   // sent on per microbatch
  bool time_shared = false;
};

struct DeviceCost {
  int64_t weights = 0, activations = 0, workspace = 0, context = 0, margin = 0, total = 0;
  double ms_per_image = 0;      // time-shared stages excluded (they run in their own phase)
  double time_shared_ms = 0;    // encode time of time-shared stages per image
};

// Library workspace (cuBLAS/cuBLASLt) per GPU process, and the share of the
// activations the caching allocator loses to rounding and fragmentation.
constexpr int64_t kGpuLibraryWorkspace = 64LL << 20;
constexpr double kFragmentation = 0.10;
// Margin per device: 5 % of its estimate, at least 256 MiB.
constexpr double kMarginFraction = 0.05;
constexpr int64_t kMinMargin = 256LL << 20;

class CostModel {
 public:
  CostModel(ModelConfigs model, Workload workload);
  const ModelConfigs& model() const { return model_; }
  const Workload& workload() const { return workload_; }

  // VAE weights stay dense in the compute dtype under 8-bit formats (bf16 on
  // GPUs, fp32 on CPUs) and run in fp32 for fp16 (FLUX's VAE overflows in
  // fp16: force_upcast).
  static WeightFormat component_format(StageKind kind, WeightFormat device_format, bool cpu = false);

  StageCost stage_cost(const StageContent& content, const DeviceProfile& device) const;
  // Weights add up, activations and workspace are the largest of the stages
  // (one thread per device runs them in turn), context and margin are counted
  // once. With time-shared stages the device holds either phase: the larger counts.
  DeviceCost device_cost(const StageCost* costs, size_t n, const DeviceProfile& device) const;

  // Activation detail of a stage (for --explain-stage).
  MemoryBreakdown activation_detail(const StageContent& content, const DeviceProfile& device) const;

  // Library workspace and allocator rounding for a stage with `activations`.
  static int64_t workspace_bytes(int64_t activations, const DeviceProfile& device);
  // The most activation bytes stage `costs[index]` may use with the device
  // still within its budget (the others as they are); -1 when nothing fits.
  // What models::choose_vae_tile is given to pick the VAE's tiles.
  int64_t activation_room(std::vector<StageCost> costs, size_t index, const DeviceProfile& device) const;

  // Parameters of the pieces.
  ParamCount dit_block_params() const { return dit_block_; }
  ParamCount dit_prologue_params() const { return dit_prologue_; }  // embedders and refiners
  ParamCount dit_refiner_params() const { return dit_refiners_; }
  ParamCount dit_final_params() const { return dit_final_; }
  ParamCount gemma_layer_params() const { return gemma_layer_; }
  ParamCount gemma_embed_params() const { return gemma_embed_; }
  ParamCount jina_params() const { return jina_; }
  ParamCount vae_params() const { return vae_; }

 private:
  int64_t activation_bytes(const StageContent& c, const DeviceProfile& d) const;

  ModelConfigs model_;
  Workload workload_;
  Geometry geometry_;
  ParamCount dit_block_, dit_prologue_, dit_refiners_, dit_final_, gemma_layer_, gemma_embed_, jina_, vae_;
  double gflop_block_ = 0, gflop_prologue_ = 0, gflop_final_ = 0, gflop_gemma_layer_ = 0, gflop_jina_ = 0;
  // (kind, e, attention, flags, VAE tile_h, tile_w, overlap) -> bytes
  mutable std::map<std::tuple<int, int64_t, int, int, int64_t, int64_t, int64_t>, int64_t> activation_memo_;
};

}  // namespace baton::partition
