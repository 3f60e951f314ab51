#pragma once
// What ModelFolder knows about one component (private to model_folder*.cpp).
#include <string>
#include <vector>

#include "io/model_folder.h"

namespace baton::io {

struct ModelFolder::Part {
  std::string weights;         // .safetensors or .safetensors.index.json; empty if not found
  std::string weights_error;   // why not found
  std::string config_file;     // config.json for HF layouts; empty for ComfyUI files
  std::string config_source;   // for display
  std::vector<std::string> config_notes;
  std::vector<std::string> defaulted;  // config keys absent from the file
  std::string config_error;    // set when the config could not be read
  std::vector<std::string> tokenizer_files;  // candidates, in order of preference
  bool tokenizer_in_weights = false;         // ComfyUI: tensor "spiece_model" in the weights file
};

}  // namespace baton::io
