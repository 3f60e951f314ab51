#include "worker/text/system_prompt.h"

#include "core/error.h"

namespace baton::worker {

const std::map<std::string, std::string>& system_prompt_presets() {
  static const std::map<std::string, std::string> presets = {
      {"none", ""},
      {"xml",
       "You are an assistant designed to generate high-quality anime images based on xml format prompts. "
       "<Prompt Start> "},
      {"plain",
       "You are an assistant designed to generate high-quality anime images with the highest degree of "
       "image-text alignment based on textual prompts. <Prompt Start> "},
  };
  return presets;
}

const std::string& system_prompt_preset(const std::string& name) {
  const auto& presets = system_prompt_presets();
  auto it = presets.find(name);
  if (it == presets.end()) {
    std::string known;
    for (const auto& kv : presets) known += (known.empty() ? "" : ", ") + kv.first;
    throw UsageError("unknown system prompt preset '" + name + "'", "known presets: " + known +
                                                                       " (or give the system prompt as text)");
  }
  return it->second;
}

}  // namespace baton::worker
