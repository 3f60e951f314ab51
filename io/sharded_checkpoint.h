#pragma once
// A checkpoint split over several safetensors files, described by a Hugging
// Face index (`*.safetensors.index.json`: {"metadata": {...}, "weight_map":
// {tensor: shard file}}). A shard is opened (its header read) the first time
// one of its tensors is asked for, so a stage that owns a few layers touches
// only the shards holding them.
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "io/checkpoint.h"
#include "io/safetensors_file.h"

namespace baton::io {

class ShardedCheckpoint : public Checkpoint {
 public:
  // Reads and checks the index: valid JSON, every name listed once, every
  // shard file present beside the index. Opens no shard.
  explicit ShardedCheckpoint(const std::string& index_path);

  bool contains(const std::string& name) const override { return weight_map_.count(name) != 0; }
  std::vector<int64_t> shape(const std::string& name) const override;
  at::Tensor load(const std::string& name, const at::TensorOptions& options) const override;
  std::vector<std::string> names() const override;
  std::string describe() const override { return index_path_; }

  TensorInfo info(const std::string& name) const override;
  uint64_t bytes_read() const override;
  std::vector<std::string> files() const override;
  std::map<std::string, std::string> metadata() const override { return metadata_; }

  // The shard file (name relative to the index's folder) holding `name`.
  const std::string& shard_of(const std::string& name) const;
  // How many shards have been opened so far.
  size_t open_shard_count() const;

 private:
  const SafetensorsFile& shard(const std::string& file) const;

  std::string index_path_;
  std::string dir_;
  std::map<std::string, std::string> weight_map_;
  std::map<std::string, std::vector<std::string>> by_shard_;
  std::map<std::string, std::string> metadata_;
  mutable std::mutex mutex_;
  mutable std::map<std::string, std::unique_ptr<SafetensorsFile>> open_;
};

}  // namespace baton::io
