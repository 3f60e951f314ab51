#include "io/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <random>
#include <spdlog/spdlog.h>

#include "core/error.h"

namespace baton::io {
namespace {

std::string reason(int err) { return std::strerror(err); }

// Removes the temporary on every way out unless the rename succeeded.
class TemporaryFile {
 public:
  explicit TemporaryFile(const std::string& final_path) {
    const std::filesystem::path p(final_path);
    const auto dir = p.has_parent_path() ? p.parent_path() : std::filesystem::path(".");
    std::random_device entropy;
    for (int attempt = 0; attempt < 100; ++attempt) {
      char suffix[17];
      std::snprintf(suffix, sizeof suffix, "%08x%08x", entropy(), entropy());
      path_ = (dir / ("." + p.filename().string() + ".tmp." + suffix)).string();
      fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
      if (fd_ >= 0) return;
      if (errno != EEXIST) break;
    }
    const int err = errno;
    path_.clear();
    throw Error("cannot write " + final_path + ": cannot create a temporary file in " + dir.string() + " (" +
                    reason(err) + ")",
                "check that the folder exists and that this user may write to it");
  }
  ~TemporaryFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!path_.empty()) ::unlink(path_.c_str());
  }
  TemporaryFile(const TemporaryFile&) = delete;
  TemporaryFile& operator=(const TemporaryFile&) = delete;

  int fd() const { return fd_; }
  const std::string& path() const { return path_; }
  // Closes the descriptor; returns errno or 0 (close can report a failed write-back).
  int close() {
    const int rc = ::close(fd_);
    fd_ = -1;
    return rc == 0 ? 0 : errno;
  }
  void renamed() { path_.clear(); }

 private:
  std::string path_;
  int fd_ = -1;
};

}  // namespace

void write_file_atomically(const std::string& path, const void* data, size_t size) {
  require(!path.empty(), "cannot write a file with an empty name");
  TemporaryFile tmp(path);
  const auto* bytes = static_cast<const char*>(data);
  size_t done = 0;
  while (done < size) {
    const ssize_t n = ::write(tmp.fd(), bytes + done, size - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw Error("cannot write " + path + ": writing " + tmp.path() + " failed (" + reason(errno) + ")");
    done += static_cast<size_t>(n);
  }
  if (::fsync(tmp.fd()) != 0)
    throw Error("cannot write " + path + ": flushing " + tmp.path() + " to disk failed (" + reason(errno) + ")");
  if (int err = tmp.close())
    throw Error("cannot write " + path + ": closing " + tmp.path() + " failed (" + reason(err) + ")");
  if (::rename(tmp.path().c_str(), path.c_str()) != 0)
    throw Error("cannot write " + path + ": renaming the finished temporary into place failed (" + reason(errno) + ")",
                "is there a folder of that name, or is the target on another file system?");
  tmp.renamed();
  // Make the rename itself durable; the file is complete either way.
  const std::filesystem::path p(path);
  const auto dir = p.has_parent_path() ? p.parent_path().string() : std::string(".");
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0 || ::fsync(dfd) != 0) spdlog::warn("could not fsync folder {} after writing {}", dir, path);
  if (dfd >= 0) ::close(dfd);
}

}  // namespace baton::io
