#include "io/sharded_checkpoint.h"

#include <filesystem>

#include "core/error.h"
#include "io/json_document.h"

namespace baton::io {

ShardedCheckpoint::ShardedCheckpoint(const std::string& index_path) : index_path_(index_path) {
  namespace fs = std::filesystem;
  dir_ = fs::path(index_path).parent_path().string();
  const auto index = read_json_file(index_path);
  if (!index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object())
    throw Error(index_path + ": a sharded checkpoint index needs a \"weight_map\" object {tensor: shard file}");
  if (index.contains("metadata") && index["metadata"].is_object())
    for (auto it = index["metadata"].begin(); it != index["metadata"].end(); ++it)
      metadata_[it.key()] = it.value().is_string() ? it.value().get<std::string>() : it.value().dump();
  const auto& map = index["weight_map"];
  for (auto it = map.begin(); it != map.end(); ++it) {
    if (!it.value().is_string())
      throw Error(index_path + ": weight_map entry for tensor " + it.key() + " is not a file name");
    const std::string file = it.value().get<std::string>();
    // Shards sit beside the index; a path that leaves the folder is refused.
    if (file.empty() || file.find('/') != std::string::npos || file == "." || file == "..")
      throw Error(index_path + ": tensor " + it.key() + " names shard '" + file +
                  "', expected a file name in the index's folder");
    weight_map_[it.key()] = file;
    by_shard_[file].push_back(it.key());
  }
  for (const auto& kv : by_shard_) {
    const auto path = fs::path(dir_) / kv.first;
    if (!fs::is_regular_file(path))
      throw Error(index_path + ": shard " + kv.first + " (holding " + std::to_string(kv.second.size()) +
                      " tensors, e.g. " + kv.second.front() + ") is missing",
                  "download every shard the index lists into " + (dir_.empty() ? std::string(".") : dir_));
  }
}

const SafetensorsFile& ShardedCheckpoint::shard(const std::string& file) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = open_.find(file);
  if (it != open_.end()) return *it->second;
  auto f = std::make_unique<SafetensorsFile>((std::filesystem::path(dir_) / file).string());
  // The index and the shard must agree: what the index places here is here,
  // and nothing here is placed by the index in another shard.
  for (const auto& name : by_shard_.at(file))
    if (!f->contains(name))
      throw Error(index_path_ + ": the index places tensor " + name + " in " + f->path() + ", which does not hold it");
  for (const auto& name : f->names()) {
    auto w = weight_map_.find(name);
    if (w != weight_map_.end() && w->second != file)
      throw Error(index_path_ + ": tensor " + name + " is in two shards, " + file + " and " + w->second,
                  "a name must be stored once; the index places it in " + w->second);
  }
  return *open_.emplace(file, std::move(f)).first->second;
}

const std::string& ShardedCheckpoint::shard_of(const std::string& name) const {
  auto it = weight_map_.find(name);
  if (it == weight_map_.end()) throw Error(index_path_ + ": tensor " + name + " is missing");
  return it->second;
}

std::vector<int64_t> ShardedCheckpoint::shape(const std::string& name) const { return shard(shard_of(name)).shape(name); }

TensorInfo ShardedCheckpoint::info(const std::string& name) const { return shard(shard_of(name)).info(name); }

at::Tensor ShardedCheckpoint::load(const std::string& name, const at::TensorOptions& options) const {
  return shard(shard_of(name)).load(name, options);
}

std::vector<std::string> ShardedCheckpoint::names() const {
  std::vector<std::string> out;
  out.reserve(weight_map_.size());
  for (const auto& kv : weight_map_) out.push_back(kv.first);
  return out;
}

uint64_t ShardedCheckpoint::bytes_read() const {
  std::lock_guard<std::mutex> lock(mutex_);
  uint64_t total = 0;
  for (const auto& kv : open_) total += kv.second->bytes_read();
  return total;
}

std::vector<std::string> ShardedCheckpoint::files() const {
  std::vector<std::string> out{index_path_};
  for (const auto& kv : by_shard_) out.push_back((std::filesystem::path(dir_) / kv.first).string());
  return out;
}

size_t ShardedCheckpoint::open_shard_count() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return open_.size();
}

}  // namespace baton::io
