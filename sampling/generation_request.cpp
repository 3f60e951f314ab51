#include "sampling/generation_request.h"

#include <nlohmann/json.hpp>
#include <random>

#include "core/error.h"
#include "core/utf8.h"

namespace baton::sampling {

void GenerationRequest::validate() const {
  auto bad = [](const std::string& what, const std::string& hint) { throw UsageError(what, hint); };
  if (width % 16 || height % 16 || width <= 0 || height <= 0)
    bad("image size " + std::to_string(width) + "x" + std::to_string(height) + " is not a positive multiple of 16",
        "use sizes like 1024x1024, 832x1216 or 512x512");
  // RoPE tables of the released model cover a 512x512 patch grid (spec A.8): 8192 px.
  if (width > 8192 || height > 8192) bad("image size above 8192 pixels per side", "use at most 8192x8192");
  if (steps < 1 || steps > 1000) bad("steps must be between 1 and 1000 (got " + std::to_string(steps) + ")", "");
  if (!(cfg_scale >= 0 && cfg_scale <= 100)) bad("cfg scale must be between 0 and 100", "5.0 is the default");
  if (!(cfg_trunc >= 0 && cfg_trunc <= 1)) bad("cfg-trunc must be between 0 and 1", "1.0 guides every step");
  if (!(renorm_cfg >= 0 && renorm_cfg <= 100)) bad("renorm must be between 0 and 100", "0 turns it off; 1.0 is the default");
  if (!(shift > 0 && shift <= 100)) bad("shift must be in (0, 100]", "6.0 is the default");
  if (prompt.size() > 64 * 1024 || negative_prompt.size() > 64 * 1024 || system_prompt.size() > 64 * 1024)
    bad("prompt text longer than 64 KiB", "prompts are truncated to 512 tokens anyway");
  if (!is_utf8(prompt) || !is_utf8(negative_prompt) || !is_utf8(system_prompt))
    bad("prompt text is not valid UTF-8", "save prompt files as UTF-8");
}

nlohmann::json GenerationRequest::to_json() const {
  return {{"prompt", prompt},       {"negative_prompt", negative_prompt}, {"system_prompt", system_prompt},
          {"width", width},         {"height", height},                   {"steps", steps},
          {"cfg_scale", cfg_scale}, {"cfg_trunc", cfg_trunc},             {"renorm_cfg", renorm_cfg},
          {"shift", shift},         {"seed", seed}};
}

GenerationRequest GenerationRequest::from_json(const nlohmann::json& j, const GenerationRequest& defaults) {
  if (!j.is_object()) throw UsageError("a request must be a JSON object, got: " + j.dump().substr(0, 80));
  GenerationRequest r = defaults;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& k = it.key();
    const auto& v = it.value();
    try {
      if (k == "prompt") r.prompt = v.get<std::string>();
      else if (k == "negative_prompt" || k == "negative") r.negative_prompt = v.get<std::string>();
      else if (k == "system_prompt") r.system_prompt = v.get<std::string>();
      else if (k == "width") r.width = v.get<int64_t>();
      else if (k == "height") r.height = v.get<int64_t>();
      else if (k == "steps") r.steps = v.get<int64_t>();
      else if (k == "cfg_scale" || k == "cfg") r.cfg_scale = v.get<double>();
      else if (k == "cfg_trunc") r.cfg_trunc = v.get<double>();
      else if (k == "renorm_cfg" || k == "renorm") r.renorm_cfg = v.get<double>();
      else if (k == "shift") r.shift = v.get<double>();
      else if (k == "seed") {
        if (!v.is_number_unsigned()) throw UsageError("request field 'seed' must be a non-negative integer");
        r.seed = v.get<uint64_t>();
      } else
        throw UsageError("unknown request field '" + k + "'",
                         "fields: prompt, negative_prompt, system_prompt, width, height, steps, cfg_scale, "
                         "cfg_trunc, renorm_cfg, shift, seed");
    } catch (const nlohmann::json::exception&) {
      throw UsageError("request field '" + k + "' has the wrong type: " + v.dump().substr(0, 80));
    }
  }
  r.validate();
  return r;
}

GenerationRequest GenerationRequest::from_json(const nlohmann::json& j) { return from_json(j, GenerationRequest()); }

uint64_t random_seed() {
  std::random_device rd;
  // 53 bits: seeds survive a round trip through JSON numbers in any language.
  return ((static_cast<uint64_t>(rd()) << 32) ^ rd()) & ((uint64_t(1) << 53) - 1);
}

}  // namespace baton::sampling
