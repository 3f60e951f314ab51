#include "io/png_image.h"

#include <png.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/tensor_source.h"  // format_shape
#include "core/utf8.h"
#include "io/atomic_file.h"

namespace baton::io {

RgbImage RgbImage::from_tensor(const at::Tensor& hwc) {
  auto t = hwc.defined() && hwc.dim() == 4 && hwc.size(0) == 1 ? hwc[0] : hwc;
  require(t.defined() && t.dim() == 3 && t.size(2) == 3 && t.scalar_type() == at::kByte,
          "image tensor " + (hwc.defined() ? format_shape(hwc.sizes().vec()) : std::string("(none)")) +
              " is not uint8 [H, W, 3]",
          "convert the decoder output with models::image_to_rgb8");
  t = t.cpu().contiguous();
  RgbImage image{t.size(1), t.size(0), {}};
  const auto* p = t.data_ptr<uint8_t>();
  image.pixels.assign(p, p + t.numel());
  return image;
}

namespace {

// ---- the recipe ------------------------------------------------------------

std::string quote_value(const std::string& v) {
  if (v.find_first_of(",:\n") == std::string::npos) return v;
  return nlohmann::json(v).dump();
}

std::string format_number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

std::string trim(const std::string& s) {
  const char* ws = " \t\r\n";
  const auto b = s.find_first_not_of(ws);
  if (b == std::string::npos) return {};
  return s.substr(b, s.find_last_not_of(ws) - b + 1);
}

// ---- text chunk checks -----------------------------------------------------

bool is_ascii(const std::string& s) {
  for (unsigned char c : s)
    if (c >= 0x80) return false;
  return true;
}

void check_text(const PngText& t) {
  bool ok = !t.keyword.empty() && t.keyword.size() <= 79 && t.keyword.front() != ' ' && t.keyword.back() != ' ' &&
            t.keyword.find("  ") == std::string::npos;
  for (unsigned char c : t.keyword) ok = ok && c >= 32 && c <= 126;
  require(ok, "PNG text keyword '" + t.keyword + "' is invalid",
          "a keyword is 1 to 79 printable ASCII characters without leading, trailing or double spaces");
  require(t.text.find('\0') == std::string::npos, "PNG text '" + t.keyword + "' contains a NUL byte");
  require(is_utf8(t.text), "PNG text '" + t.keyword + "' is not valid UTF-8");
}

std::string latin1_to_utf8(const char* s, size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      out += static_cast<char>(c);
    } else {
      out += static_cast<char>(0xC0 | (c >> 6));
      out += static_cast<char>(0x80 | (c & 0x3F));
    }
  }
  return out;
}

// ---- libpng plumbing ---------------------------------------------------------
// libpng reports errors by longjmp: every function that calls setjmp below
// holds no C++ object that needs destroying; the C++ state lives in callers.

struct Failure {
  char message[256] = "";
};

void on_error(png_structp png, png_const_charp msg) {
  auto* f = static_cast<Failure*>(png_get_error_ptr(png));
  std::snprintf(f->message, sizeof f->message, "%s", msg);
  png_longjmp(png, 1);
}
void on_warning(png_structp, png_const_charp) {}

void append_bytes(png_structp png, png_bytep data, png_size_t n) {
  auto* out = static_cast<std::vector<uint8_t>*>(png_get_io_ptr(png));
  try {
    out->insert(out->end(), data, data + n);
  } catch (const std::bad_alloc&) {
    png_error(png, "out of memory");
  }
}
void flush_nothing(png_structp) {}

struct MemoryReader {
  const uint8_t* data;
  size_t size;
  size_t pos;
};

void read_bytes(png_structp png, png_bytep out, png_size_t n) {
  auto* r = static_cast<MemoryReader*>(png_get_io_ptr(png));
  if (n > r->size - r->pos) png_error(png, "the data ends early (truncated file)");
  std::memcpy(out, r->data + r->pos, n);
  r->pos += n;
}

bool write_all(png_structp png, png_infop info, const RgbImage* image, png_textp texts, int count, png_bytepp rows,
               int level) {
  if (setjmp(png_jmpbuf(png))) return false;
  png_set_IHDR(png, info, static_cast<png_uint_32>(image->width), static_cast<png_uint_32>(image->height), 8,
               PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_set_compression_level(png, level);
  if (count > 0) png_set_text(png, info, texts, count);
  png_write_info(png, info);
  png_write_image(png, rows);
  png_write_end(png, info);
  return true;
}

// Reads the header and sets the transforms that give 8-bit RGB.
bool read_header(png_structp png, png_infop info, png_uint_32* width, png_uint_32* height, size_t* rowbytes) {
  if (setjmp(png_jmpbuf(png))) return false;
  png_read_info(png, info);
  png_set_expand(png);
  png_set_strip_16(png);
  png_set_strip_alpha(png);
  png_set_gray_to_rgb(png);
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
  *width = png_get_image_width(png, info);
  *height = png_get_image_height(png, info);
  *rowbytes = png_get_rowbytes(png, info);
  return true;
}

bool read_rows(png_structp png, png_infop info, png_infop end_info, png_bytepp rows) {
  if (setjmp(png_jmpbuf(png))) return false;
  png_read_image(png, rows);
  png_read_end(png, end_info);
  return true;
}

void collect_texts(png_structp png, png_infop info, std::vector<PngText>* out) {
  png_textp texts = nullptr;
  int count = 0;
  png_get_text(png, info, &texts, &count);
  for (int i = 0; i < count; ++i) {
    const bool itxt = texts[i].compression == PNG_ITXT_COMPRESSION_NONE || texts[i].compression == PNG_ITXT_COMPRESSION_zTXt;
    const char* s = texts[i].text ? texts[i].text : "";
    out->push_back({texts[i].key, itxt ? std::string(s) : latin1_to_utf8(s, std::strlen(s)), itxt});
  }
}

struct WriteStructs {
  png_structp png = nullptr;
  png_infop info = nullptr;
  ~WriteStructs() { png_destroy_write_struct(&png, info ? &info : nullptr); }
};

struct ReadStructs {
  png_structp png = nullptr;
  png_infop info = nullptr;
  png_infop end_info = nullptr;
  ~ReadStructs() { png_destroy_read_struct(&png, info ? &info : nullptr, end_info ? &end_info : nullptr); }
};

}  // namespace

std::string format_parameters(const ImageRecipe& r) {
  std::vector<std::pair<std::string, std::string>> fields{
      {"Steps", std::to_string(r.steps)},         {"Sampler", r.sampler},
      {"CFG scale", format_number(r.cfg_scale)},  {"Seed", std::to_string(r.seed)},
      {"Size", std::to_string(r.width) + "x" + std::to_string(r.height)}, {"Model", r.model}};
  fields.insert(fields.end(), r.extra.begin(), r.extra.end());
  std::string line;
  for (const auto& [key, value] : fields) {
    if (value.empty()) continue;
    line += (line.empty() ? "" : ", ") + key + ": " + quote_value(value);
  }
  std::string text = r.prompt;
  if (!r.negative_prompt.empty()) text += "\nNegative prompt: " + r.negative_prompt;
  return trim(text + "\n" + line);
}

std::vector<PngText> recipe_text_chunks(const ImageRecipe& recipe, const nlohmann::json& request,
                                        const nlohmann::json& plan) {
  std::string json;
  try {
    json = nlohmann::json{{"request", request}, {"plan", plan}}.dump();
  } catch (const nlohmann::json::exception& e) {
    throw Error(std::string("the request or plan cannot be stored in a PNG: ") + e.what());
  }
  return {{kParametersKeyword, format_parameters(recipe), false}, {kBatonKeyword, json, true}};
}

std::vector<uint8_t> encode_png(const RgbImage& image, const std::vector<PngText>& texts, int compression_level) {
  require(image.width > 0 && image.height > 0 && image.width <= PNG_UINT_31_MAX && image.height <= PNG_UINT_31_MAX,
          "PNG image of " + std::to_string(image.width) + "x" + std::to_string(image.height) +
              " pixels: both sides must be between 1 and 2^31-1");
  require(image.pixels.size() == static_cast<size_t>(image.width * image.height * 3),
          "PNG image of " + std::to_string(image.width) + "x" + std::to_string(image.height) + " has " +
              std::to_string(image.pixels.size()) + " bytes of pixels; expected width*height*3");
  require(compression_level >= 0 && compression_level <= 9, "PNG compression level must be 0 to 9");
  std::vector<png_text> chunks(texts.size());
  for (size_t i = 0; i < texts.size(); ++i) {
    check_text(texts[i]);
    const bool itxt = texts[i].international || !is_ascii(texts[i].text);
    std::memset(&chunks[i], 0, sizeof(png_text));
    chunks[i].compression = itxt ? PNG_ITXT_COMPRESSION_NONE : PNG_TEXT_COMPRESSION_NONE;
    chunks[i].key = const_cast<char*>(texts[i].keyword.c_str());  // libpng copies, never writes
    chunks[i].text = const_cast<char*>(texts[i].text.c_str());
    chunks[i].lang = const_cast<char*>("");
    chunks[i].lang_key = const_cast<char*>("");
  }
  std::vector<png_bytep> rows(static_cast<size_t>(image.height));
  for (int64_t y = 0; y < image.height; ++y)
    rows[y] = const_cast<png_bytep>(image.pixels.data() + y * image.width * 3);

  std::vector<uint8_t> out;
  out.reserve(image.pixels.size() / 2 + 1024);
  Failure failure;
  WriteStructs s;
  s.png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &failure, on_error, on_warning);
  if (s.png) s.info = png_create_info_struct(s.png);
  require(s.png && s.info, "cannot start a PNG encoder (out of memory)");
  png_set_write_fn(s.png, &out, append_bytes, flush_nothing);
  if (!write_all(s.png, s.info, &image, chunks.data(), static_cast<int>(chunks.size()), rows.data(),
                 compression_level))
    throw Error(std::string("PNG encoding failed: ") + failure.message);
  return out;
}

void write_png(const std::string& path, const RgbImage& image, const std::vector<PngText>& texts) {
  const auto bytes = encode_png(image, texts);
  write_file_atomically(path, bytes.data(), bytes.size());
}

const std::string* PngContents::text(const std::string& keyword) const {
  for (const auto& t : texts)
    if (t.keyword == keyword) return &t.text;
  return nullptr;
}

PngContents decode_png(const uint8_t* data, size_t size, const std::string& what) {
  require(size >= 8 && png_sig_cmp(const_cast<png_bytep>(data), 0, 8) == 0,
          what + " is not a PNG (the 8-byte PNG signature is missing)");
  Failure failure;
  ReadStructs s;
  s.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &failure, on_error, on_warning);
  if (s.png) s.info = png_create_info_struct(s.png);
  if (s.info) s.end_info = png_create_info_struct(s.png);
  require(s.png && s.info && s.end_info, "cannot start a PNG decoder (out of memory)");
  // Refuse absurd sizes before allocating (a hostile header can claim 2^31 x 2^31).
  png_set_user_limits(s.png, 1u << 16, 1u << 16);
  MemoryReader reader{data, size, 0};
  png_set_read_fn(s.png, &reader, read_bytes);

  png_uint_32 width = 0, height = 0;
  size_t rowbytes = 0;
  if (!read_header(s.png, s.info, &width, &height, &rowbytes))
    throw Error(what + " is not a readable PNG: " + failure.message);
  require(static_cast<uint64_t>(width) * height <= (uint64_t(1) << 28),
          what + ": " + std::to_string(width) + "x" + std::to_string(height) + " pixels is more than this reader takes");
  require(rowbytes == static_cast<size_t>(width) * 3, what + ": could not convert the image to 8-bit RGB");
  PngContents out;
  out.image.width = width;
  out.image.height = height;
  out.image.pixels.resize(rowbytes * height);
  std::vector<png_bytep> rows(height);
  for (png_uint_32 y = 0; y < height; ++y) rows[y] = out.image.pixels.data() + y * rowbytes;
  if (!read_rows(s.png, s.info, s.end_info, rows.data()))
    throw Error(what + " is not a readable PNG: " + failure.message);
  collect_texts(s.png, s.info, &out.texts);
  collect_texts(s.png, s.end_info, &out.texts);
  return out;
}

PngContents read_png(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  require(static_cast<bool>(in), "cannot open " + path + " (" + std::strerror(errno) + ")");
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return decode_png(bytes.data(), bytes.size(), path);
}

}  // namespace baton::io
