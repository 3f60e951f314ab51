// A C interface to SentencePiece, built as its own shared object and opened
// in a separate link-map namespace (dlmopen) by io/sentencepiece_model.cpp.
// Why: Debian's libsentencepiece exports the symbols of the protobuf-lite copy
// it bundles; linked into a process that also loads libprotobuf (libtorch
// does), those symbols interpose on libprotobuf's own and the process crashes
// at start-up. In its own namespace it keeps its own protobuf (and its own
// C++ runtime: RTLD_DEEPBIND would split iostreams). Only C types cross over.
#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include <cstring>
#include <string>
#include <vector>

namespace {
void set_error(char* err, int errlen, const std::string& msg) {
  if (!err || errlen <= 0) return;
  std::strncpy(err, msg.c_str(), static_cast<size_t>(errlen) - 1);
  err[errlen - 1] = '\0';
}

class LineIterator : public sentencepiece::SentenceIterator {
 public:
  LineIterator(const char* const* lines, int n) : lines_(lines), n_(n) { load(); }
  bool done() const override { return index_ >= n_; }
  void Next() override {
    ++index_;
    load();
  }
  const std::string& value() const override { return current_; }
  sentencepiece::util::Status status() const override { return sentencepiece::util::Status(); }

 private:
  void load() {
    if (index_ < n_) current_ = lines_[index_];
  }
  const char* const* lines_;
  int n_;
  int index_ = 0;
  std::string current_;
};
}  // namespace

extern "C" {

__attribute__((visibility("default"))) void* baton_spm_load(const char* path, char* err, int errlen) {
  auto* sp = new sentencepiece::SentencePieceProcessor();
  auto status = sp->Load(path);
  if (!status.ok()) {
    set_error(err, errlen, status.ToString());
    delete sp;
    return nullptr;
  }
  return sp;
}

__attribute__((visibility("default"))) void baton_spm_free(void* handle) {
  delete static_cast<sentencepiece::SentencePieceProcessor*>(handle);
}

// Returns the number of ids (which may exceed `cap`: call again with more
// room), or -1 on error.
__attribute__((visibility("default"))) int baton_spm_encode(void* handle, const char* text, int len, int* ids,
                                                            int cap) {
  std::vector<int> out;
  auto status = static_cast<sentencepiece::SentencePieceProcessor*>(handle)->Encode(
      std::string(text, static_cast<size_t>(len)), &out);
  if (!status.ok()) return -1;
  for (int i = 0; i < static_cast<int>(out.size()) && i < cap; ++i) ids[i] = out[static_cast<size_t>(i)];
  return static_cast<int>(out.size());
}

// 0: pieces, 1: bos, 2: eos, 3: pad, 4: unk.
__attribute__((visibility("default"))) int baton_spm_info(void* handle, int what) {
  auto* sp = static_cast<sentencepiece::SentencePieceProcessor*>(handle);
  switch (what) {
    case 0: return sp->GetPieceSize();
    case 1: return sp->bos_id();
    case 2: return sp->eos_id();
    case 3: return sp->pad_id();
    case 4: return sp->unk_id();
    default: return -1;
  }
}

// Copies the piece of `id` (NUL-terminated, truncated to cap) and returns its full length.
__attribute__((visibility("default"))) int baton_spm_id_to_piece(void* handle, int id, char* buf, int cap) {
  auto* sp = static_cast<sentencepiece::SentencePieceProcessor*>(handle);
  if (id < 0 || id >= sp->GetPieceSize()) return -1;
  const std::string piece = sp->IdToPiece(id);
  set_error(buf, cap, piece);
  return static_cast<int>(piece.size());
}

__attribute__((visibility("default"))) int baton_spm_train(const char* flags, const char* const* lines, int n,
                                                           char* err, int errlen) {
  LineIterator it(lines, n);
  auto status = sentencepiece::SentencePieceTrainer::Train(flags, &it);
  if (!status.ok()) {
    set_error(err, errlen, status.ToString());
    return -1;
  }
  return 0;
}

}  // extern "C"
