// A stage that owns DiT blocks 8-17 reads exactly those blocks' bytes, from
// one file or from the shards that hold them (bytes copied, not page cache).
#include <gtest/gtest.h>

#include "core/random_tensor_source.h"
#include "io/json_document.h"
#include "io/renamed_source.h"
#include "io/safetensors_file.h"
#include "io/safetensors_writer.h"
#include "io/sharded_checkpoint.h"
#include "models/nextdit/nextdit_config.h"
#include "tests/support/temp_dir.h"

namespace baton::io {

// The released block structure (36 layers, 2+2 refiners) at a small width.
static models::NextDitConfig narrow_released_dit() {
  models::NextDitConfig c;
  c.dim = 32;
  c.n_heads = 2;
  c.n_kv_heads = 1;
  c.axes_dims = {8, 4, 4};
  c.multiple_of = 32;
  c.cap_feat_dim = 32;
  c.clip_text_dim = 32;
  return c;
}

static uint64_t block_bytes(const models::NextDitConfig& c, int first, int last, uint64_t element) {
  uint64_t n = 0;
  for (int i = first; i <= last; ++i)
    for (const auto& kv : models::nextdit_block_shapes(c, "layers." + std::to_string(i) + ".", true)) {
      uint64_t e = element;
      for (auto d : kv.second) e *= static_cast<uint64_t>(d);
      n += e;
    }
  return n;
}

// What DiT stage "blocks 8-17" loads.
static void load_blocks_8_to_17(const TensorSource& weights, const models::NextDitConfig& c) {
  for (int i = 8; i <= 17; ++i) {
    const std::string p = "layers." + std::to_string(i) + ".";
    PrefixedSource block(weights, p);
    for (const auto& kv : models::nextdit_block_shapes(c, "", true))
      ASSERT_EQ(block.load_checked(kv.first, kv.second, at::kFloat).sizes().vec(), kv.second);
  }
}

TEST(PartialLoad, ASliceOfTheDitReadsOnlyItsBytes) {
  test::TempDir dir;
  const auto c = narrow_released_dit();
  RandomTensorSource weights(models::nextdit_tensor_shapes(c), 1);
  SafetensorsWriter w;
  for (const auto& name : weights.names()) w.add(name, weights.load(name, at::kFloat), StDtype::BF16);
  w.write(dir.file("dit.safetensors"));

  SafetensorsFile file(dir.file("dit.safetensors"));
  uint64_t total = 0;
  for (const auto& name : file.names()) total += file.info(name).nbytes();
  load_blocks_8_to_17(file, c);
  const uint64_t expected = block_bytes(c, 8, 17, 2);
  EXPECT_EQ(file.bytes_read(), expected);
  EXPECT_LT(file.bytes_read(), total * 10 / 36) << "10 of 36 blocks, less the global tensors";
  EXPECT_GT(file.bytes_read(), total / 5);
}

TEST(PartialLoad, ShardedDiffusersNamesOpenOnlyTheShardsOfTheSlice) {
  test::TempDir dir;
  const auto c = narrow_released_dit();
  RandomTensorSource weights(models::nextdit_tensor_shapes(c), 2);
  auto naming = lumina2_naming();
  // Shard k holds layers 9k..9k+8; the last also holds everything else.
  SafetensorsWriter shards[4];
  nlohmann::json map = nlohmann::json::object();
  for (const auto& name : weights.names()) {
    int shard = 3;
    if (name.rfind("layers.", 0) == 0) shard = std::stoi(name.substr(7)) / 9;
    const auto files = naming->to_file(name);
    const auto t = weights.load(name, at::kFloat);
    const int64_t hd = c.head_dim();
    const std::vector<int64_t> rows = {c.n_heads * hd, c.n_kv_heads * hd, c.n_kv_heads * hd};
    int64_t begin = 0;
    for (size_t i = 0; i < files.size(); ++i) {
      const auto part = files.size() == 1 ? t : t.narrow(0, begin, rows[i]).contiguous();
      if (files.size() > 1) begin += rows[i];
      shards[shard].add(files[i], part);
      map[files[i]] = "dit-0000" + std::to_string(shard + 1) + "-of-00004.safetensors";
    }
  }
  for (int s = 0; s < 4; ++s) shards[s].write(dir.file("dit-0000" + std::to_string(s + 1) + "-of-00004.safetensors"));
  write_json_file(dir.file("dit.safetensors.index.json"), {{"weight_map", map}});

  auto checkpoint = std::make_shared<ShardedCheckpoint>(dir.file("dit.safetensors.index.json"));
  RenamedSource canonical(checkpoint, lumina2_naming());
  EXPECT_FALSE(canonical.contains("norm_final.weight"));  // dropped by the diffusers conversion
  load_blocks_8_to_17(canonical, c);
  EXPECT_EQ(canonical.bytes_read(), block_bytes(c, 8, 17, 4));
  EXPECT_EQ(checkpoint->open_shard_count(), 2u) << "blocks 8-17 live in shards 1 and 2";
  // The concatenated qkv equals the original.
  EXPECT_TRUE(at::equal(canonical.load("layers.9.attention.qkv.weight", at::kFloat),
                        weights.load("layers.9.attention.qkv.weight", at::kFloat)));
}

}  // namespace baton::io
