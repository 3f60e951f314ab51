#include "coordinator/model_fingerprint.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

#include "core/error.h"

namespace baton::coordinator {
namespace fs = std::filesystem;

namespace {

constexpr uint64_t kOffset = 1469598103934665603ull;
constexpr uint64_t kPrime = 1099511628211ull;

void mix(uint64_t& h, const std::string& bytes) {
  for (unsigned char c : bytes) {
    h ^= c;
    h *= kPrime;
  }
  h ^= 0xff;  // a separator, so ("ab", "c") and ("a", "bc") differ
  h *= kPrime;
}

std::string hex(uint64_t h) {
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(h));
  return text;
}

bool is_small_text(const fs::path& p, uintmax_t size) {
  const auto ext = p.extension().string();
  return size <= (1u << 20) && (ext == ".json" || ext == ".txt" || ext == ".yaml" || ext == ".yml");
}

}  // namespace

std::string fingerprint_of(const std::string& text) {
  uint64_t h = kOffset;
  mix(h, text);
  return hex(h);
}

std::string model_fingerprint(const std::string& model_dir) {
  std::vector<std::pair<std::string, fs::path>> files;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(model_dir, fs::directory_options::follow_directory_symlink, ec), end;
       !ec && it != end; it.increment(ec)) {
    if (it->is_regular_file(ec)) files.emplace_back(fs::relative(it->path(), model_dir).generic_string(), it->path());
  }
  if (ec) throw Error("cannot list the model folder " + model_dir + " (" + ec.message() + ")");
  std::sort(files.begin(), files.end());
  uint64_t h = kOffset;
  for (const auto& [name, path] : files) {
    const auto size = fs::file_size(path, ec);
    if (ec) throw Error("cannot read the size of " + path.string() + " (" + ec.message() + ")");
    mix(h, name);
    mix(h, std::to_string(size));
    if (is_small_text(path, size)) {
      std::ifstream in(path, std::ios::binary);
      mix(h, std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()));
    }
  }
  return hex(h);
}

}  // namespace baton::coordinator
