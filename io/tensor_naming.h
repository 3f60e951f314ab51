#pragma once
// How a checkpoint file names a network's tensors, mapped both ways to the
// canonical names the models use (design brief "Canonical names"): DiT = spec
// A.3 names; Gemma = embed_tokens/layers.{i}/norm; Jina = names under
// text_model.transformer.roberta. (merged or LoRA-parametrized); VAE =
// diffusers decoder names without "decoder.". One mapping serves the reader
// (file -> canonical) and the tiny-model writer (canonical -> file).
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace baton::io {

// One file tensor's place in a canonical tensor.
struct TensorPart {
  std::string canonical;
  int index = 0;         // position among the parts concatenated along dim 0
  int count = 1;         // number of parts (3 for a split q/k/v)
  bool conv1x1 = false;  // stored as [out, in, 1, 1], canonical [out, in]
};

class TensorNaming {
 public:
  virtual ~TensorNaming() = default;
  // For messages and `baton inspect`: "diffusers Lumina2 names", "prefix 'model.'".
  virtual std::string describe() const = 0;
  // The canonical tensor a file tensor belongs to; nullopt for tensors outside
  // the network (Gemma's vision tower, the VAE encoder, Jina's vision model).
  virtual std::optional<TensorPart> to_canonical(const std::string& file_name) const = 0;
  // File names of a canonical tensor's parts in concatenation order; empty
  // when the layout drops the tensor (diffusers has no norm_final.weight).
  virtual std::vector<std::string> to_file(const std::string& canonical) const = 0;
};

// Canonical names behind a fixed prefix ("" for none).
std::unique_ptr<TensorNaming> prefix_naming(const std::string& prefix);
// diffusers Lumina2Transformer2DModel names (spec A.3): attn.to_q/to_k/to_v
// concatenate into attention.qkv, time_caption_embed.*, norm_out.*, ...
std::unique_ptr<TensorNaming> lumina2_naming();
// BFL's original ae.safetensors decoder names (spec E.3): decoder.mid.block_1,
// decoder.up.{n-1-b}, nin_shortcut, 1x1-conv attention weights.
std::unique_ptr<TensorNaming> bfl_vae_naming(int up_blocks);

// Recognise the naming from the names a file holds. Error naming `where` and
// what was looked for when nothing fits.
std::unique_ptr<TensorNaming> detect_dit_naming(const std::vector<std::string>& names, const std::string& where);
std::unique_ptr<TensorNaming> detect_gemma_naming(const std::vector<std::string>& names, const std::string& where);
std::unique_ptr<TensorNaming> detect_jina_naming(const std::vector<std::string>& names, const std::string& where);
std::unique_ptr<TensorNaming> detect_vae_naming(const std::vector<std::string>& names, const std::string& where);

// Prefixes tried, in order (spec A.3, C.5, D.5; ComfyUI's own for Jina: "model.").
const std::vector<std::string>& dit_prefixes();
const std::vector<std::string>& gemma_prefixes();
const std::vector<std::string>& jina_prefixes();

}  // namespace baton::io
