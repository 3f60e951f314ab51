#pragma once
// One image to make (design.md "request"): the prompt and every sampling
// parameter, checked before any work starts, and serialisable as JSON (PNG
// metadata, the batch manifest, the service's wire format).
#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>

namespace baton::sampling {

struct GenerationRequest {
  std::string prompt;
  std::string negative_prompt;      // "" = unconditional branch on an empty caption
  std::string system_prompt;        // prepended for Gemma only (spec C.4)
  int64_t width = 1024;
  int64_t height = 1024;
  int64_t steps = 28;
  double cfg_scale = 5.0;
  double cfg_trunc = 1.0;           // guide while t < cfg_trunc (spec A.12)
  double renorm_cfg = 1.0;          // 0 = off
  double shift = 6.0;
  uint64_t seed = 0;

  // Throws UsageError naming the field and the allowed range.
  void validate() const;
  nlohmann::json to_json() const;
  // Missing fields take their value from `defaults`; unknown fields and wrong
  // types are refused (UsageError), so a typo in a batch file is not silently ignored.
  static GenerationRequest from_json(const nlohmann::json& j, const GenerationRequest& defaults);
  static GenerationRequest from_json(const nlohmann::json& j);  // the defaults above
  // The image's latent grid: [16, height/8, width/8].
  int64_t latent_height() const { return height / 8; }
  int64_t latent_width() const { return width / 8; }
};

// A fresh random seed (for requests that give none); printed so the image can be remade.
uint64_t random_seed();

}  // namespace baton::sampling
