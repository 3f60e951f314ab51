#include "io/model_inspection.h"

#include <filesystem>
#include <set>
#include <sstream>

#include "core/byte_size.h"
#include "core/error.h"

namespace baton::io {
namespace {

using Shapes = std::map<std::string, std::vector<int64_t>>;

uint64_t numel(const std::vector<int64_t>& s) {
  uint64_t n = 1;
  for (auto d : s) n *= static_cast<uint64_t>(d);
  return n;
}

bool starts_with(const std::string& s, const std::string& p) { return s.compare(0, p.size(), p) == 0; }

// Sorts present canonical tensors into loaded / misshapen / unused / extras /
// unexpected against the tensors the model loads.
void classify(ComponentReport& r, const Shapes& loads, const Shapes& unused, const Shapes& present,
              const std::set<std::string>& extras) {
  for (const auto& [name, shape] : loads) {
    ++r.expected;
    auto it = present.find(name);
    if (it == present.end()) {
      r.missing.push_back(name);
    } else if (it->second != shape) {
      r.mismatched.push_back(name + " " + format_shape(it->second) + ", expected " + format_shape(shape));
    } else {
      ++r.loaded;
      r.parameters += numel(shape);
    }
  }
  for (const auto& [name, shape] : present) {
    if (loads.count(name)) continue;
    if (unused.count(name)) r.unused.push_back(name);
    else if (extras.count(name)) r.extras.push_back(name);
    else r.unexpected.push_back(name);
  }
}

// Jina: a LoRA-parametrized weight X counts as X.weight (merged at load, spec
// D.3); its original/lora_A/lora_B are the expected extras of that form.
void classify_jina(ComponentReport& r, const models::JinaConfig& config, Shapes present) {
  std::set<std::string> extras;
  const auto loads = models::jina_tensor_shapes(config);
  for (const auto& target : models::jina_lora_targets(config)) {
    const std::string original = target + ".parametrizations.weight.original";
    auto it = present.find(original);
    if (it == present.end()) continue;
    const auto merged = loads.at(target + ".weight");
    if (!present.count(target + ".weight")) present[target + ".weight"] = it->second;
    extras.insert(original);
    // spec D.5: Linear A [1, r, in], B [1, out, r]; Embedding A [1, num, r], B [1, r, dim].
    const int64_t rank = config.lora_rank;
    const bool embedding = starts_with(target, "embeddings.");
    const Shapes lora = {
        {target + ".parametrizations.weight.0.lora_A", embedding ? std::vector<int64_t>{1, merged[0], rank}
                                                                 : std::vector<int64_t>{1, rank, merged[1]}},
        {target + ".parametrizations.weight.0.lora_B", embedding ? std::vector<int64_t>{1, rank, merged[1]}
                                                                 : std::vector<int64_t>{1, merged[0], rank}}};
    for (const auto& [name, shape] : lora) {
      auto l = present.find(name);
      if (l == present.end()) r.missing.push_back(name);
      else if (l->second != shape)
        r.mismatched.push_back(name + " " + format_shape(l->second) + ", expected " + format_shape(shape));
      extras.insert(name);
    }
  }
  Shapes unused;
  for (const auto& [name, shape] : present)
    if (starts_with(name, "pooler.")) unused[name] = shape;  // spec D.5: unused
  classify(r, loads, unused, present, extras);
}

void classify_component(ComponentReport& r, const ModelFolder& folder, const Shapes& present) {
  switch (r.component) {
    case Component::Transformer: {
      auto loads = models::nextdit_tensor_shapes(folder.transformer_config());
      Shapes unused;
      unused["norm_final.weight"] = loads.at("norm_final.weight");  // spec A.3: stored, never used
      loads.erase("norm_final.weight");
      classify(r, loads, unused, present, {});
      break;
    }
    case Component::TextEncoder: {
      const auto& config = folder.text_encoder_config();
      const auto loads = models::gemma3_tensor_shapes(config, false);
      Shapes unused;  // spec C.3: the last layer and the final norm never run
      for (const auto& kv : models::gemma3_tensor_shapes(config, true))
        if (!loads.count(kv.first)) unused.insert(kv);
      classify(r, loads, unused, present, {});
      break;
    }
    case Component::Clip: classify_jina(r, folder.clip_config(), present); break;
    case Component::Vae: classify(r, models::vae_decoder_tensor_shapes(folder.vae_config()), {}, present, {}); break;
  }
}

ComponentReport inspect_component(const ModelFolder& folder, Component c) {
  namespace fs = std::filesystem;
  ComponentReport r;
  r.component = c;
  if (c == Component::TextEncoder || c == Component::Clip) {
    r.tokenizer = folder.tokenizer_source(c);
    const std::string in_file = "tensor spiece_model in ";
    if (r.tokenizer.empty()) r.tokenizer = "missing";
    else if (starts_with(r.tokenizer, in_file))
      r.tokenizer = in_file + fs::relative(r.tokenizer.substr(in_file.size()), folder.path()).string();
    else r.tokenizer = fs::relative(r.tokenizer, folder.path()).string();
  }
  try {
    r.files = {fs::relative(folder.weights_path(c), folder.path()).string()};
    const auto w = folder.weights(c);
    r.files.clear();
    for (const auto& f : w->checkpoint().files()) r.files.push_back(fs::relative(f, folder.path()).string());
    r.naming = w->naming().describe();
    for (const auto& name : w->checkpoint().names()) {
      const auto info = w->checkpoint().info(name);
      auto& use = r.dtypes[st_dtype_name(info.dtype)];
      ++use.tensors;
      use.bytes += info.nbytes();
      r.bytes += info.nbytes();
    }
    for (const auto& name : w->unmapped()) {
      const auto dot = name.find('.');
      ++r.ignored[dot == std::string::npos ? name : name.substr(0, dot) + ".*"];
    }
    r.config_source = folder.config_source(c);
    r.config_notes = folder.config_notes(c);
    r.config = folder.config_json(c);
    Shapes present;
    for (const auto& name : w->names()) present[name] = w->shape(name);
    classify_component(r, folder, present);
  } catch (const Error& e) {
    r.error = e.what();
  }
  return r;
}

std::string shortened(const std::vector<std::string>& items, size_t show = 4) {
  if (items.empty()) return "none";
  std::string out;
  for (size_t i = 0; i < items.size() && i < show; ++i) out += (i ? ", " : "") + items[i];
  if (items.size() > show) out += ", ... (" + std::to_string(items.size()) + " in all)";
  return out;
}

std::string with_commas(uint64_t n) {
  std::string s = std::to_string(n);
  for (int i = static_cast<int>(s.size()) - 3; i > 0; i -= 3) s.insert(static_cast<size_t>(i), ",");
  return s;
}

std::string config_line(const nlohmann::json& config) {
  std::string out;
  for (auto it = config.begin(); it != config.end(); ++it) {
    if (it.key() == "_class_name" || it.key() == "model_type") continue;
    if (it.key() == "layer_types") {  // Gemma: name the global layers, the rest slide
      std::string global;
      for (size_t i = 0; i < it->size(); ++i)
        if ((*it)[i] == "full_attention") global += (global.empty() ? "" : ",") + std::to_string(i);
      out += (out.empty() ? "" : ", ") + std::string("global layers [") + global + "]";
      continue;
    }
    out += (out.empty() ? "" : ", ") + it.key() + " " + (it->is_string() ? it->get<std::string>() : it->dump());
  }
  return out;
}

}  // namespace

bool InspectionReport::ok() const {
  for (const auto& c : components)
    if (!c.ok()) return false;
  return true;
}

InspectionReport inspect_model_folder(const std::string& path) {
  ModelFolder folder(path);
  InspectionReport report;
  report.path = path;
  report.layout = folder.layout();
  report.scheduler_shift = folder.scheduler_shift();
  report.scheduler_source = folder.scheduler_source();
  for (Component c : all_components()) report.components.push_back(inspect_component(folder, c));
  return report;
}

nlohmann::json InspectionReport::to_json() const {
  nlohmann::json j = {{"path", path},
                      {"layout", layout_name(layout)},
                      {"ok", ok()},
                      {"scheduler", {{"shift", scheduler_shift}, {"source", scheduler_source}}}};
  nlohmann::json comps = nlohmann::json::object();
  for (const auto& c : components) {
    nlohmann::json dt = nlohmann::json::object();
    for (const auto& [name, use] : c.dtypes) dt[name] = {{"tensors", use.tensors}, {"bytes", use.bytes}};
    nlohmann::json cj = {{"files", c.files},         {"naming", c.naming},
                         {"config_source", c.config_source}, {"config", c.config},
                         {"config_notes", c.config_notes}, {"parameters", c.parameters},
                         {"tensors_expected", c.expected}, {"tensors_loaded", c.loaded},
                         {"dtypes", dt},             {"bytes", c.bytes},
                         {"missing", c.missing},     {"mismatched", c.mismatched},
                         {"unused", c.unused},       {"extras", c.extras},
                         {"unexpected", c.unexpected}, {"ignored", c.ignored},
                         {"ok", c.ok()}};
    if (!c.tokenizer.empty()) cj["tokenizer"] = c.tokenizer;
    if (!c.error.empty()) cj["error"] = c.error;
    comps[component_name(c.component)] = cj;
  }
  j["components"] = comps;
  return j;
}

std::string InspectionReport::to_text() const {
  std::ostringstream out;
  out << path << ": " << layout_name(layout) << " layout\n";
  out << "scheduler: shift " << scheduler_shift << " (" << scheduler_source << ")\n";
  for (const auto& c : components) {
    out << "\n" << component_name(c.component) << ": " << (c.files.empty() ? "(no files)" : c.files.front());
    if (c.files.size() > 1) out << " + " << c.files.size() - 1 << " shards";
    out << "\n";
    if (!c.naming.empty()) out << "  names:      " << c.naming << "\n";
    if (!c.config_source.empty()) out << "  config:     " << c.config_source << "\n";
    if (!c.config.is_null()) out << "              " << config_line(c.config) << "\n";
    for (const auto& note : c.config_notes) out << "              filled: " << note << "\n";
    if (!c.tokenizer.empty()) out << "  tokenizer:  " << c.tokenizer << "\n";
    if (!c.dtypes.empty()) {
      out << "  stored:     " << format_byte_size(static_cast<int64_t>(c.bytes)) << " in";
      bool first = true;
      for (const auto& [name, use] : c.dtypes) {
        out << (first ? " " : ", ") << use.tensors << " " << name << (use.tensors == 1 ? " tensor" : " tensors");
        first = false;
      }
      out << "\n";
    }
    if (!c.error.empty()) {
      out << "  error:      " << c.error << "\n";
      continue;
    }
    out << "  parameters: " << with_commas(c.parameters) << " in " << c.loaded << " of " << c.expected
        << " expected tensors\n";
    out << "  missing:    " << shortened(c.missing) << "\n";
    if (!c.mismatched.empty()) out << "  misshapen:  " << shortened(c.mismatched) << "\n";
    out << "  unexpected: " << shortened(c.unexpected) << "\n";
    if (!c.unused.empty()) out << "  present, not loaded: " << shortened(c.unused, 3) << "\n";
    if (!c.extras.empty()) out << "  expected extras: " << c.extras.size() << " (LoRA parametrization, merged at load)\n";
    if (!c.ignored.empty()) {
      out << "  ignored:   ";
      for (const auto& [group, n] : c.ignored)
        out << " " << group << (group.back() == '*' ? " (" + std::to_string(n) + ")" : group == "spiece_model" ? " (the tokenizer)" : "");
      out << "\n";
    }
  }
  out << "\n" << (ok() ? "complete: every component has the tensors its config expects\n"
                       : "INCOMPLETE: see the missing, misshapen or unexpected tensors above\n");
  return out.str();
}

}  // namespace baton::io
