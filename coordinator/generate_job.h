#pragma once
// `baton generate` as a library call: prompts in, PNG files out, over the
// stages of a plan in one process (one thread per device) or, under mpirun,
// over ranks (docs/distributed.md).
#include <string>
#include <vector>

#include "coordinator/pipeline.h"
#include "sampling/generation_request.h"

namespace baton::coordinator {

// The model and device options (PipelineOptions), then what to make and where.
struct GenerateOptions : PipelineOptions {
  std::vector<sampling::GenerationRequest> requests;  // seeds already chosen
  std::string output = ".";          // a .png file (one request) or a folder
  bool interactive = false;          // draw a progress bar on the terminal
};

struct GenerateReport {
  std::vector<std::string> written;  // one path per request that succeeded, in request order
  std::vector<std::string> errors;   // "prompt 3: ..." per request that failed
  double seconds = 0;
  std::vector<StageTiming> stages;
  std::vector<std::pair<std::string, int64_t>> peak_bytes;  // device -> peak allocated (CUDA) / max RSS (CPU)
};

// Where each request's image goes: `output` itself for one request whose
// output ends in .png, else `<output>/newbie-<seed>.png` (with the request's
// number when there are several). Throws UsageError for a .png with several
// requests.
std::vector<std::string> output_paths(const std::string& output, const std::vector<sampling::GenerationRequest>& requests);

// Under mpirun only rank 0's report is the job's; the other ranks return an
// empty one once rank 0 is done.
GenerateReport run_generate(const GenerateOptions& options);

// The summary printed at the end: time per stage, peak memory per device.
std::string format_generate_report(const GenerateReport& report);

}  // namespace baton::coordinator
