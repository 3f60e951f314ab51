#pragma once
// Weights made on the spot from a seed: the released model sizes without a
// checkpoint (benchmarks, memory measurements) and tiny models for tests.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/tensor_source.h"

namespace baton {

// Each tensor is drawn from its own generator seeded by (seed, name), so a
// tensor's values do not depend on which other tensors a stage loads.
// Weights of rank >= 2 are N(0, 1/fan_in) (keeps activations O(1) through deep
// stacks); vectors named "*norm*" or "*.weight" of rank 1 are N(0, 0.02) around 0
// when `norm_offset` is 0 (Gemma's 1+w convention) or around 1 otherwise;
// biases (rank 1, "*bias") are N(0, 0.02).
class RandomTensorSource : public TensorSource {
 public:
  RandomTensorSource(std::map<std::string, std::vector<int64_t>> shapes, uint64_t seed, double norm_offset = 1.0,
                     std::string label = "random weights");

  bool contains(const std::string& name) const override;
  std::vector<int64_t> shape(const std::string& name) const override;
  at::Tensor load(const std::string& name, const at::TensorOptions& options) const override;
  std::vector<std::string> names() const override;
  std::string describe() const override { return label_; }

 private:
  std::map<std::string, std::vector<int64_t>> shapes_;
  uint64_t seed_;
  double norm_offset_;
  std::string label_;
};

}  // namespace baton
