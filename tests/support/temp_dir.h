#pragma once
// A fresh directory under the system temp folder, removed with its contents.
#include <string>

namespace baton::test {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// The path of a file in tests/data.
std::string test_data(const std::string& name);

// The whole file as bytes (empty if it cannot be read).
std::string read_file(const std::string& path);

}  // namespace baton::test
