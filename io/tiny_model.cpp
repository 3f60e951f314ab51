#include "io/tiny_model.h"

#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/log.h"
#include "core/random_tensor_source.h"
#include "io/json_document.h"
#include "io/safetensors_writer.h"
#include "io/sentencepiece_model.h"
#include "io/tensor_naming.h"
#include "io/tokenizer_training.h"

namespace baton::io {
namespace fs = std::filesystem;
namespace {

TinyModelConfigs make_configs() {
  TinyModelConfigs t;
  auto& d = t.transformer;  // 16-wide heads, 2 query heads per kv head, like the released 3:1 GQA in miniature
  d.dim = 64;
  d.n_layers = 2;
  d.n_refiner_layers = 1;
  d.n_heads = 4;
  d.n_kv_heads = 2;
  d.axes_dims = {8, 4, 4};
  d.cap_feat_dim = 64;   // = Gemma hidden_size
  d.clip_text_dim = 32;  // = Jina hidden_size

  auto& g = t.text_encoder;  // 4 layers: 0..2 run (hidden_states[-2]), layer 1 global, the rest sliding
  g.hidden_size = 64;
  g.num_hidden_layers = 4;
  g.num_attention_heads = 4;
  g.num_key_value_heads = 2;
  g.head_dim = 16;
  g.intermediate_size = 128;
  g.vocab_size = 384;
  g.query_pre_attn_scalar = 16;
  g.sliding_window = 8;
  g.global_layers = {false, true, false, false};
  t.gemma_tokenizer_pieces = 384;

  auto& j = t.clip;
  j.hidden_size = 32;
  j.num_hidden_layers = 2;
  j.num_attention_heads = 2;
  j.intermediate_size = 64;
  t.xlmr_tokenizer_pieces = 96;  // the built-in training corpus supports up to 127 unigram pieces
  j.vocab_size = t.xlmr_tokenizer_pieces + 2;

  auto& v = t.vae;  // the last block narrows (32 -> 16) so a conv_shortcut exists, as in the released decoder
  v.block_out_channels = {16, 32, 32, 32};
  v.layers_per_block = 1;
  v.norm_num_groups = 8;
  d.validate();
  g.validate();
  j.validate();
  v.validate();
  return t;
}

// Jina tensors in the LoRA-parametrized form of spec D.5.
models::TensorShapes jina_parametrized_shapes(const models::JinaConfig& c) {
  auto shapes = models::jina_tensor_shapes(c);
  for (const auto& target : models::jina_lora_targets(c)) {
    const auto w = shapes.at(target + ".weight");
    shapes.erase(target + ".weight");
    const bool embedding = target.rfind("embeddings.", 0) == 0;
    shapes[target + ".parametrizations.weight.original"] = w;
    shapes[target + ".parametrizations.weight.0.lora_A"] =
        embedding ? std::vector<int64_t>{1, w[0], c.lora_rank} : std::vector<int64_t>{1, c.lora_rank, w[1]};
    shapes[target + ".parametrizations.weight.0.lora_B"] =
        embedding ? std::vector<int64_t>{1, c.lora_rank, w[1]} : std::vector<int64_t>{1, w[0], c.lora_rank};
  }
  return shapes;
}

uint64_t component_seed(uint64_t seed, Component c) { return seed * 4 + static_cast<uint64_t>(c); }

// Tensors outside the network that real files carry (vision towers, the VAE
// encoder, CLIP's logit scale): the loader must skip them.
models::TensorShapes foreign_tensors(Component c, Layout layout) {
  switch (c) {
    case Component::TextEncoder:
      if (layout == Layout::Comfy) return {};
      return {{"vision_tower.vision_model.post_layernorm.weight", {16}},
              {"multi_modal_projector.mm_soft_emb_norm.weight", {16}}};
    case Component::Clip:
      if (layout == Layout::Comfy) return {};
      return {{"vision_model.cls_token", {1, 1, 16}}, {"logit_scale", {}}};
    case Component::Vae: return {{"encoder.conv_in.weight", {16, 3, 3, 3}}, {"encoder.conv_in.bias", {16}}};
    default: return {};
  }
}

std::unique_ptr<TensorNaming> naming_for(Component c, Layout layout) {
  switch (c) {
    case Component::Transformer:
      return layout == Layout::Diffusers ? lumina2_naming()
                                         : prefix_naming(layout == Layout::Comfy ? "model.diffusion_model." : "");
    case Component::TextEncoder:
      return prefix_naming(layout == Layout::NewBie ? "language_model.model."
                                                    : layout == Layout::Diffusers ? "language_model." : "model.");
    case Component::Clip: return prefix_naming(layout == Layout::Comfy ? "model." : "text_model.transformer.roberta.");
    case Component::Vae:
      return layout == Layout::Comfy ? bfl_vae_naming(static_cast<int>(tiny_model_configs().vae.block_out_channels.size()))
                                     : prefix_naming("decoder.");
  }
  return nullptr;
}

struct FileTensor {
  std::string name;
  std::vector<int64_t> shape;
  std::function<at::Tensor()> make;
};

// The file tensors of a component: canonical weights renamed (and split or
// reshaped) by the layout's naming, plus the foreign tensors.
std::vector<FileTensor> file_tensors(Component c, const TinyModelOptions& o) {
  const auto& cfg = tiny_model_configs();
  std::shared_ptr<TensorSource> weights = tiny_model_weights(c, o.seed);
  std::shared_ptr<TensorNaming> naming = naming_for(c, o.layout);
  std::vector<FileTensor> out;
  std::vector<std::string> canonical = weights->names();
  const bool merge = c == Component::Clip && o.layout == Layout::Comfy;
  if (merge) {
    canonical.clear();
    for (const auto& kv : models::jina_tensor_shapes(cfg.clip)) canonical.push_back(kv.first);
  }
  for (const auto& name : canonical) {
    auto make = [weights, name, merge]() -> at::Tensor {
      const std::string stem = name.substr(0, name.size() - 7);  // without ".weight"
      if (merge && !weights->contains(name)) {
        const std::string p = stem + ".parametrizations.weight.";
        return merge_lora(weights->load(p + "original", at::kFloat), weights->load(p + "0.lora_A", at::kFloat),
                          weights->load(p + "0.lora_B", at::kFloat), stem.rfind("embeddings.", 0) == 0,
                          tiny_model_configs().clip.lora_alpha / static_cast<double>(tiny_model_configs().clip.lora_rank));
      }
      return weights->load(name, at::kFloat);
    };
    const auto files = naming->to_file(name);
    if (files.empty()) continue;  // the layout drops it (diffusers: norm_final.weight)
    const auto shape = merge ? models::jina_tensor_shapes(cfg.clip).at(name) : weights->shape(name);
    if (files.size() == 1) {
      auto part = naming->to_canonical(files[0]);
      auto file_shape = shape;
      if (part && part->conv1x1) file_shape.insert(file_shape.end(), {1, 1});
      out.push_back({files[0], file_shape, [make, file_shape] { return make().reshape(file_shape); }});
      continue;
    }
    // Split q/k/v rows (spec A.3: 2304 / 768 / 768 in the released model).
    const auto& d = cfg.transformer;
    const int64_t rows[3] = {d.n_heads * d.head_dim(), d.n_kv_heads * d.head_dim(), d.n_kv_heads * d.head_dim()};
    int64_t begin = 0;
    for (size_t i = 0; i < files.size(); ++i) {
      auto part_shape = shape;
      part_shape[0] = rows[i];
      out.push_back({files[i], part_shape, [make, begin, n = rows[i]] { return make().narrow(0, begin, n).contiguous(); }});
      begin += rows[i];
    }
  }
  auto foreign = std::make_shared<RandomTensorSource>(foreign_tensors(c, o.layout), o.seed + 7, 1.0, "foreign");
  for (const auto& name : foreign->names())
    out.push_back({name, foreign->shape(name), [foreign, name] { return foreign->load(name, at::kFloat); }});
  return out;
}

at::Tensor read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto t = at::empty({static_cast<int64_t>(bytes.size())}, at::kByte);
  std::memcpy(t.data_ptr(), bytes.data(), bytes.size());
  return t;
}

// Writes one file, or `shards` files plus a Hugging Face index named
// <stem>.safetensors.index.json.
void write_weights(const fs::path& dir, const std::string& stem, const std::vector<FileTensor>& tensors, StDtype dtype,
                   const std::map<std::string, std::string>& metadata, int shards) {
  fs::create_directories(dir);
  auto stored = [&](const FileTensor& t) {
    return t.name == "spiece_model" ? StDtype::U8 : dtype;
  };
  if (shards <= 1) {
    SafetensorsWriter w;
    for (const auto& t : tensors) w.add_lazy(t.name, t.shape, stored(t), t.make);
    for (const auto& [k, v] : metadata) w.set_metadata(k, v);
    w.write((dir / (stem + ".safetensors")).string());
    return;
  }
  std::vector<FileTensor> sorted = tensors;
  std::sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  nlohmann::json weight_map = nlohmann::json::object();
  uint64_t total = 0;
  const size_t per = (sorted.size() + static_cast<size_t>(shards) - 1) / static_cast<size_t>(shards);
  for (int s = 0; s < shards; ++s) {
    char name[96];
    std::snprintf(name, sizeof name, "%s-%05d-of-%05d.safetensors", stem.c_str(), s + 1, shards);
    SafetensorsWriter w;
    for (size_t i = static_cast<size_t>(s) * per; i < std::min(sorted.size(), static_cast<size_t>(s + 1) * per); ++i) {
      w.add_lazy(sorted[i].name, sorted[i].shape, stored(sorted[i]), sorted[i].make);
      weight_map[sorted[i].name] = name;
      uint64_t n = st_dtype_size(stored(sorted[i]));
      for (auto d : sorted[i].shape) n *= static_cast<uint64_t>(d);
      total += n;
    }
    w.set_metadata("format", "pt");
    w.write((dir / name).string());
  }
  write_json_file((dir / (stem + ".safetensors.index.json")).string(),
                  {{"metadata", {{"total_size", total}}}, {"weight_map", weight_map}});
}

void write_tokenizer(const fs::path& path, bool gemma) {
  const auto& cfg = tiny_model_configs();
  fs::create_directories(path.parent_path());
  const int64_t pieces = gemma ? cfg.gemma_tokenizer_pieces : cfg.xlmr_tokenizer_pieces;
  if (gemma) write_tiny_gemma_tokenizer(path.string(), pieces);
  else write_tiny_xlmr_tokenizer(path.string(), pieces);
  // The configs' vocab sizes are fixed; a tokenizer that came out different
  // would produce ids the embedding does not have.
  const int trained = SentencePieceModel(path.string()).piece_count();
  if (trained != pieces)
    throw Error("tiny tokenizer " + path.string() + " has " + std::to_string(trained) + " pieces, expected " +
                std::to_string(pieces));
}

nlohmann::json clip_config_json(const models::JinaConfig& c) {
  nlohmann::json kwargs = c.to_json();
  kwargs.erase("model_type");
  kwargs.update({{"load_trained_adapters", false},
                 {"lora_adaptations", {"retrieval.query"}},
                 {"lora_dropout_p", 0.0},
                 {"lora_main_params_trainable", false},
                 {"use_flash_attn", true}});
  return {{"architectures", {"JinaCLIPModel"}},
          {"model_type", "jina_clip"},
          {"add_projections", false},
          {"projection_dim", c.hidden_size},
          {"text_config",
           {{"embed_dim", c.hidden_size},
            {"hf_model_name_or_path", "jinaai/jina-embeddings-v3"},
            {"pooler_type", "mean_pooler"},
            {"proj_type", nullptr},
            {"default_lora_task", "retrieval.query"},
            {"default_instruction_task", nullptr},
            {"hf_model_config_kwargs", kwargs}}},
          {"vision_config", {{"embed_dim", 16}}}};
}

nlohmann::json gemma_config_json(const models::Gemma3Config& c, const char* architecture) {
  return {{"architectures", {architecture}},
          {"model_type", "gemma3"},
          {"text_config", c.to_json()},
          {"vision_config", {{"model_type", "siglip_vision_model"}, {"hidden_size", 16}}}};
}

nlohmann::json newbie_transformer_json(const models::NextDitConfig& c) {
  // As the released file: no qk_norm, no cap_feat_dim (spec F.1).
  auto j = c.to_json();
  j.erase("qk_norm");
  j.erase("cap_feat_dim");
  j["_class_name"] = "NextDiT_3B_GQA_patch2_Adaln_Refiner_WHIT_CLIP";
  j["model_type"] = "nextdit_clip";
  j["clip_img_dim"] = c.clip_text_dim;
  return j;
}

nlohmann::json lumina2_transformer_json(const models::NextDitConfig& c) {
  // diffusers' Lumina2Transformer2DModel keys; no pooled-projection width (filled from the clip model).
  return {{"_class_name", "Lumina2Transformer2DModel"},
          {"sample_size", 128},
          {"patch_size", c.patch_size},
          {"in_channels", c.in_channels},
          {"out_channels", c.in_channels},
          {"hidden_size", c.dim},
          {"num_layers", c.n_layers},
          {"num_refiner_layers", c.n_refiner_layers},
          {"num_attention_heads", c.n_heads},
          {"num_kv_heads", c.n_kv_heads},
          {"multiple_of", c.multiple_of},
          {"ffn_dim_multiplier", nullptr},
          {"norm_eps", c.norm_eps},
          {"scaling_factor", 1.0},
          {"axes_dim_rope", c.axes_dims},
          {"axes_lens", c.axes_lens},
          {"cap_feat_dim", c.cap_feat_dim}};
}

void write_hf_layout(const fs::path& root, const TinyModelOptions& o) {
  const auto& cfg = tiny_model_configs();
  const bool diffusers = o.layout == Layout::Diffusers;
  const std::string clip_dir = diffusers ? "text_encoder_2" : "clip_model";
  nlohmann::json index = {{"_class_name", "NewbiePipeline"},
                          {"_diffusers_version", "0.36.0"},
                          {"scheduler", {"diffusers", "FlowMatchEulerDiscreteScheduler"}},
                          {"vae", {"diffusers", "AutoencoderKL"}}};
  if (diffusers) {
    index.update({{"transformer", {"diffusers", "Lumina2Transformer2DModel"}},
                  {"text_encoder", {"transformers", "Gemma3Model"}},
                  {"tokenizer", {"transformers", "GemmaTokenizerFast"}},
                  {"text_encoder_2", {"transformers", "JinaCLIPModel"}},
                  {"tokenizer_2", {"transformers", "XLMRobertaTokenizerFast"}}});
  } else {
    index.update({{"transformer", {"newbie", "NextDiT_3B_GQA_patch2_Adaln_Refiner_WHIT_CLIP"}},
                  {"text_encoder", {"transformers", "Gemma3ForConditionalGeneration"}},
                  {"tokenizer", {"transformers", "GemmaTokenizerFast"}},
                  {"clip_model", {"transformers", "JinaCLIPModel"}},
                  {"clip_tokenizer", {"transformers", "XLMRobertaTokenizerFast"}}});
  }
  write_json_file((root / "model_index.json").string(), index);

  // Sharding where the real repos shard: Gemma in NewBie's text_encoder/; the
  // DiT in the diffusers layout (so both sharded paths are exercised).
  write_weights(root / "transformer", "diffusion_pytorch_model", file_tensors(Component::Transformer, o), o.dtype, {},
                diffusers ? 2 : 1);
  write_json_file((root / "transformer" / "config.json").string(),
                  diffusers ? lumina2_transformer_json(cfg.transformer) : newbie_transformer_json(cfg.transformer));

  write_weights(root / "text_encoder", "model", file_tensors(Component::TextEncoder, o), o.dtype, {}, diffusers ? 1 : 2);
  write_json_file((root / "text_encoder" / "config.json").string(),
                  gemma_config_json(cfg.text_encoder, diffusers ? "Gemma3Model" : "Gemma3ForConditionalGeneration"));
  write_tokenizer(root / (diffusers ? "tokenizer" : "text_encoder") / "tokenizer.model", true);

  write_weights(root / clip_dir, "model", file_tensors(Component::Clip, o), o.dtype, {}, 1);
  write_json_file((root / clip_dir / "config.json").string(), clip_config_json(cfg.clip));
  write_tokenizer(root / (diffusers ? "tokenizer_2" : clip_dir) / "sentencepiece.bpe.model", false);

  write_weights(root / "vae", "diffusion_pytorch_model", file_tensors(Component::Vae, o), o.dtype, {}, 1);
  write_json_file((root / "vae" / "config.json").string(), cfg.vae.to_json());

  fs::create_directories(root / "scheduler");
  write_json_file((root / "scheduler" / "scheduler_config.json").string(),
                  {{"_class_name", "FlowMatchEulerDiscreteScheduler"},
                   {"num_train_timesteps", 1000},
                   {"shift", cfg.scheduler_shift},
                   {"use_dynamic_shifting", false}});
}

void write_comfy_layout(const fs::path& root, const TinyModelOptions& o) {
  const auto& cfg = tiny_model_configs();
  // ComfyUI files carry no config.json: baton records its config as metadata
  // (else it is inferred from shapes), and the SentencePiece model rides in
  // the text encoder file as U8 tensor "spiece_model", as ComfyUI stores it.
  auto with_config = [](const nlohmann::json& j) { return std::map<std::string, std::string>{{"config", j.dump()}}; };
  write_weights(root / "diffusion_models", "NewBie-Image-Exp0.1-tiny", file_tensors(Component::Transformer, o), o.dtype,
                with_config(cfg.transformer.to_json()), 1);
  const fs::path tok = root / "tokenizers.training";
  write_tokenizer(tok / "tokenizer.model", true);
  write_tokenizer(tok / "sentencepiece.bpe.model", false);
  auto gemma = file_tensors(Component::TextEncoder, o);
  gemma.push_back({"spiece_model", {static_cast<int64_t>(fs::file_size(tok / "tokenizer.model"))},
                   [t = read_bytes((tok / "tokenizer.model").string())] { return t; }});
  write_weights(root / "text_encoders", "gemma_3_4b_it_tiny", gemma, o.dtype, with_config(cfg.text_encoder.to_json()), 1);
  auto jina = file_tensors(Component::Clip, o);
  jina.push_back({"spiece_model", {static_cast<int64_t>(fs::file_size(tok / "sentencepiece.bpe.model"))},
                  [t = read_bytes((tok / "sentencepiece.bpe.model").string())] { return t; }});
  write_weights(root / "text_encoders", "jina_clip_v2_tiny", jina, o.dtype, with_config(cfg.clip.to_json()), 1);
  fs::remove_all(tok);
  write_weights(root / "vae", "ae", file_tensors(Component::Vae, o), o.dtype, with_config(cfg.vae.to_json()), 1);
}

}  // namespace

const TinyModelConfigs& tiny_model_configs() {
  static const TinyModelConfigs configs = make_configs();
  return configs;
}

at::Tensor merge_lora(const at::Tensor& weight, const at::Tensor& lora_a, const at::Tensor& lora_b, bool embedding,
                      double scale) {
  const auto delta = embedding ? at::matmul(lora_a[0], lora_b[0]) : at::matmul(lora_b[0], lora_a[0]);
  return weight + delta * scale;
}

std::unique_ptr<TensorSource> tiny_model_weights(Component c, uint64_t seed) {
  const auto& cfg = tiny_model_configs();
  const uint64_t s = component_seed(seed, c);
  switch (c) {
    case Component::Transformer:
      return std::make_unique<RandomTensorSource>(models::nextdit_tensor_shapes(cfg.transformer), s, 1.0, "tiny transformer");
    case Component::TextEncoder:  // Gemma norms are offsets around 0 (y = x·(1 + w))
      return std::make_unique<RandomTensorSource>(models::gemma3_tensor_shapes(cfg.text_encoder, true), s, 0.0,
                                                  "tiny text encoder");
    case Component::Clip:
      return std::make_unique<RandomTensorSource>(jina_parametrized_shapes(cfg.clip), s, 1.0, "tiny clip");
    case Component::Vae:
      return std::make_unique<RandomTensorSource>(models::vae_decoder_tensor_shapes(cfg.vae), s, 1.0, "tiny vae");
  }
  return nullptr;
}

void write_tiny_model(const std::string& dir, const TinyModelOptions& options) {
  fs::path target = fs::path(dir).lexically_normal();
  if (target.filename().empty()) target = target.parent_path();  // "dir/" -> "dir"
  std::error_code ec;
  if (fs::exists(target, ec) && !(fs::is_directory(target, ec) && fs::is_empty(target, ec)))
    throw Error(dir + " already exists and is not an empty folder", "choose a new folder, or remove this one first");
  const fs::path building = target.string() + ".partial-" + std::to_string(::getpid());
  fs::remove_all(building, ec);
  fs::create_directories(building);
  try {
    if (options.layout == Layout::Comfy) write_comfy_layout(building, options);
    else write_hf_layout(building, options);
    fs::rename(building, target);  // replaces an empty target folder
  } catch (...) {
    fs::remove_all(building, ec);
    throw;
  }
  spdlog::info("wrote a tiny {} model folder (seed {}) to {}", layout_name(options.layout), options.seed, dir);
}

}  // namespace baton::io
