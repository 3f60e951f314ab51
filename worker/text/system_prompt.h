#pragma once
// The Gemma system prompt (spec C.4): NewBie prepends it to the caption for
// Gemma only. Presets name the prompts the model was trained with.
#include <map>
#include <string>

namespace baton::worker {

// "none" -> "" (the NewBie pipeline's default), "xml" and "plain" -> the two
// training prompts of spec C.4 (with their trailing space).
const std::map<std::string, std::string>& system_prompt_presets();
// The preset's text; throws UsageError naming the known presets otherwise.
const std::string& system_prompt_preset(const std::string& name);
// The default preset's name ("none", as the NewBie pipeline: system_prompt="").
inline const char* default_system_prompt_preset() { return "none"; }

}  // namespace baton::worker
