#pragma once
// DIR/manifest.jsonl of `baton batch`: one JSON line per image written
// ({"line", "file", "seed", "request", "bytes", "seconds"}), appended and
// fsynced after the image itself is in place. A kill can leave at most a
// partial last line (dropped when the manifest is opened again) or an image
// without its line (the batch adds it when it finds the image complete).
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

namespace baton::coordinator {

class BatchManifest {
 public:
  // Opens (creates) `path`, drops a partial last line, reads the entries.
  explicit BatchManifest(std::string path);
  ~BatchManifest();
  BatchManifest(const BatchManifest&) = delete;
  BatchManifest& operator=(const BatchManifest&) = delete;

  // The entry of prompt-file line `line` (the last one if several), or nullptr.
  const nlohmann::json* entry(int64_t line) const;
  size_t size() const { return entries_.size(); }
  // Appends one entry (must have "line") and fsyncs the file.
  void append(const nlohmann::json& entry);
  // Drops the entry of `line` (an image that must be made again), so each
  // line keeps at most one entry: the file is rewritten atomically, in line order.
  void forget(int64_t line);

 private:
  std::string path_;
  int fd_ = -1;
  std::map<int64_t, nlohmann::json> entries_;
};

}  // namespace baton::coordinator
