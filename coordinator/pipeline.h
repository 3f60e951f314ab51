#pragma once
// A running pipeline, as generate, serve and batch use it: the model resolved
// (a folder or the demo), a plan made (or loaded) for the largest request it
// must take, the stages assembled per device and started, and the
// coordinator's RequestRunner over their StageNetwork.
//
// One process: LocalStageNetwork, one thread per device. Under mpirun:
// RankStageNetwork, one device per rank (docs/distributed.md); rank 0 holds
// the Pipeline and runs the requests, every other rank hosts its stages inside
// open() until rank 0 closes. Callers only see RequestRunner either way.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "coordinator/request_runner.h"
#include "partition/device_inventory.h"
#include "partition/model_configs.h"
#include "partition/plan.pb.h"
#include "sampling/generation_request.h"

namespace baton::coordinator {

// How to run the model: the options generate, serve and batch share.
struct PipelineOptions {
  std::string model;                 // a model folder, "demo" or "random" (stage_model.h)
  std::string devices = "auto";      // as `baton plan --devices`
  std::string plan_file;             // a saved plan instead of planning here
  std::string dtype;                 // weights on GPUs: bf16 (default), fp16, fp32; int8, fp8 on every device
  std::string text_on = "auto";      // auto, cpu, or a device
  int64_t microbatch = 2;            // 2 = both CFG branches per microbatch, 1 = one
  size_t max_in_flight = 0;          // 0 = enough to keep every stage busy
  std::string trace_file;            // JSON lines: start and end of every message each stage handled
  bool cuda_graphs = false;          // DiT stages on CUDA replay their blocks from CUDA graphs
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
  // `prepare` runs first, once (on rank 0 under mpirun: making output
  // folders); what it throws ends every rank cleanly.
  //
  // Under mpirun this is collective. Rank 0 gets the pipeline; every other
  // rank hosts its stages until rank 0 closes it, then gets nullptr (and
  // nothing to print: rank 0 speaks for the job). Before the stages run, a
  // mistake on any rank makes rank 0 throw it and the others return nullptr;
  // once they run, a lost rank ends the whole job (MPI abort) with an error
  // naming the rank and its stages.
  static std::unique_ptr<Pipeline> open(const PipelineOptions& options, const PlannedSize& size,
                                        const std::function<void()>& prepare = {});
  // Closes the pipeline if close() was not called.
  virtual ~Pipeline() = default;

  virtual RequestRunner& runner() = 0;
  virtual const partition::pb::Plan& plan() const = 0;
  const PlannedSize& planned_size() const { return size_; }
  // Throws UsageError when `request` is larger than the plan was made for.
  void check_fits(const sampling::GenerationRequest& request) const;

  // Ends the stages (under mpirun: every rank's, which then return from
  // open) and gathers their timings. Idempotent.
  virtual void close() {}

  // Seconds each stage spent working, and the peak memory per device
  // (allocated on CUDA, the process's max RSS on the CPU); under mpirun every
  // rank's, once closed.
  virtual std::vector<StageTiming> stage_timings() const = 0;
  virtual std::vector<std::pair<std::string, int64_t>> peak_bytes() const = 0;

 protected:
  explicit Pipeline(PlannedSize size) : size_(size) {}

 private:
  PlannedSize size_;
};

// The plan a pipeline runs: made for `size` over `devices` (as `baton plan`
// does), or options.plan_file checked against the model.
partition::pb::Plan make_pipeline_plan(const PipelineOptions& options, const PlannedSize& size,
                                       const partition::ModelConfigs& model, const partition::DeviceInventory& devices);

// This process's peak on a plan device ("cuda:0", "r2/cuda:0", "cpu"):
// allocated bytes on CUDA, the process's max RSS on the CPU.
int64_t peak_memory_bytes(const std::string& device);

}  // namespace baton::coordinator
