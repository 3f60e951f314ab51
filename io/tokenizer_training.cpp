#include "io/tokenizer_training.h"

#include <filesystem>
#include <fstream>
#include <vector>

#include "core/error.h"
#include "io/sentencepiece_model.h"

namespace baton::io {
namespace {

// A fixed corpus in the register of NewBie prompts (plain and XML), so the
// learned pieces look like what users type. Deterministic: no randomness.
std::vector<std::string> tiny_corpus() {
  std::vector<std::string> lines;
  const char* subjects[] = {"a girl", "a boy", "two cats", "a knight", "a dragon", "an old castle"};
  const char* looks[] = {"long silver hair", "red eyes", "a blue dress", "school uniform", "armor"};
  const char* places[] = {"in a forest", "at night", "on a beach", "under cherry blossoms", "in the rain"};
  const char* styles[] = {"masterpiece, best quality", "anime style", "watercolor", "highly detailed"};
  for (const char* s : subjects)
    for (const char* l : looks)
      for (const char* p : places)
        for (const char* st : styles) {
          lines.push_back(std::string(s) + " with " + l + " " + p + ", " + st);
          lines.push_back(std::string("<character_1><n>") + s + "</n><appearance>" + l +
                          "</appearance></character_1><general_tags><style>" + st + "</style></general_tags>");
        }
  lines.push_back("You are an assistant designed to generate high-quality anime images based on xml format prompts. <Prompt Start>");
  lines.push_back("low quality, blurry, bad anatomy, worst quality, jpeg artifacts, signature, watermark");
  return lines;
}

void train(const std::string& model_path, const std::string& flags) {
  namespace fs = std::filesystem;
  const fs::path target(model_path);
  if (target.has_parent_path()) fs::create_directories(target.parent_path());
  // SentencePiece writes <prefix>.model and <prefix>.vocab; train beside the
  // target, then move the model into place.
  const std::string prefix = model_path + ".training";
  try {
    train_sentencepiece("--model_prefix=" + prefix + " --num_threads=1 --minloglevel=2 --character_coverage=1.0 " +
                            "--hard_vocab_limit=false --split_digits=true " + flags,
                        tiny_corpus());
  } catch (Error& e) {
    throw e.with_context("training a tiny tokenizer for " + model_path);
  }
  fs::rename(prefix + ".model", model_path);
  std::error_code ec;
  fs::remove(prefix + ".vocab", ec);
}

}  // namespace

void write_tiny_gemma_tokenizer(const std::string& model_path, int64_t vocab_size) {
  if (vocab_size < 300) throw Error("a tiny Gemma tokenizer needs vocab_size >= 300 (256 byte pieces + specials)");
  train(model_path, "--model_type=bpe --vocab_size=" + std::to_string(vocab_size) +
                        " --pad_id=0 --eos_id=1 --bos_id=2 --unk_id=3 --byte_fallback=true"
                        " --user_defined_symbols=<start_of_turn>,<end_of_turn>");
}

void write_tiny_xlmr_tokenizer(const std::string& model_path, int64_t vocab_size) {
  if (vocab_size < 64) throw Error("a tiny XLM-R tokenizer needs vocab_size >= 64");
  train(model_path, "--model_type=unigram --vocab_size=" + std::to_string(vocab_size) +
                        " --unk_id=0 --bos_id=1 --eos_id=2 --pad_id=-1");
}

}  // namespace baton::io
