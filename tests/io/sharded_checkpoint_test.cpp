#include <gtest/gtest.h>

#include <fstream>

#include "core/error.h"
#include "io/json_document.h"
#include "io/safetensors_writer.h"
#include "io/sharded_checkpoint.h"
#include "tests/support/temp_dir.h"

namespace baton::io {

static std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

static void write_text(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

// Two shards: a.* in shard 1, b.* in shard 2.
static void write_shards(const test::TempDir& dir) {
  SafetensorsWriter s1, s2;
  s1.add("a.x", at::full({4}, 1.0f));
  s1.add("a.y", at::full({2, 2}, 2.0f));
  s2.add("b.x", at::full({8}, 3.0f));
  s1.write(dir.file("m-00001-of-00002.safetensors"));
  s2.write(dir.file("m-00002-of-00002.safetensors"));
}

TEST(ShardedCheckpoint, OpensOnlyTheShardsItNeeds) {
  test::TempDir dir;
  write_shards(dir);
  write_json_file(dir.file("m.safetensors.index.json"),
                  {{"metadata", {{"total_size", 64}}},
                   {"weight_map",
                    {{"a.x", "m-00001-of-00002.safetensors"},
                     {"a.y", "m-00001-of-00002.safetensors"},
                     {"b.x", "m-00002-of-00002.safetensors"}}}});
  ShardedCheckpoint c(dir.file("m.safetensors.index.json"));
  EXPECT_EQ(c.names(), (std::vector<std::string>{"a.x", "a.y", "b.x"}));
  EXPECT_EQ(c.metadata().at("total_size"), "64");
  EXPECT_EQ(c.open_shard_count(), 0u);
  EXPECT_TRUE(c.contains("b.x"));
  EXPECT_EQ(c.open_shard_count(), 0u) << "contains() answers from the index";
  auto t = c.load("b.x", at::kFloat);
  EXPECT_TRUE(at::equal(t, at::full({8}, 3.0f)));
  EXPECT_EQ(c.open_shard_count(), 1u);
  EXPECT_EQ(c.bytes_read(), 32u);
  EXPECT_EQ(c.shape("a.y"), (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(c.open_shard_count(), 2u);
  EXPECT_EQ(c.bytes_read(), 32u) << "a shape costs no tensor bytes";
  EXPECT_EQ(c.files().size(), 3u);
}

TEST(ShardedCheckpoint, RefusesBadIndexes) {
  test::TempDir dir;
  write_shards(dir);
  const std::string index = dir.file("m.safetensors.index.json");

  write_text(index, R"({"weight_map": {"a.x": "m-00001-of-00002.safetensors", "b.x": "m-00003-of-00003.safetensors"}})");
  EXPECT_NE(error_of([&] { ShardedCheckpoint c(index); }).find(index + ": shard m-00003-of-00003.safetensors (holding 1 tensors, e.g. b.x) is missing"),
            std::string::npos);

  write_text(index, R"({"weight_map": {"a.x": "m-00001-of-00002.safetensors", "a.x": "m-00002-of-00002.safetensors"}})");
  EXPECT_NE(error_of([&] { ShardedCheckpoint c(index); }).find("key 'a.x' appears twice in 'weight_map'"),
            std::string::npos);

  write_text(index, R"({"weight_map": {"a.x": "m-00001-of-00002.safetensors",)");
  EXPECT_NE(error_of([&] { ShardedCheckpoint c(index); }).find(index + " is not valid JSON"), std::string::npos);

  write_text(index, R"({"weight_map": {"a.x": "../m-00001-of-00002.safetensors"}})");
  EXPECT_NE(error_of([&] { ShardedCheckpoint c(index); }).find("expected a file name in the index's folder"),
            std::string::npos);

  write_text(index, R"({"metadata": {}})");
  EXPECT_NE(error_of([&] { ShardedCheckpoint c(index); }).find("needs a \"weight_map\""), std::string::npos);
}

TEST(ShardedCheckpoint, RefusesShardsThatDisagreeWithTheIndex) {
  test::TempDir dir;
  write_shards(dir);
  const std::string index = dir.file("m.safetensors.index.json");
  // b.x is listed in shard 1, which does not hold it.
  write_text(index, R"({"weight_map": {"a.x": "m-00001-of-00002.safetensors", "b.x": "m-00001-of-00002.safetensors"}})");
  {
    ShardedCheckpoint c(index);
    EXPECT_NE(error_of([&] { c.load("b.x", at::kFloat); }).find("places tensor b.x in " + dir.file("m-00001-of-00002.safetensors") + ", which does not hold it"),
              std::string::npos);
  }
  // a.x is in shard 1 by the index but shard 2 holds it too.
  SafetensorsWriter s2;
  s2.add("a.x", at::full({4}, 9.0f));
  s2.add("b.x", at::full({8}, 3.0f));
  s2.write(dir.file("m-00002-of-00002.safetensors"));
  write_text(index, R"({"weight_map": {"a.x": "m-00001-of-00002.safetensors", "b.x": "m-00002-of-00002.safetensors"}})");
  ShardedCheckpoint c(index);
  EXPECT_NE(error_of([&] { c.load("b.x", at::kFloat); }).find("tensor a.x is in two shards"), std::string::npos);
  EXPECT_NE(error_of([&] { c.load("nothing", at::kFloat); }).find(index + ": tensor nothing is missing"), std::string::npos);
}

TEST(JsonDocument, FindsRepeatedKeysAtAnyDepth) {
  auto parse = [](const std::string& s) { return parse_json_strict(s.data(), s.data() + s.size(), "x.json"); };
  EXPECT_EQ(parse(R"({"a": {"b": 1}, "c": [{"b": 2}, {"b": 3}]})")["c"][1]["b"], 3);
  EXPECT_NE(error_of([&] { parse(R"({"a": 1, "b": 2, "a": 3})"); }).find("x.json: key 'a' appears twice"), std::string::npos);
  EXPECT_NE(error_of([&] { parse(R"({"o": {"k": 1, "k": 2}})"); }).find("key 'k' appears twice in 'o'"), std::string::npos);
  EXPECT_NE(error_of([&] { parse(R"([{"k": 1}, {"k": 1, "k": 2}])"); }).find("key 'k' appears twice"), std::string::npos);
  EXPECT_NE(error_of([&] { parse("{\"a\": "); }).find("x.json is not valid JSON"), std::string::npos);
}

}  // namespace baton::io
