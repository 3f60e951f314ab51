// `baton bench`: the benchmark scenarios of bench/ (docs/benchmarks.md) and
// `--calibrate`, which writes the planner's calibration file. Parses
// arguments and calls the baton_bench library. `image` and `throughput` run
// the generate pipeline (its options are generate's), so they work under
// mpirun too: rank 0 prints, the other ranks host their stages and print
// nothing.
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>

#include "bench/calibration.h"
#include "bench/dit_block_breakdown.h"
#include "bench/dit_profile.h"
#include "bench/dit_scenario.h"
#include "bench/image_scenario.h"
#include "bench/memory_scenario.h"
#include "bench/text_scenario.h"
#include "bench/throughput_scenario.h"
#include "bench/vae_scenario.h"
#include "cli/command.h"
#include "cli/request_options.h"
#include "core/error.h"

namespace baton::cli {
namespace {

struct Output {
  bool json = false;
  std::string json_out;
};

struct BenchArgs {
  bench::BenchSettings settings;
  Output output;
  std::vector<std::string> sizes;
  bench::DitBenchOptions dit;
  std::string text_models = "both";
  bench::TextBenchOptions text;
  bench::VaeBenchOptions vae;
  bool no_untiled = false, no_tiled = false;
  bench::MemoryBenchOptions memory;
  bool calibrate = false;
  bench::CalibrationOptions calibration;
};

// The options every scenario takes; `iters`/`warmup` defaults differ per scenario.
void add_common(CLI::App* app, bench::BenchSettings& s, Output& out, bool model = true) {
  app->add_option("--device", s.device, "cpu or cuda:N (default: cuda:0 if present, else cpu)");
  app->add_option("--dtype", s.dtype, "fp32, bf16 or fp16 (default: bf16 on CUDA, fp32 on a CPU)");
  app->add_option("--iters", s.iters, "timed calls; the median is reported")->capture_default_str();
  app->add_option("--warmup", s.warmup, "untimed calls first")->capture_default_str();
  app->add_option("--width", s.width, "image width in pixels, a multiple of 16")->capture_default_str();
  app->add_option("--height", s.height, "image height in pixels, a multiple of 16")->capture_default_str();
  if (model) {
    auto* preset = app->add_option("--preset", s.preset,
                                   "model with seeded random weights: newbie-exp0.1 (the released sizes, default) or tiny");
    auto* dir = app->add_option("--model", s.model_dir, "a checkpoint folder (any layout): its configs and weights");
    preset->excludes(dir);
  }
  app->add_option("--seed", s.seed, "seed of the random weights and inputs");
  app->add_flag("--json", out.json, "print one JSON object instead of the table");
  app->add_option("--json-out", out.json_out, "also write the JSON object to this file");
}

int emit(const bench::BenchReport& report, const Output& out) {
  if (out.json) std::cout << report.json().dump(2) << "\n";
  else std::cout << report.table();
  if (!out.json_out.empty()) {
    std::ofstream f(out.json_out);
    f << report.json().dump(2) << "\n";
    if (!f) throw Error("cannot write " + out.json_out);
  }
  return report.failed() ? 1 : 0;
}

// --weights and --fp8-matmul of dit and text (docs/quantization.md).
void add_weights_options(CLI::App* app, std::vector<std::string>& weights, bool& fp8_matmul, const std::string& what) {
  app->add_option("--weights", weights,
                  "weight formats to compare, comma separated: the dense compute dtype (bf16, fp16, fp32), int8, fp8; "
                  "the dense model always runs first and is the reference of the 8-bit " + what + " errors")
      ->delimiter(',')
      ->check(CLI::IsMember({"fp32", "bf16", "fp16", "int8", "fp8"}));
  app->add_option("--fp8-matmul", fp8_matmul,
                  "fp8 weights on the FP8 matrix units (libtorch 2.5+, compute capability >= 8.9) when true, else "
                  "dequantised to the compute dtype")
      ->capture_default_str();
}

// `image` and `throughput`: generate's pipeline and request options, the
// model defaulting to the released sizes with random weights.
struct PipelineBenchArgs {
  bench::PipelineBenchSettings settings;
  RequestOptions request;
  std::string prompt = "1girl, long silver hair, red eyes, school uniform, cherry blossoms, city street at dusk, "
                       "detailed background, anime style";
  uint64_t seed = 1234;
  Output output;
};

void add_pipeline_bench_options(CLI::App* app, PipelineBenchArgs& a) {
  add_pipeline_options(app, a.settings.pipeline);
  app->get_option("--model")->required(false)->default_val("random");
  add_request_parameter_options(app, a.request);
  app->add_option("--prompt", a.prompt, "the prompt of every image")->capture_default_str();
  app->add_option("--seed", a.seed, "seed of the first image (the next get seed+1, ...)")->capture_default_str();
  app->add_option("--warmup", a.settings.warmup, "images run first, not timed")->capture_default_str();
  app->add_flag("--json", a.output.json, "print one JSON object instead of the table");
  app->add_option("--json-out", a.output.json_out, "also write the JSON object to this file");
}

bench::PipelineBenchSettings pipeline_bench_settings(const PipelineBenchArgs& a) {
  auto s = a.settings;
  s.request = request_defaults(a.request);
  s.request.prompt = a.prompt;
  s.request.seed = a.seed;
  return s;
}

// Under mpirun only rank 0 has a report; the others served their stages.
int emit(const std::optional<bench::BenchReport>& report, const Output& out) { return report ? emit(*report, out) : 0; }

std::vector<bench::ImageSize> parse_sizes(const std::vector<std::string>& texts) {
  std::vector<bench::ImageSize> sizes;
  for (const auto& t : texts) sizes.push_back(bench::parse_image_size(t));
  return sizes;
}

}  // namespace

Command add_bench_command(CLI::App& root) {
  auto* app = root.add_subcommand(
      "bench", "Benchmarks: one DiT call, the text encoders, the VAE decode, memory per stage against the plan's "
               "estimate, whole images and throughput through the pipeline; --calibrate measures this device's "
               "speed for baton plan");
  app->require_subcommand(0, 1);
  auto calibrate = std::make_shared<BenchArgs>();
  app->add_flag("--calibrate", calibrate->calibrate,
                "measure the effective TFLOP/s on Next-DiT blocks in each dtype and write the calibration file "
                "that baton plan --calibration reads");
  add_common(app, calibrate->settings, calibrate->output);
  app->add_option("-o,--output", calibrate->calibration.output,
                  "calibration file to write (entries for other devices and dtypes are kept)")
      ->capture_default_str();
  app->add_option("--dtypes", calibrate->calibration.dtypes, "dtypes to calibrate (default: bf16,fp16,fp32 on CUDA; fp32 on a CPU)")
      ->delimiter(',');
  app->add_option("--blocks", calibrate->calibration.blocks, "DiT main blocks timed per call")->capture_default_str();
  app->add_option("--caption-tokens", calibrate->calibration.caption_tokens, "caption rows of the joint sequence")
      ->capture_default_str();

  auto dit = std::make_shared<BenchArgs>();
  auto* dit_app = app->add_subcommand("dit", "one guided Next-DiT call (CFG pair of a 128- and an 8-token caption)");
  add_common(dit_app, dit->settings, dit->output);
  dit_app->add_option("--size", dit->sizes, "image size WxH, repeatable (default: --width x --height)");
  dit_app->add_option("--captions", dit->dit.captions, "cond,uncond caption tokens (default 128,8)")->delimiter(',');
  dit_app->add_option("--sdpa", dit->dit.sdpa,
                      "attention kernel families to compare: auto, flash, efficient, cudnn, math (libtorch 2.5+ "
                      "for all but auto; default auto)")
      ->delimiter(',');
  dit_app->add_flag("--attention", dit->dit.attention_only,
                    "time only one main-block attention call per SDPA family, native GQA and repeated K/V (loads no weights)");
  dit_app->add_flag("--breakdown", dit->dit.breakdown,
                    "time one main block and its parts instead: matrix products, attention, and the rest (norms, "
                    "modulation, RoPE): what fused kernels could save");
  auto* profile = dit_app->add_flag("--profile", dit->dit.profile,
                                    "profile the call at the first size instead: its kernels (operators on a CPU), "
                                    "longest first, and the time per category");
  dit_app->add_option("--top", dit->dit.top, "kernels --profile lists")->capture_default_str()->needs(profile);
  dit_app->add_option("--trace", dit->dit.trace, "write the profiled calls' Chrome trace to this file")->needs(profile);
  profile->excludes("--breakdown")->excludes("--attention");
  dit_app->add_option("--layers", dit->dit.layers, "main blocks to run (default: all)");
  dit_app->add_option("--cuda-graphs", dit->dit.cuda_graphs,
                      "off, on, or off,on to compare: replay the main blocks from CUDA graphs (default off)")
      ->delimiter(',');
  add_weights_options(dit_app, dit->dit.weights, dit->dit.fp8_matmul, "velocity");

  auto text = std::make_shared<BenchArgs>();
  auto* text_app = app->add_subcommand("text", "Gemma3 and Jina encodes of 2x128, 1x128 and 1x8 tokens");
  add_common(text_app, text->settings, text->output);
  text_app->add_option("--models", text->text_models, "gemma3, jina or both")
      ->check(CLI::IsMember({"gemma3", "jina", "both"}))
      ->capture_default_str();
  add_weights_options(text_app, text->text.weights, text->text.fp8_matmul, "Gemma3 features (Jina stays dense)");

  auto vae = std::make_shared<BenchArgs>();
  vae->settings.iters = 3;
  vae->settings.warmup = 1;
  auto* vae_app = app->add_subcommand("vae", "VAE decode, untiled and tiled under an allocator cap");
  add_common(vae_app, vae->settings, vae->output);
  vae_app->add_option("--size", vae->sizes, "image size WxH, repeatable (default: --width x --height)");
  vae_app->add_option("--cap", vae->vae.cap, "allocator cap for the tiled cases (CUDA)")->capture_default_str();
  vae_app->add_option("--margin", vae->vae.margin, "part of the cap kept free of activations")->capture_default_str();
  vae_app->add_option("--tile", vae->vae.tile, "square tiles of this many latent pixels (default: from the budget)");
  vae_app->add_flag("--no-untiled", vae->no_untiled, "skip the untiled decode");
  vae_app->add_flag("--no-tiled", vae->no_tiled, "skip the tiled decode");

  auto memory = std::make_shared<BenchArgs>();
  memory->settings.iters = 2;
  memory->settings.warmup = 1;
  auto* memory_app = app->add_subcommand(
      "memory", "peak memory of each stage against the planner's estimate (a saved plan, or the plan for this device)");
  add_common(memory_app, memory->settings, memory->output);
  auto* plan_opt = memory_app->add_option("--plan", memory->memory.plan_file, "a saved plan (its model, size and placement)");
  plan_opt->excludes("--preset")->excludes("--width")->excludes("--height");
  memory_app->add_option("--caption-tokens", memory->memory.caption_tokens, "prompt tokens the estimate is for")
      ->capture_default_str();
  memory_app->add_option("--microbatch", memory->memory.microbatch, "samples per DiT microbatch: 1 or 2 (both CFG branches)")
      ->capture_default_str();
  memory_app->add_option("--attention", memory->memory.attention, "GPU attention the estimate assumes: flash or math")
      ->capture_default_str();
  memory_app->add_option("--stages", memory->memory.stages, "stage kinds to measure: text, dit, vae (default: all)")
      ->delimiter(',');

  auto image = std::make_shared<PipelineBenchArgs>();
  auto* image_app = app->add_subcommand(
      "image", "whole images (text stage, DiT x steps, VAE) through the generate pipeline, one at a time: seconds per "
               "image, busy seconds per stage, peak memory per device (every rank under mpirun)");
  add_pipeline_bench_options(image_app, *image);
  image_app->add_option("--iters", image->settings.iters, "timed images; the median is reported")->capture_default_str();

  auto throughput = std::make_shared<PipelineBenchArgs>();
  auto* throughput_app = app->add_subcommand(
      "throughput", "prompts queued at once through the generate pipeline: images per minute, busy fraction per "
                    "stage, peak memory per device (every rank under mpirun)");
  add_pipeline_bench_options(throughput_app, *throughput);
  throughput_app->add_option("--prompts", throughput->settings.prompts, "prompts queued at once")->capture_default_str();

  auto run = [=]() -> int {
    if (image_app->parsed()) return emit(bench::run_image_bench(pipeline_bench_settings(*image)), image->output);
    if (throughput_app->parsed())
      return emit(bench::run_throughput_bench(pipeline_bench_settings(*throughput)), throughput->output);
    if (dit_app->parsed()) {
      dit->dit.sizes = parse_sizes(dit->sizes);
      if (dit->dit.profile) return emit(bench::run_dit_profile(dit->settings, dit->dit), dit->output);
      if (dit->dit.breakdown) return emit(bench::run_dit_block_breakdown(dit->settings, dit->dit), dit->output);
      return emit(bench::run_dit_bench(dit->settings, dit->dit), dit->output);
    }
    if (text_app->parsed()) {
      auto o = text->text;
      o.gemma = text->text_models != "jina";
      o.jina = text->text_models != "gemma3";
      return emit(bench::run_text_bench(text->settings, o), text->output);
    }
    if (vae_app->parsed()) {
      vae->vae.sizes = parse_sizes(vae->sizes);
      vae->vae.untiled = !vae->no_untiled;
      vae->vae.tiled = !vae->no_tiled;
      return emit(bench::run_vae_bench(vae->settings, vae->vae), vae->output);
    }
    if (memory_app->parsed()) return emit(bench::run_memory_bench(memory->settings, memory->memory), memory->output);
    if (calibrate->calibrate) return emit(bench::run_calibration(calibrate->settings, calibrate->calibration), calibrate->output);
    throw UsageError("baton bench needs a scenario (dit, text, vae, memory, image, throughput) or --calibrate",
                     "e.g. baton bench dit --device cuda:0 --width 1024 --height 1024");
  };
  return {app, run};
}

}  // namespace baton::cli
