#pragma once
// What `baton inspect` reports about a model folder: the layout, and per
// component its files, naming, config (and what was filled in), parameter
// count, dtypes and bytes, and the tensors that are missing, misshapen,
// present but not loaded, or unexpected against the config's tensor table.
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "io/model_folder.h"

namespace baton::io {

struct ComponentReport {
  Component component = Component::Transformer;
  std::vector<std::string> files;  // relative to the folder
  std::string naming;
  std::string config_source;
  nlohmann::json config;
  std::vector<std::string> config_notes;
  std::string tokenizer;  // where it is; "missing" when a text component has none
  uint64_t parameters = 0;  // elements of the tensors the model loads (Jina LoRA merged)
  size_t expected = 0;      // tensors the model loads
  size_t loaded = 0;        // of those, present with the right shape
  struct DtypeUse {
    uint64_t tensors = 0;
    uint64_t bytes = 0;
  };
  std::map<std::string, DtypeUse> dtypes;  // over every tensor of the files
  uint64_t bytes = 0;
  std::vector<std::string> missing;
  std::vector<std::string> mismatched;  // "name [shape], expected [shape]"
  std::vector<std::string> unused;      // present, not loaded (Gemma's last layer, DiT norm_final)
  std::vector<std::string> extras;      // expected extras (Jina LoRA parametrization, pooler)
  std::vector<std::string> unexpected;
  std::map<std::string, uint64_t> ignored;  // file tensors outside the network: "vision_tower.*" -> count
  std::string error;                        // the component could not be read at all

  bool ok() const { return error.empty() && missing.empty() && mismatched.empty() && unexpected.empty(); }
};

struct InspectionReport {
  std::string path;
  Layout layout = Layout::NewBie;
  double scheduler_shift = kDefaultSchedulerShift;
  std::string scheduler_source;
  std::vector<ComponentReport> components;

  bool ok() const;
  nlohmann::json to_json() const;
  std::string to_text() const;
};

// Reads headers and configs only; no tensor data. Throws Error when `path` is
// not a model folder; a broken component is reported in its `error`.
InspectionReport inspect_model_folder(const std::string& path);

}  // namespace baton::io
