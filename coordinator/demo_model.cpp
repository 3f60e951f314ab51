#include "coordinator/demo_model.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "core/error.h"
#include "io/tiny_model.h"

namespace baton::coordinator {
namespace fs = std::filesystem;

namespace {
// Bump when the tiny configs or the writer change, so old caches are not reused.
constexpr const char* kDemoName = "demo-model-v1";
constexpr uint64_t kDemoSeed = 2026;
}  // namespace

std::string baton_cache_dir() {
  if (const char* d = std::getenv("BATON_CACHE_DIR"); d && *d) return d;
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) return std::string(x) + "/baton";
  if (const char* h = std::getenv("HOME"); h && *h) return std::string(h) + "/.cache/baton";
  return (fs::temp_directory_path() / "baton-cache").string();
}

bool is_demo_model(const std::string& name) { return name == "demo"; }

std::string ensure_demo_model() {
  const fs::path root = baton_cache_dir();
  const fs::path dir = root / kDemoName;
  if (fs::exists(dir / "model_index.json")) return dir.string();
  std::error_code ec;
  fs::create_directories(root, ec);
  if (ec) throw Error("cannot create the cache folder " + root.string() + " (" + ec.message() + ")",
                      "set BATON_CACHE_DIR to a writable folder");
  spdlog::info("making the demo model (tiny, random weights) in {}", dir.string());
  const fs::path tmp = root / (std::string(kDemoName) + ".tmp-" + std::to_string(::getpid()));
  fs::remove_all(tmp, ec);
  io::TinyModelOptions options;
  options.seed = kDemoSeed;
  io::write_tiny_model(tmp.string(), options);
  fs::rename(tmp, dir, ec);
  if (ec) {
    fs::remove_all(tmp, ec);
    // Another process may have made it at the same time: that one is as good.
    if (!fs::exists(dir / "model_index.json")) throw Error("cannot move the demo model into " + dir.string());
  }
  return dir.string();
}

}  // namespace baton::coordinator
