#pragma once
// PNG images as baton writes them: 8-bit RGB with the recipe in text chunks.
// "parameters" holds the one-line AUTOMATIC1111 form that image tools show
// (prompt, "Negative prompt:", Steps, Sampler, CFG scale, Seed, Size, Model);
// "baton" (iTXt, UTF-8) holds JSON {"request": ..., "plan": ...} with the full
// request and a summary of the plan, so a batch can resume from its outputs.
#include <ATen/ATen.h>

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <utility>
#include <vector>

namespace baton::io {

struct RgbImage {
  int64_t width = 0;
  int64_t height = 0;
  std::vector<uint8_t> pixels;  // height rows of width RGB triples

  // From a uint8 tensor [H, W, 3] or [1, H, W, 3] (models::image_to_rgb8).
  static RgbImage from_tensor(const at::Tensor& hwc);
};

struct PngText {
  std::string keyword;  // 1-79 printable ASCII characters
  std::string text;     // UTF-8
  // iTXt (UTF-8) even when the text is ASCII. Non-ASCII text is always iTXt;
  // ASCII text otherwise goes into a plain tEXt chunk. Set on reading when the
  // chunk was iTXt.
  bool international = false;
};

constexpr const char* kParametersKeyword = "parameters";
constexpr const char* kBatonKeyword = "baton";

// What the "parameters" chunk says about one image.
struct ImageRecipe {
  std::string prompt;
  std::string negative_prompt;  // the line is left out when empty, like AUTOMATIC1111
  int64_t steps = 0;
  std::string sampler = "Euler (flow)";
  double cfg_scale = 0;
  uint64_t seed = 0;
  int64_t width = 0;
  int64_t height = 0;
  std::string model = "NewBie-image-Exp0.1";
  std::vector<std::pair<std::string, std::string>> extra;  // more "Key: value" pairs after Model
};

// "<prompt>\nNegative prompt: <neg>\nSteps: 28, Sampler: Euler (flow), CFG scale: 5, Seed: 42,
// Size: 1024x1024, Model: NewBie-image-Exp0.1[, extra...]"; a value with ',', ':' or a
// newline is written as a JSON string, as AUTOMATIC1111 does.
std::string format_parameters(const ImageRecipe& recipe);

// The two chunks: "parameters" and "baton" = {"request": request, "plan": plan}.
std::vector<PngText> recipe_text_chunks(const ImageRecipe& recipe, const nlohmann::json& request,
                                        const nlohmann::json& plan);

// PNG bytes (for clients and files); text chunks precede the image data.
std::vector<uint8_t> encode_png(const RgbImage& image, const std::vector<PngText>& texts, int compression_level = 6);
// encode_png then write_file_atomically (io/atomic_file.h).
void write_png(const std::string& path, const RgbImage& image, const std::vector<PngText>& texts);

struct PngContents {
  RgbImage image;               // any PNG is converted to 8-bit RGB
  std::vector<PngText> texts;   // tEXt, zTXt and iTXt, in file order, as UTF-8
  // The text of the first chunk named `keyword`, or nullptr.
  const std::string* text(const std::string& keyword) const;
};

PngContents decode_png(const uint8_t* data, size_t size, const std::string& what = "PNG data");
PngContents read_png(const std::string& path);

}  // namespace baton::io
