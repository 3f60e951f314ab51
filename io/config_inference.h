#pragma once
// Configs recovered from tensor shapes, for checkpoints that come without a
// config.json (ComfyUI single files). What shapes cannot tell (RoPE, layer
// kinds, group counts) keeps the released value; `notes` says which keys were
// inferred and which were assumed.
#include <string>
#include <vector>

#include "core/tensor_source.h"
#include "models/gemma3/gemma3_config.h"
#include "models/jina/jina_config.h"
#include "models/nextdit/nextdit_config.h"
#include "models/vae/vae_config.h"

namespace baton::io {

// Each takes a source under canonical names (io/renamed_source.h).
models::NextDitConfig infer_nextdit_config(const TensorSource& weights, std::vector<std::string>& notes);
models::Gemma3Config infer_gemma3_config(const TensorSource& weights, std::vector<std::string>& notes);
models::JinaConfig infer_jina_config(const TensorSource& weights, std::vector<std::string>& notes);
models::VaeConfig infer_vae_config(const TensorSource& weights, std::vector<std::string>& notes);

}  // namespace baton::io
