#pragma once
// `baton generate` as a library call: prompts in, PNG files out, over the
// stages of a plan in one process (one thread per device), or under mpirun
// over the ranks of the job (rank_generate.h).
#include <string>
#include <vector>

#include "partition/device_inventory.h"
#include "partition/model_configs.h"
#include "sampling/generation_request.h"

namespace baton::coordinator {

struct GenerateOptions {
  std::string model;                 // a model folder, "demo" or "random" (stage_model.h)
  std::vector<sampling::GenerationRequest> requests;  // seeds already chosen
  std::string output = ".";          // a .png file (one request) or a folder
  std::string devices = "auto";      // as `baton plan --devices`
  std::string plan_file;             // a saved plan instead of planning here
  std::string dtype;                 // weights on GPUs: bf16 (default), fp16, fp32
  std::string text_on = "auto";      // auto, cpu, or a device
  int64_t microbatch = 2;            // 2 = both CFG branches per microbatch, 1 = one
  size_t max_in_flight = 0;          // 0 = enough to keep every stage busy
  bool interactive = false;          // draw a progress bar on the terminal
  std::string trace_file;            // JSON lines: start and end of every message each stage handled
};

struct StageTiming {
  std::string stage;                 // "text", "dit0", "vae"
  std::string device;
  double busy_seconds = 0;
};

struct GenerateReport {
  std::vector<std::string> written;  // one path per request that succeeded, in request order
  std::vector<std::string> errors;   // "prompt 3: ..." per request that failed
  double seconds = 0;
  std::vector<StageTiming> stages;
  std::vector<std::pair<std::string, int64_t>> peak_bytes;  // device -> peak allocated (CUDA) / max RSS (CPU)
  int rank = 0;  // under mpirun: only rank 0's report is the job's (the others print nothing)
};

// Where each request's image goes: `output` itself for one request whose
// output ends in .png, else `<output>/newbie-<seed>.png` (with the request's
// number when there are several). Throws UsageError for a .png with several
// requests.
std::vector<std::string> output_paths(const std::string& output, const std::vector<sampling::GenerationRequest>& requests);

GenerateReport run_generate(const GenerateOptions& options);

// The pieces of run_generate, shared with the run over ranks.
class StageNetwork;
// Checks the requests, makes the output folders; each request's output path.
std::vector<std::string> prepare_outputs(const GenerateOptions& options);
// The job's plan for a model of these configs over `devices`, or
// options.plan_file checked against the model.
partition::pb::Plan make_generate_plan(const GenerateOptions& options, const partition::ModelConfigs& model,
                                       const partition::DeviceInventory& devices);
// Runs every request through `network` with at most `in_flight` in the
// pipeline, writing each PNG (atomically) as it arrives. Fills written,
// errors and seconds of the report.
GenerateReport drive_requests(StageNetwork& network, const GenerateOptions& options,
                              const std::vector<std::string>& paths, size_t in_flight);
// This process's peak: allocated bytes on a CUDA device, max RSS on the CPU.
int64_t peak_memory_bytes(const std::string& device);

// The summary printed at the end: time per stage, peak memory per device.
std::string format_generate_report(const GenerateReport& report);

}  // namespace baton::coordinator
