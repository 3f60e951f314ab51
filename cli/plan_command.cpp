// `baton plan`: decides what goes where on the given devices and prints the
// plan as a table or JSON; checks a saved (edited) plan; explains one stage's
// estimate for comparison with a benchmark. docs/planning.md.
#include <iostream>

#include "cli/command.h"
#include "core/byte_size.h"
#include "core/error.h"
#include "partition/plan_file.h"
#include "partition/plan_report.h"
#include "partition/planner.h"

namespace baton::cli {
namespace {

struct PlanArgs {
  std::string preset, model_dir;
  std::string devices = "auto", device_file;
  bool no_detect = false;
  int64_t width = 1024, height = 1024;
  std::string dtype = "bf16", cpu_dtype = "fp32";
  int64_t caption_tokens = 512, microbatch = 1, steps = 28;
  std::string attention = "flash";
  std::string text_on = "auto";
  bool no_time_sharing = false;
  int prompts_per_swap = 8;
  std::string cuda_context, calibration;
  bool json = false;
  std::string output, check, explain_stage, explain_device = "cuda:0";
};

partition::ModelConfigs load_model(const PlanArgs& a) {
  if (!a.preset.empty()) return partition::model_from_preset(a.preset);
  return partition::model_from_folder(a.model_dir);
}

partition::DeviceInventory load_devices(const PlanArgs& a) {
  const auto& probe = partition::local_device_probe();
  if (!a.device_file.empty()) return partition::load_device_file(a.device_file, probe, !a.no_detect);
  return partition::parse_device_spec(a.devices, probe, !a.no_detect);
}

partition::DeviceSpeeds load_speeds(const PlanArgs& a) {
  partition::DeviceSpeeds speeds;
  if (!a.calibration.empty()) speeds = partition::DeviceSpeeds(partition::load_calibration(a.calibration));
  if (!a.cuda_context.empty()) speeds.override_cuda_context(parse_byte_size(a.cuda_context));
  return speeds;
}

void emit(const PlanArgs& a, const partition::pb::Plan& plan) {
  if (!a.output.empty()) partition::save_plan(a.output, plan);
  if (a.json) {
    std::cout << partition::plan_to_json(plan) << "\n";
    return;
  }
  std::cout << partition::format_plan_table(plan);
  if (!a.output.empty()) std::cout << "plan written to " << a.output << "\n";
}

int run_plan(const PlanArgs& a, CLI::App* app) {
  const bool devices_given = app->count("--devices") > 0 || !a.device_file.empty();
  if (!a.check.empty()) {
    auto plan = partition::load_plan(a.check);
    const auto model = (a.preset.empty() && a.model_dir.empty()) ? partition::model_from_description(plan.model())
                                                                  : load_model(a);
    const auto devices = devices_given ? load_devices(a) : partition::inventory_of(plan);
    emit(a, partition::validate_plan(plan, devices, model, load_speeds(a)));
    return 0;
  }
  if (a.preset.empty() == a.model_dir.empty())
    throw UsageError("baton plan needs --preset NAME or --model DIR", "e.g. baton plan --preset newbie-exp0.1 --devices cuda:0=8GiB,cuda:1=8GiB");
  const auto model = load_model(a);
  partition::Workload w;
  w.width = a.width;
  w.height = a.height;
  w.caption_tokens = a.caption_tokens;
  w.microbatch_samples = a.microbatch;
  w.steps = a.steps;
  w.attention = partition::parse_attention_kind(a.attention);
  partition::validate_workload(w, model);
  const auto speeds = load_speeds(a);
  const auto gpu_format = partition::parse_weight_format(a.dtype);
  const auto cpu_format = partition::parse_weight_format(a.cpu_dtype);

  if (!a.explain_stage.empty()) {
    partition::InventoryDevice device;
    if (devices_given) {
      for (const auto& d : load_devices(a))
        if (d.id() == a.explain_device) device = d;
      if (device.name.empty()) throw UsageError("--explain-device " + a.explain_device + " is not among --devices");
    } else {
      device = partition::parse_device_spec(a.explain_device + "=1TiB", partition::no_device_probe(), false).front();
    }
    const auto profile = partition::make_profile(device, gpu_format, cpu_format, w.attention, speeds);
    std::cout << partition::explain_stage(model, w, a.explain_stage, profile);
    return 0;
  }

  partition::PlanOptions options;
  options.weights = gpu_format;
  options.cpu_weights = cpu_format;
  options.text_on = a.text_on;
  options.allow_time_sharing = !a.no_time_sharing;
  options.prompts_per_swap = a.prompts_per_swap;
  emit(a, partition::make_plan(model, w, load_devices(a), speeds, options));
  return 0;
}

}  // namespace

Command add_plan_command(CLI::App& root) {
  auto args = std::make_shared<PlanArgs>();
  auto* app = root.add_subcommand(
      "plan", "Decide which device holds which part of the model: memory per device against its budget, "
              "estimated speed; as a table or JSON (needs no weights with --preset)");
  auto* preset = app->add_option("--preset", args->preset, "a released model: newbie-exp0.1");
  auto* model = app->add_option("--model", args->model_dir, "a checkpoint folder (reads its config.json files)");
  preset->excludes(model);
  auto* devices = app->add_option("--devices", args->devices,
                                  "devices and budgets: cuda:0=8GiB,cuda:1=8GiB,cpu=32GiB; a missing budget is the "
                                  "free memory now minus a margin; auto = every local device (default)");
  auto* device_file = app->add_option("--device-file", args->device_file,
                                      "devices from a JSON file (configs/devices.example.json)");
  devices->excludes(device_file);
  app->add_flag("--no-detect", args->no_detect, "plan for devices that are not on this machine (no presence check)");
  app->add_option("--width", args->width, "image width in pixels, a multiple of 16 (default 1024)");
  app->add_option("--height", args->height, "image height in pixels, a multiple of 16 (default 1024)");
  app->add_option("--dtype", args->dtype, "weights on GPUs: bf16 (default), fp16, fp32, int8 or fp8 (8-bit: per-channel scaled)");
  app->add_option("--cpu-dtype", args->cpu_dtype, "weights on CPUs: fp32 (default), bf16, ...");
  app->add_option("--caption-tokens", args->caption_tokens, "longest prompt in tokens to size for (default 512, Gemma's max)");
  app->add_option("--microbatch", args->microbatch, "samples per microbatch: 1 = one CFG branch (default), 2 = both batched");
  app->add_option("--steps", args->steps, "denoising steps per image (default 28)");
  app->add_option("--attention", args->attention, "GPU attention kernels: flash (default, O(S) memory) or math (O(S^2))");
  app->add_option("--text-on", args->text_on, "where the text stage goes: auto (default), cpu, or a device such as cuda:1");
  app->add_flag("--no-time-sharing", args->no_time_sharing, "never take turns between the text stage and the DiT");
  app->add_option("--prompts-per-swap", args->prompts_per_swap, "when time-sharing: prompts encoded per load of the text stage (default 8)");
  app->add_option("--cuda-context", args->cuda_context, "memory of one CUDA context (default 500MiB)");
  app->add_option("--calibration", args->calibration, "device speeds measured by baton bench --calibrate (JSON)");
  app->add_flag("--json", args->json, "print the plan as JSON instead of a table");
  app->add_option("-o,--output", args->output, "write the plan as JSON to this file");
  app->add_option("--check", args->check, "load a saved (edited) plan, check it against the devices and print it");
  app->add_option("--explain-stage", args->explain_stage,
                  "print every term of the estimate for one stage holding a whole component: dit, text or vae");
  app->add_option("--explain-device", args->explain_device, "the device for --explain-stage (default cuda:0)");
  return {app, [args, app] { return run_plan(*args, app); }};
}

}  // namespace baton::cli
