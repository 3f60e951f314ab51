#pragma once
// The tiny golden models of tests/data (GOLDEN.md) opened for a test: the
// file, the weights under their canonical names, the config from the file's
// metadata, and the recorded inputs and reference output.
#include <nlohmann/json.hpp>

#include "core/tensor_source.h"
#include "io/safetensors_file.h"
#include "models/gemma3/gemma3_config.h"
#include "models/jina/jina_config.h"
#include "models/nextdit/nextdit_config.h"
#include "models/vae/vae_config.h"
#include "tests/support/temp_dir.h"

namespace baton::test {

namespace golden {
inline at::TensorOptions f32() { return at::TensorOptions().dtype(at::kFloat); }
inline at::TensorOptions i64() { return at::TensorOptions().dtype(at::kLong); }
inline nlohmann::json config_of(const io::SafetensorsFile& f) { return nlohmann::json::parse(f.metadata().at("config")); }
}  // namespace golden

// dit_a: one Next-DiT call on a CFG pair of captions.
struct DitGolden {
  io::SafetensorsFile file{test_data("dit_a.safetensors")};
  PrefixedSource weights{file, "weights."};
  models::NextDitConfig config = models::NextDitConfig::from_json(golden::config_of(file));
  at::Tensor x = file.load("in.x", golden::f32());
  at::Tensor t = file.load("in.t", golden::f32());
  at::Tensor cap_feats = file.load("in.cap_feats", golden::f32());
  at::Tensor cap_mask = file.load("in.cap_mask", golden::i64());
  at::Tensor clip = file.load("in.clip_text_pooled", golden::f32());
  at::Tensor ref = file.load("out.velocity", golden::f32());
};

// gemma3_a: the caption encoder's second-to-last hidden states.
struct GemmaGolden {
  io::SafetensorsFile file{test_data("gemma3_a.safetensors")};
  PrefixedSource weights{file, "weights.language_model.model."};
  models::Gemma3Config config = models::Gemma3Config::from_json(golden::config_of(file));
  at::Tensor ids = file.load("in.input_ids", golden::i64());
  at::Tensor mask = file.load("in.attention_mask", golden::i64());
  at::Tensor ref = file.load("out.hidden_states_m2", golden::f32());
};

// jina_a: the Jina CLIP v2 text tower's pooled output (LoRA-parametrized weights).
struct JinaGolden {
  io::SafetensorsFile file{test_data("jina_a.safetensors")};
  PrefixedSource weights{file, "weights.text_model.transformer.roberta."};
  models::JinaConfig config = models::JinaConfig::from_json(golden::config_of(file));
  at::Tensor ids = file.load("in.input_ids", golden::i64());
  at::Tensor ref = file.load("out.pooled", golden::f32());
};

// vae_a: a latent decoded to an image by a tiny FLUX-style VAE decoder.
struct VaeGolden {
  io::SafetensorsFile file{test_data("vae_a.safetensors")};
  models::VaeConfig config = models::VaeConfig::from_json(golden::config_of(file));
  PrefixedSource weights{file, "weights.decoder."};
  at::Tensor latent = file.load("in.latent", golden::f32());
  at::Tensor expected = file.load("out.image", golden::f32());
};

}  // namespace baton::test
