#pragma once
// What `baton bench image` and `baton bench throughput` share: the generate
// pipeline itself (coordinator::Pipeline::open: one process with a thread per
// device, or every rank under mpirun), opened for the benchmark's request;
// requests queued through its RequestRunner and timed on the coordinator's
// clock (submit to the last PNG); and, once closed, each stage's busy seconds
// and each device's peak memory (every rank's under mpirun).
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "bench/bench_report.h"
#include "coordinator/pipeline.h"
#include "sampling/generation_request.h"

namespace baton::bench {

struct PipelineBenchSettings {
  coordinator::PipelineOptions pipeline;  // model: "random" (released sizes, seeded random weights), "demo" or a folder
  sampling::GenerationRequest request;    // prompt (image N adds ", picture N"), size, steps, guidance; seed of the first image (the next +1, ...)
  int warmup = 1;                         // images run first, one at a time, not timed
  int iters = 3;                          // image: timed images, one at a time
  int prompts = 8;                        // throughput: prompts queued at once
};

// Throws UsageError for iters or prompts < 1, warmup < 0, or an invalid request.
void validate_pipeline_settings(const PipelineBenchSettings& settings);

struct StageBusy {
  std::string stage;   // "text", "dit0", "vae"
  std::string device;  // the plan's device ("cuda:0"; "r1/cuda:0" under mpirun)
  double seconds = 0;
};

// What the busy seconds cover once the session is closed.
struct SessionTotals {
  std::vector<StageBusy> busy;
  int images = 0;         // images the busy seconds cover
  double seconds = 0;     // wall seconds of run() calls they cover
  bool includes_warmup = false;
  std::vector<std::pair<std::string, int64_t>> peaks;  // device -> peak (allocated on CUDA, max RSS on a CPU)
};

class PipelineSession {
 public:
  // nullptr on the ranks other than 0 of an mpirun job (once rank 0 closed:
  // they served their stages and rank 0 reports for the job).
  static std::unique_ptr<PipelineSession> open(const PipelineBenchSettings& settings);
  ~PipelineSession();

  double open_seconds() const { return open_seconds_; }
  const partition::pb::Plan& plan() const { return pipeline_->plan(); }

  // Queues `count` requests at once and waits for all of them: wall seconds
  // from the first submit to the last image. Throws Error when one failed.
  double run(int count);
  // Busy seconds count from here (in one process; under mpirun the ranks
  // report theirs only when closed, so they include the warm-up images).
  void start_timing();
  SessionTotals close();

  // Facts every pipeline scenario reports: model, plan stages, dtype, size.
  void describe(BenchReport& report) const;

 private:
  PipelineSession(const PipelineBenchSettings& settings, std::unique_ptr<coordinator::Pipeline> pipeline,
                  double open_seconds);

  PipelineBenchSettings settings_;
  std::unique_ptr<coordinator::Pipeline> pipeline_;
  double open_seconds_ = 0;
  uint64_t next_seed_ = 0;
  int images_ = 0, images_at_start_ = 0;
  double seconds_ = 0, seconds_at_start_ = 0;
  std::vector<coordinator::StageTiming> busy_at_start_;
};

// The peaks as a line per device ("peak on cuda:0: 14.2 GiB allocated, plan budget 80 GiB")
// and info()["peaks"] = [{device, peak_bytes, budget_bytes}] (budget 0 when the plan has none).
void add_peaks(BenchReport& report, const partition::pb::Plan& plan, const SessionTotals& totals);

}  // namespace baton::bench
