// `baton generate`: parses the options, builds the requests and calls
// coordinator::run_generate.
#include <iostream>
#include <memory>
#include <optional>

#include "cli/command.h"
#include "coordinator/generate_job.h"
#include "coordinator/progress_display.h"
#include "coordinator/prompt_file.h"
#include "coordinator/rank_generate.h"
#include "core/error.h"
#include "worker/text/system_prompt.h"

namespace baton::cli {
namespace {

struct GenerateArgs {
  coordinator::GenerateOptions job;
  std::string prompt, prompt_file, negative, system_prompt;
  sampling::GenerationRequest defaults;
  std::optional<uint64_t> seed;
  bool no_progress = false;
};

std::string resolve_system_prompt(const std::string& value) {
  const auto& presets = worker::system_prompt_presets();
  if (presets.count(value)) return presets.at(value);
  return value;  // free text
}

int run_generate_command(GenerateArgs& a) {
  std::vector<std::string> prompts;
  if (!a.prompt.empty() && !a.prompt_file.empty())
    throw UsageError("give --prompt or --prompt-file, not both");
  if (!a.prompt_file.empty()) prompts = coordinator::read_prompt_file(a.prompt_file);
  else if (!a.prompt.empty()) prompts = {a.prompt};
  else throw UsageError("no prompt given", "use --prompt TEXT or --prompt-file FILE");

  const std::string system_prompt = resolve_system_prompt(a.system_prompt);
  // Under mpirun rank 0 speaks for the job (and its requests, seeds included, are the ones run).
  const bool speaks = coordinator::launcher_rank() <= 0;
  for (size_t i = 0; i < prompts.size(); ++i) {
    auto r = a.defaults;
    r.prompt = prompts[i];
    r.negative_prompt = a.negative;
    r.system_prompt = system_prompt;
    r.seed = a.seed ? *a.seed + i : sampling::random_seed();
    r.validate();
    if (!a.seed && speaks) std::cerr << "prompt " << i + 1 << ": seed " << r.seed << "\n";
    if (speaks && r.prompt.find('<') != std::string::npos)
      for (const auto& w : coordinator::lint_structured_prompt(r.prompt))
        std::cerr << "baton: warning: prompt " << i + 1 << ": " << w << " (the prompt still runs)\n";
    a.job.requests.push_back(r);
  }
  a.job.interactive = !a.no_progress && coordinator::ProgressDisplay::stderr_is_terminal();
  const auto report = coordinator::run_generate(a.job);
  if (report.rank != 0) return report.errors.empty() ? 0 : 1;  // under mpirun rank 0 speaks for the job
  std::cerr << coordinator::format_generate_report(report);
  for (const auto& e : report.errors) std::cerr << "baton: error: " << e << "\n";
  for (const auto& p : report.written) std::cout << p << "\n";
  return report.errors.empty() ? 0 : 1;
}

}  // namespace

Command add_generate_command(CLI::App& root) {
  auto a = std::make_shared<GenerateArgs>();
  auto* app = root.add_subcommand(
      "generate",
      "Make images from prompts with NewBie-image-Exp0.1 on the local devices (one thread per device), "
      "or under mpirun on one device per rank (docs/distributed.md)");
  app->add_option("--model", a->job.model,
                  "model folder (NewBie, diffusers or ComfyUI layout), 'demo' for a tiny random-weight model, or "
                  "'random' for the released sizes with random weights (benchmarks; no checkpoint needed)")
      ->required();
  app->add_option("--prompt", a->prompt, "the prompt (plain text, tags, or NewBie's XML structure)");
  app->add_option("--prompt-file", a->prompt_file,
                  "a file with one prompt per line ('#' comments), or one XML-structured prompt");
  app->add_option("--negative", a->negative, "negative prompt (default: empty)");
  app->add_option("--system-prompt", a->system_prompt,
                  "Gemma system prompt: a preset (none, xml, plain) or free text (default: none, as the NewBie pipeline)")
      ->default_val("none");
  app->add_option("--width", a->defaults.width, "image width, a multiple of 16")->default_val(1024);
  app->add_option("--height", a->defaults.height, "image height, a multiple of 16")->default_val(1024);
  app->add_option("--steps", a->defaults.steps, "denoising steps")->default_val(28);
  app->add_option("--cfg", a->defaults.cfg_scale, "classifier-free guidance scale")->default_val(5.0);
  app->add_option("--cfg-trunc", a->defaults.cfg_trunc, "guide only while t < this (1.0 = every step)")->default_val(1.0);
  app->add_option("--renorm", a->defaults.renorm_cfg, "cap the guided norm at this times the conditional one (0 = off)")
      ->default_val(1.0);
  app->add_option("--shift", a->defaults.shift, "flow-matching time shift")->default_val(6.0);
  app->add_option("--seed", a->seed, "seed of the first image (the next prompts get seed+1, ...); random if absent");
  app->add_option("--devices", a->job.devices,
                  "devices and budgets, e.g. cuda:0=8GiB,cuda:1=8GiB,cpu=32GiB (default: auto = what this machine "
                  "has); under mpirun one device per rank, in rank order")
      ->default_val("auto");
  app->add_option("--plan", a->job.plan_file, "a saved plan (baton plan -o FILE) instead of planning now");
  app->add_option("--dtype", a->job.dtype, "weights on GPUs: bf16 (default), fp16 or fp32; CPUs use fp32");
  app->add_option("--text-on", a->job.text_on, "where the text encoders go: auto, cpu, or a device")->default_val("auto");
  app->add_option("--microbatch", a->job.microbatch, "CFG branches per microbatch: 2 (batched) or 1")
      ->default_val(2)
      ->check(CLI::IsMember({1, 2}));
  app->add_option("--max-in-flight", a->job.max_in_flight, "requests in the pipeline at once (default: stages + 1)");
  app->add_option("-o,--output", a->job.output, "output .png file (one prompt) or folder")->default_val(".");
  app->add_flag("--no-progress", a->no_progress, "no progress bar, one log line per image");
  app->add_option("--trace", a->job.trace_file,
                  "append a JSON line per message each stage handled (stage, request, step, start and end in us)");
  return {app, [a] {
            try {
              return run_generate_command(*a);
            } catch (const Error& e) {
              // Under mpirun every rank meets the same mistake: rank 0 alone says it.
              if (coordinator::launcher_rank() <= 0) throw;
              return dynamic_cast<const UsageError*>(&e) ? 2 : 1;
            }
          }};
}

}  // namespace baton::cli
