#include <gtest/gtest.h>

#include "core/error.h"
#include "io/tensor_naming.h"
#include "io/tiny_model.h"

namespace baton::io {

static std::vector<std::string> canonical_names(Component c) {
  const auto& cfg = tiny_model_configs();
  models::TensorShapes shapes;
  switch (c) {
    case Component::Transformer: shapes = models::nextdit_tensor_shapes(cfg.transformer); break;
    case Component::TextEncoder: shapes = models::gemma3_tensor_shapes(cfg.text_encoder, true); break;
    case Component::Clip: shapes = models::jina_tensor_shapes(cfg.clip); break;
    case Component::Vae: shapes = models::vae_decoder_tensor_shapes(cfg.vae); break;
  }
  std::vector<std::string> out;
  for (const auto& kv : shapes) out.push_back(kv.first);
  return out;
}

// canonical -> file -> canonical gives the name back, part by part.
static void expect_round_trip(const TensorNaming& naming, const std::vector<std::string>& names, size_t dropped = 0) {
  size_t seen_dropped = 0;
  for (const auto& name : names) {
    const auto files = naming.to_file(name);
    if (files.empty()) {
      ++seen_dropped;
      continue;
    }
    for (size_t i = 0; i < files.size(); ++i) {
      const auto part = naming.to_canonical(files[i]);
      ASSERT_TRUE(part) << naming.describe() << ": " << files[i] << " maps to nothing";
      EXPECT_EQ(part->canonical, name) << files[i];
      EXPECT_EQ(part->index, static_cast<int>(i));
      EXPECT_EQ(part->count, static_cast<int>(files.size()));
    }
  }
  EXPECT_EQ(seen_dropped, dropped) << naming.describe();
}

TEST(TensorNaming, EveryNamingRoundTripsEveryTensor) {
  expect_round_trip(*prefix_naming(""), canonical_names(Component::Transformer));
  expect_round_trip(*prefix_naming("model.diffusion_model."), canonical_names(Component::Transformer));
  expect_round_trip(*lumina2_naming(), canonical_names(Component::Transformer), 1);  // norm_final.weight
  for (const auto& p : gemma_prefixes()) expect_round_trip(*prefix_naming(p), canonical_names(Component::TextEncoder));
  for (const auto& p : jina_prefixes()) expect_round_trip(*prefix_naming(p), canonical_names(Component::Clip));
  expect_round_trip(*prefix_naming("decoder."), canonical_names(Component::Vae));
  expect_round_trip(*bfl_vae_naming(4), canonical_names(Component::Vae));
}

TEST(TensorNaming, Lumina2NamesFollowSpecA3) {
  auto n = lumina2_naming();
  EXPECT_EQ(n->to_file("layers.3.attention.qkv.weight"),
            (std::vector<std::string>{"layers.3.attn.to_q.weight", "layers.3.attn.to_k.weight", "layers.3.attn.to_v.weight"}));
  EXPECT_EQ(n->to_file("layers.3.attention.out.weight")[0], "layers.3.attn.to_out.0.weight");
  EXPECT_EQ(n->to_file("noise_refiner.1.attention_norm1.weight")[0], "noise_refiner.1.norm1.norm.weight");
  EXPECT_EQ(n->to_file("context_refiner.1.attention_norm1.weight")[0], "context_refiner.1.norm1.weight");
  EXPECT_EQ(n->to_file("layers.0.adaLN_modulation.1.bias")[0], "layers.0.norm1.linear.bias");
  EXPECT_EQ(n->to_file("layers.0.feed_forward.w3.weight")[0], "layers.0.feed_forward.linear_3.weight");
  EXPECT_EQ(n->to_file("cap_embedder.0.weight")[0], "time_caption_embed.caption_embedder.0.weight");
  EXPECT_EQ(n->to_file("t_embedder.mlp.2.bias")[0], "time_caption_embed.timestep_embedder.linear_2.bias");
  EXPECT_EQ(n->to_file("final_layer.adaLN_modulation.1.weight")[0], "norm_out.linear_1.weight");
  EXPECT_EQ(n->to_file("final_layer.linear.weight")[0], "norm_out.linear_2.weight");
  EXPECT_TRUE(n->to_file("norm_final.weight").empty());
  EXPECT_FALSE(n->to_canonical("layers.0.attn.unknown.weight"));
}

TEST(TensorNaming, BflVaeNamesFollowSpecE3) {
  auto n = bfl_vae_naming(4);
  EXPECT_EQ(n->to_file("mid_block.resnets.1.conv2.weight")[0], "decoder.mid.block_2.conv2.weight");
  EXPECT_EQ(n->to_file("up_blocks.0.resnets.2.norm1.bias")[0], "decoder.up.3.block.2.norm1.bias");
  EXPECT_EQ(n->to_file("up_blocks.3.resnets.0.conv_shortcut.weight")[0], "decoder.up.0.block.0.nin_shortcut.weight");
  EXPECT_EQ(n->to_file("up_blocks.1.upsamplers.0.conv.weight")[0], "decoder.up.2.upsample.conv.weight");
  EXPECT_EQ(n->to_file("mid_block.attentions.0.to_out.0.weight")[0], "decoder.mid.attn_1.proj_out.weight");
  EXPECT_EQ(n->to_file("conv_norm_out.weight")[0], "decoder.norm_out.weight");
  EXPECT_TRUE(n->to_canonical("decoder.mid.attn_1.q.weight")->conv1x1);
  EXPECT_FALSE(n->to_canonical("decoder.mid.attn_1.q.bias")->conv1x1);
  EXPECT_FALSE(n->to_canonical("decoder.mid.attn_1.norm.weight")->conv1x1);
  EXPECT_FALSE(n->to_canonical("encoder.conv_in.weight"));
}

TEST(TensorNaming, DetectsEveryPrefixAndNamingFromContent) {
  for (const std::string p : {"language_model.model.", "model.language_model.", "language_model.", "model.", ""}) {
    auto n = detect_gemma_naming({p + "embed_tokens.weight", p + "layers.0.input_layernorm.weight", "vision_tower.x"}, "f");
    EXPECT_EQ(n->to_canonical(p + "layers.0.input_layernorm.weight")->canonical, "layers.0.input_layernorm.weight") << p;
  }
  EXPECT_EQ(detect_jina_naming({"text_model.transformer.roberta.emb_ln.weight", "logit_scale"}, "f")->describe(),
            "prefix 'text_model.transformer.roberta.'");
  EXPECT_EQ(detect_jina_naming({"model.emb_ln.weight", "spiece_model"}, "f")->describe(), "prefix 'model.'");
  EXPECT_EQ(detect_dit_naming({"model.diffusion_model.x_embedder.weight"}, "f")->describe(), "prefix 'model.diffusion_model.'");
  EXPECT_EQ(detect_dit_naming({"x_embedder.weight"}, "f")->describe(), "no prefix");
  EXPECT_EQ(detect_dit_naming({"time_caption_embed.caption_embedder.1.weight"}, "f")->describe(), "diffusers Lumina2 names");
  EXPECT_EQ(detect_vae_naming({"decoder.mid.block_1.conv1.weight", "decoder.up.3.block.0.conv1.weight"}, "f")->describe(),
            "BFL ae.safetensors names");
  EXPECT_EQ(detect_vae_naming({"decoder.mid_block.resnets.0.conv1.weight"}, "f")->describe(), "prefix 'decoder.'");
  try {
    detect_gemma_naming({"something.else"}, "te.safetensors");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("te.safetensors: holds no Gemma3 text model tensors"), std::string::npos) << e.what();
  }
}

}  // namespace baton::io
