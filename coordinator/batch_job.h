#pragma once
// `baton batch prompts.jsonl --out DIR`: one image per line of a JSON Lines
// file, resumable. Each image is written atomically (with its recipe in the
// PNG) and then recorded in DIR/manifest.jsonl; a rerun skips every line
// whose image is there and complete (it decodes, and its "baton" chunk holds
// the same request), so after a kill nothing is lost, made twice or left
// half-written.
#include <cstdint>
#include <string>
#include <vector>

#include "coordinator/pipeline.h"
#include "sampling/generation_request.h"

namespace baton::coordinator {

struct BatchOptions : PipelineOptions {
  std::string prompts_file;               // JSON Lines: one request object per line
  std::string out_dir;
  sampling::GenerationRequest defaults;   // fields a line leaves out
  uint64_t seed_base = 0;                 // a line without "seed" gets seed_base + its line number
  bool interactive = false;               // progress bar on the terminal
};

// One request of the prompt file.
struct BatchLine {
  int64_t line = 0;  // 1-based line number in the file
  sampling::GenerationRequest request;
  std::string file;  // the image's name inside the output folder
};

// Reads and validates every line first (a typo on line 900 fails before any
// work): blank lines and lines starting with '#' are skipped; anything else
// must be a JSON object GenerationRequest::from_json accepts. Throws
// UsageError naming the file and line.
std::vector<BatchLine> read_batch_file(const std::string& path, const sampling::GenerationRequest& defaults,
                                       uint64_t seed_base);

struct BatchReport {
  size_t requests = 0;    // lines with a request
  size_t skipped = 0;     // complete from an earlier run
  size_t written = 0;     // made by this run
  std::vector<std::string> errors;  // "line 7: ..." per request that failed
  double seconds = 0;
};

BatchReport run_batch(const BatchOptions& options);
std::string format_batch_report(const BatchReport& report);

}  // namespace baton::coordinator
