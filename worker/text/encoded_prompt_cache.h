#pragma once
// A bounded least-recently-used cache of encoded prompts: the negative prompt
// (and a repeated positive one) is encoded once, not once per image.
#include <ATen/ATen.h>

#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace baton::worker {

// What the DiT needs from one prompt (spec 0): caption features of the real
// tokens only and the pooled CLIP vector, both float32 on the CPU.
struct EncodedPrompt {
  at::Tensor cap_feats;    // [Lc, gemma hidden]
  at::Tensor clip_pooled;  // [jina hidden]
};

class EncodedPromptCache {
 public:
  // `capacity` 0 disables caching.
  explicit EncodedPromptCache(size_t capacity) : capacity_(capacity) {}

  // The entry for `key`, now the most recently used; nullopt if absent.
  std::optional<EncodedPrompt> get(const std::string& key);
  // Inserts or replaces; evicts the least recently used entry beyond capacity.
  void put(const std::string& key, EncodedPrompt value);
  size_t size() const;
  size_t capacity() const { return capacity_; }
  uint64_t hits() const;
  uint64_t misses() const;

 private:
  using Entry = std::pair<std::string, EncodedPrompt>;
  size_t capacity_;
  mutable std::mutex mutex_;
  std::list<Entry> order_;  // front = most recently used
  std::unordered_map<std::string, std::list<Entry>::iterator> index_;
  uint64_t hits_ = 0, misses_ = 0;
};

}  // namespace baton::worker
