#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "io/json_document.h"
#include "io/model_folder.h"
#include "io/model_inspection.h"
#include "io/safetensors_file.h"
#include "io/safetensors_writer.h"
#include "io/sentencepiece_model.h"
#include "io/tiny_model.h"
#include "tests/support/temp_dir.h"

namespace baton::io {
namespace fs = std::filesystem;

static std::string tiny(const test::TempDir& dir, Layout layout, uint64_t seed = 5) {
  const std::string path = dir.file(layout_name(layout));
  write_tiny_model(path, {layout, seed, StDtype::F32});
  return path;
}

static std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

// Jina LoRA pairs folded in, as the comfy file stores them.
static at::Tensor merged_jina(const TensorSource& parametrized, const std::string& name) {
  if (parametrized.contains(name)) return parametrized.load(name, at::kFloat);
  const std::string stem = name.substr(0, name.size() - 7), p = stem + ".parametrizations.weight.";
  return merge_lora(parametrized.load(p + "original", at::kFloat), parametrized.load(p + "0.lora_A", at::kFloat),
                    parametrized.load(p + "0.lora_B", at::kFloat), stem.rfind("embeddings.", 0) == 0, 1.0);
}

TEST(ModelFolder, ThreeLayoutsOfOneSeedLoadIdenticalCanonicalTensors) {
  test::TempDir dir;
  const ModelFolder newbie(tiny(dir, Layout::NewBie)), diffusers(tiny(dir, Layout::Diffusers)), comfy(tiny(dir, Layout::Comfy));
  for (Component c : all_components()) {
    const auto truth = tiny_model_weights(c, 5);
    const auto n = newbie.weights(c), d = diffusers.weights(c), k = comfy.weights(c);
    for (const auto& name : truth->names()) {
      const auto want = truth->load(name, at::kFloat);
      EXPECT_TRUE(at::equal(n->load(name, at::kFloat), want)) << "newbie " << name;
      if (name == "norm_final.weight") EXPECT_FALSE(d->contains(name));  // the diffusers conversion drops it
      else EXPECT_TRUE(at::equal(d->load(name, at::kFloat), want)) << "diffusers " << name;
      if (c != Component::Clip) EXPECT_TRUE(at::equal(k->load(name, at::kFloat), want)) << "comfy " << name;
    }
    if (c == Component::Clip) {  // comfy stores the merged form (spec D.3)
      for (const auto& kv : models::jina_tensor_shapes(tiny_model_configs().clip)) {
        const auto want = merged_jina(*truth, kv.first);
        EXPECT_TRUE(at::allclose(k->load(kv.first, at::kFloat), want, 1e-6, 1e-6)) << "comfy " << kv.first;
      }
      // The LoRA pairs are not zero: merging changes the weights.
      const std::string qkv = "encoder.layers.0.mixer.Wqkv";
      EXPECT_FALSE(at::allclose(k->load(qkv + ".weight", at::kFloat),
                                n->load(qkv + ".parametrizations.weight.original", at::kFloat)));
    }
    EXPECT_EQ(n->names().size(), truth->names().size()) << component_name(c);
  }
}

TEST(ModelFolder, RecognisesLayoutsAndCompletesConfigsFromTheSpec) {
  test::TempDir dir;
  const auto& cfg = tiny_model_configs();
  for (Layout layout : {Layout::NewBie, Layout::Diffusers, Layout::Comfy}) {
    const ModelFolder f(tiny(dir, layout));
    EXPECT_EQ(f.layout(), layout);
    EXPECT_EQ(f.transformer_config().to_json(), cfg.transformer.to_json()) << layout_name(layout);
    EXPECT_EQ(f.text_encoder_config().to_json(), cfg.text_encoder.to_json()) << layout_name(layout);
    EXPECT_EQ(f.clip_config().to_json(), cfg.clip.to_json()) << layout_name(layout);
    EXPECT_EQ(f.vae_config().to_json(), cfg.vae.to_json()) << layout_name(layout);
    EXPECT_EQ(f.scheduler_shift(), 6.0);
    // Tokenizers: Gemma's pieces = its vocab_size; XLM-R ids (pieces + 1, then <mask>) fit Jina's.
    SentencePieceModel gemma(f.tokenizer_path(Component::TextEncoder));
    SentencePieceModel xlmr(f.tokenizer_path(Component::Clip));
    EXPECT_EQ(gemma.piece_count(), cfg.text_encoder.vocab_size);
    EXPECT_EQ(gemma.bos_id(), 2);
    EXPECT_EQ(xlmr.piece_count() + 2, cfg.clip.vocab_size);
    EXPECT_EQ(xlmr.bos_id(), 1);
  }
  const ModelFolder newbie(dir.file("newbie"));
  const auto& notes = newbie.config_notes(Component::Transformer);
  ASSERT_EQ(notes.size(), 2u);
  EXPECT_NE(notes[0].find("qk_norm = true"), std::string::npos);
  EXPECT_NE(notes[1].find("cap_feat_dim = 64 (not in the config; the text encoder's hidden_size)"), std::string::npos);
  EXPECT_EQ(newbie.config_source(Component::Transformer), "transformer/config.json");
  const ModelFolder diffusers(dir.file("diffusers"));
  EXPECT_NE(diffusers.config_notes(Component::Transformer)[0].find("clip_text_dim = 32 (not in the config; the clip model's hidden_size)"),
            std::string::npos);
  const ModelFolder comfy(dir.file("comfy"));
  EXPECT_EQ(comfy.config_source(Component::Vae), "metadata of vae/ae.safetensors");
  EXPECT_EQ(comfy.tokenizer_source(Component::Clip), "tensor spiece_model in " + comfy.weights_path(Component::Clip));
}

// ComfyUI's own files carry no config: everything shapes can tell is inferred.
TEST(ModelFolder, InfersComfyConfigsFromShapesWithoutMetadata) {
  test::TempDir dir;
  const std::string path = tiny(dir, Layout::Comfy);
  for (const char* rel : {"diffusion_models/NewBie-Image-Exp0.1-tiny.safetensors", "text_encoders/gemma_3_4b_it_tiny.safetensors",
                          "text_encoders/jina_clip_v2_tiny.safetensors", "vae/ae.safetensors"}) {
    const std::string file = path + "/" + rel;
    SafetensorsWriter w;
    {
      SafetensorsFile f(file);
      for (const auto& name : f.names()) w.add(name, f.load(name, at::TensorOptions().dtype(name == "spiece_model" ? at::kByte : at::kFloat)));
    }
    w.write(file);  // same tensors, no metadata
  }
  const ModelFolder f(path);
  const auto& cfg = tiny_model_configs();
  const auto& d = f.transformer_config();
  EXPECT_EQ(d.dim, cfg.transformer.dim);
  EXPECT_EQ(d.n_layers, cfg.transformer.n_layers);
  EXPECT_EQ(d.n_refiner_layers, cfg.transformer.n_refiner_layers);
  EXPECT_EQ(d.n_heads, cfg.transformer.n_heads);
  EXPECT_EQ(d.n_kv_heads, cfg.transformer.n_kv_heads);
  EXPECT_EQ(d.cap_feat_dim, cfg.transformer.cap_feat_dim);
  EXPECT_EQ(d.clip_text_dim, cfg.transformer.clip_text_dim);
  EXPECT_EQ(models::nextdit_tensor_shapes(d), models::nextdit_tensor_shapes(cfg.transformer));
  EXPECT_EQ(models::gemma3_tensor_shapes(f.text_encoder_config(), true), models::gemma3_tensor_shapes(cfg.text_encoder, true));
  EXPECT_EQ(models::jina_tensor_shapes(f.clip_config()), models::jina_tensor_shapes(cfg.clip));
  EXPECT_EQ(models::vae_decoder_tensor_shapes(f.vae_config()), models::vae_decoder_tensor_shapes(cfg.vae));
  EXPECT_EQ(f.vae_config().norm_num_groups, 16) << "not in the shapes: the largest divisor of the channels up to 32";
  EXPECT_NE(f.config_source(Component::Transformer).find("inferred from the tensor shapes"), std::string::npos);
  EXPECT_TRUE(inspect_model_folder(path).ok());
}

TEST(ModelFolder, AComfyTokenizersFolderTakesPrecedence) {
  test::TempDir dir;
  const std::string path = tiny(dir, Layout::Comfy);
  fs::create_directories(path + "/tokenizers");
  const std::string extracted = ModelFolder(path).tokenizer_path(Component::TextEncoder);
  EXPECT_EQ(SentencePieceModel(extracted).piece_count(), tiny_model_configs().text_encoder.vocab_size);
  fs::copy_file(extracted, path + "/tokenizers/tokenizer.model");
  EXPECT_EQ(ModelFolder(path).tokenizer_path(Component::TextEncoder), path + "/tokenizers/tokenizer.model");
}

TEST(ModelFolder, RefusesWhatIsNotAModelFolder) {
  test::TempDir dir;
  EXPECT_NE(error_of([&] { ModelFolder f(dir.file("absent")); }).find("absent is not a folder"), std::string::npos);
  EXPECT_NE(error_of([&] { ModelFolder f(dir.path()); }).find("is not a NewBie model folder"), std::string::npos);
  std::ofstream(dir.file("model_index.json")) << R"({"_class_name": "StableDiffusionPipeline", "unet": []})";
  EXPECT_NE(error_of([&] { ModelFolder f(dir.path()); }).find("names neither clip_model"), std::string::npos);
  std::ofstream(dir.file("model_index.json")) << R"({"clip_model": 1, "clip_model": 2})";
  EXPECT_NE(error_of([&] { ModelFolder f(dir.path()); }).find("key 'clip_model' appears twice"), std::string::npos);
  EXPECT_NE(error_of([&] { write_tiny_model(dir.path(), {}); }).find("already exists and is not an empty folder"),
            std::string::npos);
}

TEST(ModelFolder, BrokenComponentsGiveErrorsNamingFileAndTensor) {
  test::TempDir dir;
  const std::string path = tiny(dir, Layout::NewBie);
  // A missing shard.
  fs::remove(path + "/text_encoder/model-00002-of-00002.safetensors");
  // A transformer config that disagrees with the tensors.
  auto config = read_json_file(path + "/transformer/config.json");
  config["dim"] = 128;
  config["axes_dims"] = {16, 8, 8};
  write_json_file(path + "/transformer/config.json", config);
  // A VAE without conv_in.weight.
  {
    SafetensorsFile f(path + "/vae/diffusion_pytorch_model.safetensors");
    SafetensorsWriter w;
    for (const auto& name : f.names())
      if (name != "decoder.conv_in.weight") w.add(name, f.load(name, at::kFloat));
    w.write(path + "/vae/rewritten.safetensors");
  }
  fs::rename(path + "/vae/rewritten.safetensors", path + "/vae/diffusion_pytorch_model.safetensors");
  // A clip config that is not JSON.
  std::ofstream(path + "/clip_model/config.json") << "{ \"text_config\": ";

  const ModelFolder f(path);
  EXPECT_NE(error_of([&] { f.weights(Component::TextEncoder); }).find("shard model-00002-of-00002.safetensors"),
            std::string::npos);
  const auto dit = f.weights(Component::Transformer);
  const auto shapes = models::nextdit_tensor_shapes(f.transformer_config());
  EXPECT_NE(error_of([&] { dit->load_checked("x_embedder.weight", shapes.at("x_embedder.weight"), at::kFloat); })
                .find("transformer/diffusion_pytorch_model.safetensors: tensor x_embedder.weight has shape [64, 64], expected [128, 64]"),
            std::string::npos);
  const auto vae = f.weights(Component::Vae);
  EXPECT_NE(error_of([&] { vae->load_checked("conv_in.weight", {32, 16, 3, 3}, at::kFloat); })
                .find("vae/diffusion_pytorch_model.safetensors: tensor conv_in.weight is missing (expected shape [32, 16, 3, 3])"),
            std::string::npos);
  EXPECT_NE(error_of([&] { f.clip_config(); }).find("clip_model/config.json is not valid JSON"), std::string::npos);

  const auto report = inspect_model_folder(path);
  EXPECT_FALSE(report.ok());
  const auto& t = report.components[0];
  EXPECT_FALSE(t.mismatched.empty());
  EXPECT_NE(t.mismatched[0].find("expected"), std::string::npos);
  EXPECT_NE(report.components[1].error.find("is missing"), std::string::npos);
  EXPECT_NE(report.components[2].error.find("not valid JSON"), std::string::npos);
  EXPECT_EQ(report.components[3].missing, (std::vector<std::string>{"conv_in.weight"}));
}

TEST(ModelInspection, ReportsExtrasUnusedAndIgnoredTensors) {
  test::TempDir dir;
  const auto report = inspect_model_folder(tiny(dir, Layout::NewBie));
  ASSERT_TRUE(report.ok()) << report.to_text();
  const auto& dit = report.components[0];
  EXPECT_EQ(dit.unused, (std::vector<std::string>{"norm_final.weight"}));
  const auto& gemma = report.components[1];
  EXPECT_EQ(gemma.unused.size(), 14u) << "layer 3 (13 tensors) and norm.weight are present, not loaded";
  EXPECT_EQ(gemma.ignored.at("vision_tower.*"), 1u);
  const auto& jina = report.components[2];
  EXPECT_EQ(jina.extras.size(), 3u * models::jina_lora_targets(tiny_model_configs().clip).size());
  EXPECT_TRUE(jina.unexpected.empty());
  EXPECT_EQ(jina.ignored.at("logit_scale"), 1u);
  EXPECT_EQ(jina.loaded, jina.expected);
  const auto j = report.to_json();
  EXPECT_EQ(j["layout"], "newbie");
  EXPECT_EQ(j["components"]["clip"]["tokenizer"], "clip_model/sentencepiece.bpe.model");
  EXPECT_EQ(j["components"]["transformer"]["dtypes"]["F32"]["tensors"], 69);
}

}  // namespace baton::io
