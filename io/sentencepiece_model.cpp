#include "io/sentencepiece_model.h"

#include <dlfcn.h>

#include <filesystem>
#include <mutex>

#include "core/error.h"

namespace baton::io {
namespace {

struct ShimApi {
  void* (*load)(const char*, char*, int) = nullptr;
  void (*free_model)(void*) = nullptr;
  int (*encode)(void*, const char*, int, int*, int) = nullptr;
  int (*info)(void*, int) = nullptr;
  int (*id_to_piece)(void*, int, char*, int) = nullptr;
  int (*train)(const char*, const char* const*, int, char*, int) = nullptr;
};

// Where the shim may be: beside the executable (installed), in ../lib, or
// where this build tree put it.
std::vector<std::string> shim_candidates() {
  std::vector<std::string> out;
  std::error_code ec;
  auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    out.push_back((exe.parent_path() / "libbaton_spm.so").string());
    out.push_back((exe.parent_path() / "../lib/libbaton_spm.so").string());
  }
  out.push_back(BATON_SPM_SHIM_PATH);
  return out;
}

const ShimApi& shim() {
  static ShimApi api;
  static std::once_flag once;
  static std::string failure;
  std::call_once(once, [] {
    void* lib = nullptr;
    std::string tried;
    for (const auto& path : shim_candidates()) {
      if (!std::filesystem::exists(path)) continue;
      lib = dlmopen(LM_ID_NEWLM, path.c_str(), RTLD_NOW | RTLD_LOCAL);
      if (lib) break;
      tried += std::string(" ") + path + " (" + dlerror() + ")";
    }
    if (!lib) {
      failure = "cannot load the SentencePiece shim libbaton_spm.so" + (tried.empty() ? std::string(": not found") : ":" + tried);
      return;
    }
    api.load = reinterpret_cast<decltype(api.load)>(dlsym(lib, "baton_spm_load"));
    api.free_model = reinterpret_cast<decltype(api.free_model)>(dlsym(lib, "baton_spm_free"));
    api.encode = reinterpret_cast<decltype(api.encode)>(dlsym(lib, "baton_spm_encode"));
    api.info = reinterpret_cast<decltype(api.info)>(dlsym(lib, "baton_spm_info"));
    api.id_to_piece = reinterpret_cast<decltype(api.id_to_piece)>(dlsym(lib, "baton_spm_id_to_piece"));
    api.train = reinterpret_cast<decltype(api.train)>(dlsym(lib, "baton_spm_train"));
    if (!api.load || !api.free_model || !api.encode || !api.info || !api.id_to_piece || !api.train)
      failure = "the SentencePiece shim libbaton_spm.so lacks a symbol; rebuild baton";
  });
  if (!failure.empty()) throw Error(failure, "keep libbaton_spm.so beside the baton executable");
  return api;
}

}  // namespace

SentencePieceModel::SentencePieceModel(const std::string& path) : path_(path) {
  if (!std::filesystem::is_regular_file(path)) throw Error("tokenizer model " + path + " does not exist");
  char err[512] = {0};
  handle_ = shim().load(path.c_str(), err, sizeof err);
  if (!handle_) throw Error("tokenizer model " + path + " is not a SentencePiece model (" + err + ")");
}

SentencePieceModel::~SentencePieceModel() {
  if (handle_) shim().free_model(handle_);
}

std::vector<int> SentencePieceModel::encode(const std::string& text) const {
  std::vector<int> ids(text.size() + 16);
  int n = shim().encode(handle_, text.data(), static_cast<int>(text.size()), ids.data(), static_cast<int>(ids.size()));
  if (n > static_cast<int>(ids.size())) {
    ids.resize(static_cast<size_t>(n));
    n = shim().encode(handle_, text.data(), static_cast<int>(text.size()), ids.data(), n);
  }
  if (n < 0) throw Error(path_ + ": SentencePiece could not encode the text");
  ids.resize(static_cast<size_t>(n));
  return ids;
}

std::string SentencePieceModel::id_to_piece(int id) const {
  char buf[256];
  const int n = shim().id_to_piece(handle_, id, buf, sizeof buf);
  if (n < 0) throw Error(path_ + ": no piece with id " + std::to_string(id));
  return std::string(buf);
}

int SentencePieceModel::piece_count() const { return shim().info(handle_, 0); }
int SentencePieceModel::bos_id() const { return shim().info(handle_, 1); }
int SentencePieceModel::eos_id() const { return shim().info(handle_, 2); }
int SentencePieceModel::pad_id() const { return shim().info(handle_, 3); }
int SentencePieceModel::unk_id() const { return shim().info(handle_, 4); }

void train_sentencepiece(const std::string& flags, const std::vector<std::string>& lines) {
  std::vector<const char*> ptrs;
  ptrs.reserve(lines.size());
  for (const auto& l : lines) ptrs.push_back(l.c_str());
  char err[512] = {0};
  if (shim().train(flags.c_str(), ptrs.data(), static_cast<int>(ptrs.size()), err, sizeof err) != 0)
    throw Error(std::string("SentencePiece training failed: ") + err);
}

}  // namespace baton::io
