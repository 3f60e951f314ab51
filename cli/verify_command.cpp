// `baton verify FILE...`: checks this build against golden tensors. Each file
// is recognised by its metadata, the matching computation runs, and one line
// per output gives the relative L2 error and its tolerance. Exit 0 only if
// every output of every file is within tolerance.
#include <CLI/CLI.hpp>
#include <c10/core/Device.h>
#include <c10/util/Exception.h>

#include <cstdio>
#include <iostream>

#include "cli/command.h"
#include "core/device_memory.h"
#include "core/dtype.h"
#include "core/error.h"
#include "worker/golden/golden_check.h"

namespace baton::cli {
namespace {

at::Device parse_device(const std::string& text) {
  try {
    const at::Device device(text);
    if (device.is_cpu()) return device;
    if (device.is_cuda()) {
      const int count = cuda_device_count();
      if (count == 0) throw Error("--device " + text + ": no usable CUDA device", "use --device cpu");
      if (device.has_index() && device.index() >= count)
        throw Error("--device " + text + ": only " + std::to_string(count) + " CUDA device(s)");
      return device;
    }
  } catch (const c10::Error&) {
  }
  throw UsageError("unknown device '" + text + "'", "use cpu or cuda:N");
}

std::string format_error(double value) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3e", value);
  return buf;
}

}  // namespace

Command add_verify_command(CLI::App& root) {
  auto* app = root.add_subcommand("verify",
                                  "check this build against golden tensors: recognise each file by its metadata, "
                                  "run the matching computation and compare every output (relative L2 error)");
  struct Options {
    std::vector<std::string> files;
    std::string device = "cpu";
    std::string dtype = "fp32";
    std::string weights;
  };
  auto options = std::make_shared<Options>();
  app->add_option("files", options->files, "golden safetensors files (e.g. tests/data/dit_a.safetensors)")
      ->required();
  app->add_option("--device", options->device, "cpu or cuda:N (default cpu)");
  app->add_option("--dtype", options->dtype,
                  "fp32, bf16 or fp16 (default fp32); tolerance 1e-4 in fp32, 2e-2 otherwise (guided outputs: "
                  "times the guidance's error amplification sqrt(s^2 + (1-s)^2))");
  app->add_option("--weights", options->weights,
                  "int8 or fp8: store the big matrices of dit and gemma3 golden models in 8 bits "
                  "(docs/quantization.md) with looser tolerances (dit: + 1.5e-2 int8, + 5e-2 fp8; gemma3: + 5e-2, + 0.25); "
                  "other kinds stay dense")
      ->check(CLI::IsMember({"int8", "fp8"}));
  return {app, [options] {
            worker::GoldenCheckOptions check;
            check.dtype = parse_dtype(options->dtype);
            check.device = parse_device(options->device);
            if (!options->weights.empty()) check.weights = parse_weight_format(options->weights);
            bool all_ok = true;
            for (const auto& file : options->files) {
              try {
                const auto report = worker::check_golden_file(file, check);
                if (!report.note.empty()) std::cout << file << "  " << report.note << std::endl;
                for (const auto& out : report.outputs)
                  std::cout << file << "  " << report.kind << "  " << out.name << "  " << out.metric << " "
                            << format_error(out.error) << "  tol " << format_error(out.tolerance) << "  "
                            << (out.ok() ? "ok" : "FAIL") << std::endl;
                all_ok = all_ok && report.ok();
              } catch (const UsageError&) {
                throw;
              } catch (const Error& e) {
                std::cerr << "baton: error: " << e.what() << "\n";
                if (!e.hint().empty()) std::cerr << "  hint: " << e.hint() << "\n";
                all_ok = false;
              } catch (const c10::Error& e) {
                std::cerr << "baton: error: " << file << ": libtorch: " << e.what_without_backtrace() << "\n";
                all_ok = false;
              }
            }
            return all_ok ? 0 : 1;
          }};
}

}  // namespace baton::cli
