#include "io/model_folder.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <functional>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/log.h"
#include "io/json_document.h"
#include "io/model_folder_part.h"
#include "io/safetensors_file.h"
#include "io/sharded_checkpoint.h"

namespace baton::io {
namespace fs = std::filesystem;
namespace {

bool ends_with(const std::string& s, const std::string& e) {
  return s.size() >= e.size() && s.compare(s.size() - e.size(), e.size(), e) == 0;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

std::vector<std::string> files_ending(const fs::path& dir, const std::string& suffix) {
  std::vector<std::string> out;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return out;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.is_regular_file() && ends_with(e.path().filename().string(), suffix)) out.push_back(e.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

// The weights of a Hugging Face component folder: an index if there is one,
// else the usual file names, else the only .safetensors file.
std::string find_hf_weights(const fs::path& dir) {
  if (!fs::is_directory(dir)) throw Error(dir.string() + " is missing");
  const auto indexes = files_ending(dir, ".safetensors.index.json");
  if (indexes.size() == 1) return indexes[0];
  if (indexes.size() > 1)
    throw Error(dir.string() + " holds " + std::to_string(indexes.size()) + " *.safetensors.index.json files",
                "keep one checkpoint per component folder");
  for (const char* name : {"diffusion_pytorch_model.safetensors", "model.safetensors"})
    if (fs::is_regular_file(dir / name)) return (dir / name).string();
  const auto files = files_ending(dir, ".safetensors");
  if (files.size() == 1) return files[0];
  if (files.size() > 1)
    throw Error(dir.string() + " holds several .safetensors files and no index", "add the *.safetensors.index.json");
  for (const char* other : {".bin", ".pth", ".pt", ".ckpt", ".gguf"})
    if (!files_ending(dir, other).empty())
      throw Error(dir.string() + " holds only " + other + " weights; baton reads safetensors",
                  "convert them to safetensors (e.g. with the safetensors Python package)");
  throw Error(dir.string() + " holds no .safetensors weights");
}

// A ComfyUI models subfolder: the one .safetensors file, or the one whose
// name contains `hint` when there are several.
std::string find_comfy_file(const fs::path& dir, const std::vector<std::string>& hints) {
  if (!fs::is_directory(dir)) throw Error(dir.string() + " is missing");
  const auto files = files_ending(dir, ".safetensors");
  if (files.empty()) throw Error(dir.string() + " holds no .safetensors file");
  std::vector<std::string> hinted;
  for (const auto& f : files)
    for (const auto& h : hints)
      if (lower(fs::path(f).filename().string()).find(h) != std::string::npos) {
        hinted.push_back(f);
        break;
      }
  if (hinted.size() == 1) return hinted[0];
  if (files.size() == 1) return files[0];
  throw Error(dir.string() + " holds several .safetensors files and none is clearly the NewBie one (a name with '" +
                  hints.front() + "')",
              "keep only NewBie's files there, or rename the right one");
}

// ComfyUI keeps both text encoders in text_encoders/; tell them apart by
// content (as ComfyUI does), preferring the released file names.
std::string find_comfy_text_encoder(const fs::path& dir, Component c) {
  const bool gemma = c == Component::TextEncoder;
  const std::string hint = gemma ? "gemma" : "jina";
  if (!fs::is_directory(dir)) throw Error(dir.string() + " is missing");
  std::vector<std::string> candidates = files_ending(dir, ".safetensors");
  std::stable_partition(candidates.begin(), candidates.end(), [&](const std::string& f) {
    return lower(fs::path(f).filename().string()).find(hint) != std::string::npos;
  });
  const std::string probe = gemma ? "layers.0.self_attn.q_norm.weight" : "encoder.layers.0.mixer.Wqkv.bias";
  for (const auto& f : candidates) {
    try {
      SafetensorsFile file(f);
      for (const auto& n : file.names())
        if (ends_with(n, probe)) return f;
    } catch (const Error&) {
      if (lower(fs::path(f).filename().string()).find(hint) != std::string::npos) return f;  // let the reader explain
    }
  }
  throw Error(dir.string() + ": no " + std::string(gemma ? "Gemma3 (gemma_3_4b_it_*.safetensors)" : "Jina CLIP v2 (jina_clip_v2_*.safetensors)") +
              " text encoder found");
}

uint64_t fnv1a(const uint8_t* data, size_t n) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; ++i) h = (h ^ data[i]) * 1099511628211ull;
  return h;
}

}  // namespace

const std::vector<Component>& all_components() {
  static const std::vector<Component> all{Component::Transformer, Component::TextEncoder, Component::Clip, Component::Vae};
  return all;
}

const char* component_name(Component c) {
  switch (c) {
    case Component::Transformer: return "transformer";
    case Component::TextEncoder: return "text_encoder";
    case Component::Clip: return "clip";
    case Component::Vae: return "vae";
  }
  return "?";
}

const char* layout_name(Layout l) {
  switch (l) {
    case Layout::NewBie: return "newbie";
    case Layout::Diffusers: return "diffusers";
    case Layout::Comfy: return "comfy";
  }
  return "?";
}

Layout parse_layout(const std::string& name) {
  for (Layout l : {Layout::NewBie, Layout::Diffusers, Layout::Comfy})
    if (name == layout_name(l)) return l;
  throw UsageError("unknown layout '" + name + "'", "expected newbie, diffusers or comfy");
}

ModelFolder::~ModelFolder() = default;
ModelFolder::ModelFolder(ModelFolder&&) noexcept = default;

ModelFolder::ModelFolder(const std::string& path) : path_(path) {
  for (auto& p : parts_) p = std::make_unique<Part>();
  const fs::path root(path);
  if (!fs::is_directory(root))
    throw Error(path + " is not a folder", "give the folder that holds model_index.json (or ComfyUI's models folder)");
  const bool has_index = fs::is_regular_file(root / "model_index.json");
  if (has_index) {
    const auto index = read_json_file((root / "model_index.json").string());
    if (!index.is_object()) throw Error((root / "model_index.json").string() + " is not a JSON object");
    if (index.contains("text_encoder_2") || fs::is_directory(root / "text_encoder_2"))
      layout_ = Layout::Diffusers;
    else if (index.contains("clip_model") || fs::is_directory(root / "clip_model"))
      layout_ = Layout::NewBie;
    else
      throw Error((root / "model_index.json").string() +
                      " names neither clip_model (NewBie layout) nor text_encoder_2 (diffusers layout)",
                  "this does not look like a NewBie-image model");
  } else if (fs::is_directory(root / "diffusion_models") || fs::is_directory(root / "text_encoders")) {
    layout_ = Layout::Comfy;
  } else if (fs::is_directory(root / "transformer") && fs::is_directory(root / "clip_model")) {
    spdlog::warn("{}: no model_index.json; reading it as the NewBie layout", path);
    layout_ = Layout::NewBie;
  } else {
    throw Error(path + " is not a NewBie model folder: expected model_index.json (NewBie or diffusers layout) or "
                       "diffusion_models/, text_encoders/ and vae/ (ComfyUI layout)",
                "download the model, or make a tiny one with `baton make-tiny-model DIR`");
  }
  spdlog::debug("{}: {} layout", path, layout_name(layout_));
  find_files();
  read_configs();
}

void ModelFolder::find_files() {
  const fs::path root(path_);
  auto locate = [&](Component c, const std::function<std::string()>& find) {
    try {
      parts_[static_cast<size_t>(c)]->weights = find();
    } catch (const Error& e) {
      parts_[static_cast<size_t>(c)]->weights_error = e.what();
    }
  };
  auto& te = *parts_[static_cast<size_t>(Component::TextEncoder)];
  auto& clip = *parts_[static_cast<size_t>(Component::Clip)];
  if (layout_ == Layout::Comfy) {
    locate(Component::Transformer, [&] { return find_comfy_file(root / "diffusion_models", {"newbie"}); });
    locate(Component::TextEncoder, [&] { return find_comfy_text_encoder(root / "text_encoders", Component::TextEncoder); });
    locate(Component::Clip, [&] { return find_comfy_text_encoder(root / "text_encoders", Component::Clip); });
    locate(Component::Vae, [&] { return find_comfy_file(root / "vae", {"ae.safetensors", "flux"}); });
    // ComfyUI files carry their SentencePiece model as a U8 tensor
    // "spiece_model"; a tokenizers/ folder beside them takes precedence.
    te.tokenizer_files = {(root / "tokenizers" / "tokenizer.model").string()};
    clip.tokenizer_files = {(root / "tokenizers" / "sentencepiece.bpe.model").string()};
    te.tokenizer_in_weights = clip.tokenizer_in_weights = true;
    return;
  }
  const bool diffusers = layout_ == Layout::Diffusers;
  const std::string clip_dir = diffusers ? "text_encoder_2" : "clip_model";
  const std::string clip_tok_dir = diffusers ? "tokenizer_2" : "clip_tokenizer";
  const std::pair<Component, std::string> dirs[] = {{Component::Transformer, "transformer"},
                                                    {Component::TextEncoder, "text_encoder"},
                                                    {Component::Clip, clip_dir},
                                                    {Component::Vae, "vae"}};
  for (const auto& [c, dir] : dirs) {
    locate(c, [&, d = dir] { return find_hf_weights(root / d); });
    parts_[static_cast<size_t>(c)]->config_file = (root / dir / "config.json").string();
  }
  te.tokenizer_files = {(root / "tokenizer" / "tokenizer.model").string(),
                        (root / "text_encoder" / "tokenizer.model").string()};
  clip.tokenizer_files = {(root / clip_tok_dir / "sentencepiece.bpe.model").string(),
                          (root / clip_dir / "sentencepiece.bpe.model").string()};
}

const ModelFolder::Part& ModelFolder::part(Component c) const { return *parts_.at(static_cast<size_t>(c)); }

const std::string& ModelFolder::weights_path(Component c) const {
  const auto& p = part(c);
  if (p.weights.empty()) throw Error(path_ + ": no " + component_name(c) + " weights: " + p.weights_error);
  return p.weights;
}

std::unique_ptr<RenamedSource> ModelFolder::weights(Component c) const {
  const std::string& file = weights_path(c);
  std::shared_ptr<const Checkpoint> checkpoint;
  if (ends_with(file, ".index.json"))
    checkpoint = std::make_shared<ShardedCheckpoint>(file);
  else
    checkpoint = std::make_shared<SafetensorsFile>(file);
  const auto names = checkpoint->names();
  std::shared_ptr<const TensorNaming> naming;
  switch (c) {
    case Component::Transformer: naming = detect_dit_naming(names, file); break;
    case Component::TextEncoder: naming = detect_gemma_naming(names, file); break;
    case Component::Clip: naming = detect_jina_naming(names, file); break;
    case Component::Vae: naming = detect_vae_naming(names, file); break;
  }
  return std::make_unique<RenamedSource>(std::move(checkpoint), std::move(naming));
}

std::string ModelFolder::tokenizer_source(Component c) const {
  const auto& p = part(c);
  for (const auto& f : p.tokenizer_files)
    if (fs::is_regular_file(f)) return f;
  if (p.tokenizer_in_weights && !p.weights.empty()) {
    try {
      SafetensorsFile file(p.weights);
      if (file.contains("spiece_model")) return "tensor spiece_model in " + p.weights;
    } catch (const Error&) {
    }
  }
  return {};
}

std::string ModelFolder::tokenizer_path(Component c) const {
  if (c != Component::TextEncoder && c != Component::Clip)
    throw Error(std::string("the ") + component_name(c) + " has no tokenizer");
  const auto& p = part(c);
  for (const auto& f : p.tokenizer_files)
    if (fs::is_regular_file(f)) return f;
  std::string looked;
  for (const auto& f : p.tokenizer_files) looked += (looked.empty() ? "" : ", ") + f;
  if (p.tokenizer_in_weights && !p.weights.empty()) {
    SafetensorsFile file(p.weights);
    if (file.contains("spiece_model")) {
      // Extract once into a cache named by the content, so every rank and run
      // reuses it and a changed file gets a new name.
      const auto bytes = file.load("spiece_model", at::kByte).contiguous();
      const auto* data = bytes.data_ptr<uint8_t>();
      const size_t n = static_cast<size_t>(bytes.numel());
      char hex[17];
      std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(fnv1a(data, n)));
      const fs::path dir = fs::temp_directory_path() / "baton-tokenizers";
      fs::create_directories(dir);
      const fs::path target = dir / (std::string(hex) + (c == Component::TextEncoder ? "-tokenizer.model" : "-sentencepiece.bpe.model"));
      if (!fs::is_regular_file(target) || fs::file_size(target) != n) {
        const fs::path tmp = target.string() + ".tmp-" + std::to_string(::getpid());
        {
          std::ofstream out(tmp, std::ios::binary);
          out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(n));
          if (!out) throw Error(tmp.string() + ": cannot write the extracted tokenizer");
        }
        fs::rename(tmp, target);
      }
      return target.string();
    }
    looked += ", tensor spiece_model in " + p.weights;
  }
  throw Error(path_ + ": no " + (c == Component::TextEncoder ? "Gemma tokenizer.model" : "XLM-R sentencepiece.bpe.model") +
                  " found (looked at " + looked + ")",
              "copy the SentencePiece model of the released tokenizer there");
}

}  // namespace baton::io
