// Every file of tests/data/malformed (written by its generate.py) must be
// refused with an Error that names the file and says what was expected.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "core/error.h"
#include "io/safetensors_file.h"
#include "tests/support/temp_dir.h"

namespace baton::io {
namespace fs = std::filesystem;

static std::map<std::string, std::string> expected_errors() {
  std::ifstream in(test::test_data("malformed/expected_errors.txt"));
  std::map<std::string, std::string> out;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    const auto tab = line.find('\t');
    out[line.substr(0, tab)] = line.substr(tab + 1);
  }
  return out;
}

TEST(MalformedCorpus, EveryFileIsRefusedWithItsMessage) {
  const auto expected = expected_errors();
  ASSERT_GE(expected.size(), 20u);
  std::set<std::string> seen;
  for (const auto& entry : fs::directory_iterator(test::test_data("malformed"))) {
    const std::string name = entry.path().filename().string();
    if (entry.path().extension() != ".safetensors") continue;
    seen.insert(name);
    ASSERT_TRUE(expected.count(name)) << name << " has no line in expected_errors.txt";
    try {
      SafetensorsFile f(entry.path().string());
      ADD_FAILURE() << name << " was accepted";
    } catch (const Error& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find(entry.path().string()), std::string::npos) << name << ": message lacks the path: " << what;
      EXPECT_NE(what.find(expected.at(name)), std::string::npos)
          << name << ": expected '" << expected.at(name) << "' in: " << what;
    }
  }
  EXPECT_EQ(seen.size(), expected.size()) << "expected_errors.txt lists files that do not exist";
}

TEST(MalformedCorpus, TruncatingAValidFileAnywhereIsRefusedNotCrashed) {
  // Every prefix of a real file: either a clear Error or (only the whole file) success.
  std::ifstream in(test::test_data("vae_a.safetensors"), std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_GT(bytes.size(), 1000u);
  test::TempDir dir;
  const std::string path = dir.file("cut.safetensors");
  int refused = 0;
  for (size_t cut : {size_t(0), size_t(4), size_t(8), size_t(9), size_t(100), bytes.size() / 2, bytes.size() - 1}) {
    std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(cut));
    try {
      SafetensorsFile f(path);
    } catch (const Error& e) {
      ++refused;
      EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    }
  }
  EXPECT_EQ(refused, 7);
}

}  // namespace baton::io
