#pragma once
// `baton bench --calibrate`: measures this device's effective throughput on
// the model's own work (a few Next-DiT main blocks over the joint sequence of
// a WxH image, the blocks being ~all of a DiT call's FLOPs) in each compute
// dtype, and writes it as the planner's calibration file (the Calibration
// message of partition/plan.proto, partition::save_calibration), which
// `baton plan --calibration FILE` then uses instead of the default table.
#include <cstdint>
#include <string>
#include <vector>

#include "bench/bench_report.h"
#include "bench/bench_settings.h"

namespace baton::bench {

struct CalibrationOptions {
  std::string output = "calibration.json";  // merged: entries for other devices or dtypes are kept
  std::vector<std::string> dtypes;          // empty: bf16, fp16 and fp32 on CUDA; fp32 on a CPU
  int64_t blocks = 2;                       // main blocks timed per call
  int64_t caption_tokens = 128;
};

BenchReport run_calibration(const BenchSettings& settings, const CalibrationOptions& options);

}  // namespace baton::bench
