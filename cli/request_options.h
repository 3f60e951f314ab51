#pragma once
// The options generate, submit, serve and batch share, declared once: the
// request parameters (--width, --steps, --cfg, ...), the prompts (--prompt,
// --prompt-file, --seed), the model and devices (--model, --devices, ...)
// and the service's endpoint and credentials.
#include <CLI/CLI.hpp>

#include <optional>
#include <string>
#include <vector>

#include "coordinator/pipeline.h"
#include "coordinator/service_security.h"
#include "sampling/generation_request.h"

namespace baton::cli {

struct RequestOptions {
  std::string prompt, prompt_file, negative, system_prompt;
  sampling::GenerationRequest defaults;  // width, height, steps, cfg, ...
  std::optional<uint64_t> seed;
};

// --negative, --system-prompt, --width, --height, --steps, --cfg, --cfg-trunc, --renorm, --shift.
void add_request_parameter_options(CLI::App* app, RequestOptions& o);
// --prompt, --prompt-file, --seed, and the request parameters.
void add_prompt_options(CLI::App* app, RequestOptions& o);
// The parameters with the system prompt preset resolved: what every request starts from.
sampling::GenerationRequest request_defaults(const RequestOptions& o);
// One request per prompt of --prompt/--prompt-file, seeds --seed, --seed+1, ...
// or random (printed on stderr); structured prompts are linted (warnings on stderr).
std::vector<sampling::GenerationRequest> build_requests(const RequestOptions& o);

// --model (required), --devices, --plan, --dtype, --text-on, --microbatch, --max-in-flight.
void add_pipeline_options(CLI::App* app, coordinator::PipelineOptions& o);

// --listen's counterpart for clients: --endpoint, --timeout, --token-file, --curve-key, --server-key.
struct ClientOptions {
  std::string endpoint;
  double timeout_s = 30;
  coordinator::ClientCredentials credentials;
};
void add_client_options(CLI::App* app, ClientOptions& o);
// --token-file, --curve-key, --curve-clients.
void add_server_security_options(CLI::App* app, coordinator::ServerSecurity& o);

}  // namespace baton::cli
