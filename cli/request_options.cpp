#include "cli/request_options.h"

#include <iostream>

#include "coordinator/prompt_file.h"
#include "coordinator/service_protocol.h"
#include "core/error.h"
#include "transport/membership.h"
#include "worker/text/system_prompt.h"

namespace baton::cli {

void add_request_parameter_options(CLI::App* app, RequestOptions& o) {
  app->add_option("--negative", o.negative, "negative prompt (default: empty)");
  app->add_option("--system-prompt", o.system_prompt,
                  "Gemma system prompt: a preset (none, xml, plain) or free text (default: none, as the NewBie pipeline)")
      ->default_val("none");
  app->add_option("--width", o.defaults.width, "image width, a multiple of 16")->default_val(1024);
  app->add_option("--height", o.defaults.height, "image height, a multiple of 16")->default_val(1024);
  app->add_option("--steps", o.defaults.steps, "denoising steps")->default_val(28);
  app->add_option("--cfg", o.defaults.cfg_scale, "classifier-free guidance scale")->default_val(5.0);
  app->add_option("--cfg-trunc", o.defaults.cfg_trunc, "guide only while t < this (1.0 = every step)")->default_val(1.0);
  app->add_option("--renorm", o.defaults.renorm_cfg, "cap the guided norm at this times the conditional one (0 = off)")
      ->default_val(1.0);
  app->add_option("--shift", o.defaults.shift, "flow-matching time shift")->default_val(6.0);
}

void add_prompt_options(CLI::App* app, RequestOptions& o) {
  app->add_option("--prompt", o.prompt, "the prompt (plain text, tags, or NewBie's XML structure)");
  app->add_option("--prompt-file", o.prompt_file,
                  "a file with one prompt per line ('#' comments), or one XML-structured prompt");
  add_request_parameter_options(app, o);
  app->add_option("--seed", o.seed, "seed of the first image (the next prompts get seed+1, ...); random if absent");
}

sampling::GenerationRequest request_defaults(const RequestOptions& o) {
  auto r = o.defaults;
  r.negative_prompt = o.negative;
  const auto& presets = worker::system_prompt_presets();
  r.system_prompt = presets.count(o.system_prompt) ? presets.at(o.system_prompt) : o.system_prompt;  // else free text
  return r;
}

std::vector<sampling::GenerationRequest> build_requests(const RequestOptions& o) {
  std::vector<std::string> prompts;
  if (!o.prompt.empty() && !o.prompt_file.empty()) throw UsageError("give --prompt or --prompt-file, not both");
  if (!o.prompt_file.empty()) prompts = coordinator::read_prompt_file(o.prompt_file);
  else if (!o.prompt.empty()) prompts = {o.prompt};
  else throw UsageError("no prompt given", "use --prompt TEXT or --prompt-file FILE");

  const auto defaults = request_defaults(o);
  // Under mpirun rank 0 speaks for the job (its requests, seeds included, are the ones run).
  const bool speaks = transport::Membership::launcher_rank() <= 0;
  std::vector<sampling::GenerationRequest> requests;
  for (size_t i = 0; i < prompts.size(); ++i) {
    auto r = defaults;
    r.prompt = prompts[i];
    r.seed = o.seed ? *o.seed + i : sampling::random_seed();
    r.validate();
    if (!o.seed && speaks) std::cerr << "prompt " << i + 1 << ": seed " << r.seed << "\n";
    if (speaks && r.prompt.find('<') != std::string::npos)
      for (const auto& w : coordinator::lint_structured_prompt(r.prompt))
        std::cerr << "baton: warning: prompt " << i + 1 << ": " << w << " (the prompt still runs)\n";
    requests.push_back(r);
  }
  return requests;
}

void add_pipeline_options(CLI::App* app, coordinator::PipelineOptions& o) {
  app->add_option("--model", o.model,
                  "model folder (NewBie, diffusers or ComfyUI layout), 'demo' for a tiny random-weight model, or "
                  "'random' for the released sizes with random weights (benchmarks; no checkpoint needed)")
      ->required();
  app->add_option("--devices", o.devices,
                  "devices and budgets, e.g. cuda:0=8GiB,cuda:1=8GiB,cpu=32GiB (default: auto = what this machine "
                  "has); under mpirun one device per rank, in rank order")
      ->default_val("auto");
  app->add_option("--plan", o.plan_file, "a saved plan (baton plan -o FILE) instead of planning now");
  app->add_option("--dtype", o.dtype, "weights on GPUs: bf16 (default), fp16 or fp32 (CPUs use fp32); or 8-bit int8 or fp8 on every "
                  "device (Gemma and the DiT blocks; docs/quantization.md)");
  app->add_option("--text-on", o.text_on, "where the text encoders go: auto, cpu, or a device")->default_val("auto");
  app->add_option("--microbatch", o.microbatch, "CFG branches per microbatch: 2 (batched) or 1")
      ->default_val(2)
      ->check(CLI::IsMember({1, 2}));
  app->add_option("--max-in-flight", o.max_in_flight, "requests in the pipeline at once (default: stages + 1)");
  app->add_flag("--cuda-graphs", o.cuda_graphs,
               "replay the DiT blocks of each step from CUDA graphs (one captured per request shape): fewer "
               "kernel launches, same images; pays at small sizes (docs/performance.md)");
  app->add_option("--trace", o.trace_file,
                  "append a JSON line per message each stage handled (stage, request, step, start and end in us)");
}

void add_client_options(CLI::App* app, ClientOptions& o) {
  app->add_option("--endpoint", o.endpoint, "where `baton serve` listens")
      ->default_val(coordinator::kDefaultServiceEndpoint);
  app->add_option("--timeout", o.timeout_s, "seconds to wait for an answer (and for any sign of life while waiting)")
      ->default_val(30)
      ->check(CLI::Range(0.1, 3600.0));
  app->add_option("--token-file", o.credentials.token_file, "the server's shared token (baton keygen --token FILE)");
  app->add_option("--curve-key", o.credentials.curve_key_file, "this client's CurveZMQ key pair (NAME.key of baton keygen)");
  app->add_option("--server-key", o.credentials.server_key_file, "the server's CurveZMQ public key (its NAME.pub)");
}

void add_server_security_options(CLI::App* app, coordinator::ServerSecurity& o) {
  app->add_option("--token-file", o.token_file,
                  "admit clients that present this shared token (baton keygen --token FILE); traffic is not encrypted");
  app->add_option("--curve-key", o.curve_key_file, "the server's CurveZMQ key pair (NAME.key of baton keygen): encrypts");
  app->add_option("--curve-clients", o.curve_clients_file,
                  "the clients' CurveZMQ public keys, one per line (cat alice.pub bob.pub > FILE)");
}

}  // namespace baton::cli
