#pragma once
// A TensorSource backed by safetensors files (one file or a sharded set), under
// the names the files use. Adds what the loader and `baton inspect` need
// beyond TensorSource: each tensor's stored dtype and byte range, and how many
// bytes of tensor data were copied out so far.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/tensor_source.h"
#include "io/safetensors_header.h"

namespace baton::io {

class Checkpoint : public TensorSource {
 public:
  // Stored dtype, shape and byte range; throws Error naming the tensor if absent.
  virtual TensorInfo info(const std::string& name) const = 0;
  // Bytes of tensor data copied out of the files so far (not page-cache
  // traffic): a stage that loads a slice reads a proportional share.
  virtual uint64_t bytes_read() const = 0;
  // The files this checkpoint consists of (an index file first, then shards).
  virtual std::vector<std::string> files() const = 0;
  // `__metadata__` entries (of the first shard, for a sharded checkpoint).
  virtual std::map<std::string, std::string> metadata() const = 0;
};

}  // namespace baton::io
