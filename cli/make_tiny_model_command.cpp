// `baton make-tiny-model DIR [--layout L] [--seed N] [--dtype D]`: a complete
// model folder of tiny size, for tests and trying baton without a download.
#include <iostream>

#include "cli/command.h"
#include "core/error.h"
#include "io/tiny_model.h"

namespace baton::cli {

Command add_make_tiny_model_command(CLI::App& root) {
  auto* app = root.add_subcommand(
      "make-tiny-model",
      "Write a complete NewBie model folder with tiny configs of all four networks, seeded random weights and\n"
      "freshly trained tokenizers, in the newbie, diffusers or comfy layout.");
  struct Args {
    std::string dir, layout = "newbie", dtype = "fp32";
    uint64_t seed = 0;
  };
  auto args = std::make_shared<Args>();
  app->add_option("DIR", args->dir, "folder to create (must not exist, or be empty)")->required();
  app->add_option("--layout", args->layout, "newbie, diffusers or comfy (default newbie)");
  app->add_option("--seed", args->seed, "seed of the random weights (default 0)");
  app->add_option("--dtype", args->dtype, "dtype of the stored weights: fp32, bf16 or fp16 (default fp32)");
  return {app, [args] {
            io::TinyModelOptions options;
            options.layout = io::parse_layout(args->layout);
            options.seed = args->seed;
            if (args->dtype == "fp32") options.dtype = io::StDtype::F32;
            else if (args->dtype == "bf16") options.dtype = io::StDtype::BF16;
            else if (args->dtype == "fp16") options.dtype = io::StDtype::F16;
            else throw UsageError("unknown --dtype '" + args->dtype + "'", "expected fp32, bf16 or fp16");
            io::write_tiny_model(args->dir, options);
            std::cout << "wrote a tiny " << args->layout << " model to " << args->dir << "\n";
            return 0;
          }};
}

}  // namespace baton::cli
