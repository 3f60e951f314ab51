#pragma once
// A running pipeline, as generate, serve and batch use it: the model resolved
// (a folder or the demo), a plan made (or loaded) for the largest request it
// must take, the stages assembled per device and started, and the
// coordinator's RequestRunner over their StageNetwork.
//
// One process now: LocalStageNetwork, one thread per device. Under mpirun the
// network becomes the distributed one (coordinator/stage_network.h); callers
// only see StageNetwork and RequestRunner, so nothing above this changes.
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "coordinator/request_runner.h"
#include "partition/plan.pb.h"
#include "sampling/generation_request.h"

namespace baton::coordinator {

// How to run the model: the options generate, serve and batch share.
struct PipelineOptions {
  std::string model;                 // a model folder, or "demo"
  std::string devices = "auto";      // as `baton plan --devices`
  std::string plan_file;             // a saved plan instead of planning here
  std::string dtype;                 // weights on GPUs: bf16 (default), fp16, fp32
  std::string text_on = "auto";      // auto, cpu, or a device
  int64_t microbatch = 2;            // 2 = both CFG branches per microbatch, 1 = one
  size_t max_in_flight = 0;          // 0 = enough to keep every stage busy
};

// The largest request a pipeline is planned for (memory grows with the size).
struct PlannedSize {
  int64_t width = 0;
  int64_t height = 0;
  int64_t steps = 0;
  // The largest of `requests` (each dimension on its own).
  static PlannedSize of(const std::vector<sampling::GenerationRequest>& requests);
};

struct StageTiming {
  std::string stage;                 // "text", "dit0", "vae"
  std::string device;
  double busy_seconds = 0;
};

class Pipeline {
 public:
  // Throws UsageError for a missing model folder, Error when no plan fits.
  static std::unique_ptr<Pipeline> open(const PipelineOptions& options, const PlannedSize& size);
  virtual ~Pipeline() = default;

  virtual RequestRunner& runner() = 0;
  virtual const partition::pb::Plan& plan() const = 0;
  const PlannedSize& planned_size() const { return size_; }
  // Throws UsageError when `request` is larger than the plan was made for.
  void check_fits(const sampling::GenerationRequest& request) const;

  // Seconds each stage spent working, and the peak memory per device
  // (allocated on CUDA, the process's max RSS on the CPU).
  virtual std::vector<StageTiming> stage_timings() const = 0;
  virtual std::vector<std::pair<std::string, int64_t>> peak_bytes() const = 0;

 protected:
  explicit Pipeline(PlannedSize size) : size_(size) {}

 private:
  PlannedSize size_;
};

}  // namespace baton::coordinator
