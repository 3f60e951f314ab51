#include "coordinator/batch_manifest.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <sstream>

#include "core/error.h"
#include "io/atomic_file.h"

namespace baton::coordinator {
namespace {

[[noreturn]] void fail(const std::string& what, const std::string& path) {
  throw Error("manifest " + path + ": cannot " + what + " (" + std::strerror(errno) + ")");
}

}  // namespace

BatchManifest::BatchManifest(std::string path) : path_(std::move(path)) {
  fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd_ < 0) fail("open it", path_);
  // The manifest's own name must survive a crash too: sync its folder once.
  const auto slash = path_.rfind('/');
  const std::string folder = slash == std::string::npos ? "." : path_.substr(0, slash + 1);
  if (const int dir = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
  struct stat st {};
  if (::fstat(fd_, &st) != 0) fail("stat it", path_);
  std::string text(static_cast<size_t>(st.st_size), '\0');
  size_t got = 0;
  while (got < text.size()) {
    const ssize_t n = ::pread(fd_, text.data() + got, text.size() - got, static_cast<off_t>(got));
    if (n <= 0) fail("read it", path_);
    got += static_cast<size_t>(n);
  }
  // A kill in the middle of an append leaves a line without its newline.
  const size_t complete = text.rfind('\n') == std::string::npos ? 0 : text.rfind('\n') + 1;
  if (complete < text.size()) {
    spdlog::warn("manifest {}: dropping a partial last line (the previous run was stopped while writing it)", path_);
    if (::ftruncate(fd_, static_cast<off_t>(complete)) != 0 || ::fsync(fd_) != 0) fail("truncate it", path_);
    text.resize(complete);
  }
  std::istringstream in(text);
  std::string line;
  int64_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.empty()) continue;
    try {
      auto j = nlohmann::json::parse(line);
      const auto key = j.at("line").get<int64_t>();  // before the move below (C++17 evaluates its right side first)
      entries_[key] = std::move(j);
    } catch (const nlohmann::json::exception& e) {
      spdlog::warn("manifest {} line {}: ignored ({})", path_, number, e.what());
    }
  }
}

BatchManifest::~BatchManifest() {
  if (fd_ >= 0) ::close(fd_);
}

const nlohmann::json* BatchManifest::entry(int64_t line) const {
  auto it = entries_.find(line);
  return it == entries_.end() ? nullptr : &it->second;
}

void BatchManifest::forget(int64_t line) {
  if (!entries_.erase(line)) return;
  std::string text;
  for (const auto& [number, entry] : entries_) text += entry.dump() + "\n";
  io::write_file_atomically(path_, text.data(), text.size());
  // The old descriptor names the replaced file: append to the new one.
  const int fd = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd < 0) fail("reopen it", path_);
  ::close(fd_);
  fd_ = fd;
}

void BatchManifest::append(const nlohmann::json& entry) {
  const std::string text = entry.dump() + "\n";
  // One write() of an O_APPEND file: the line lands whole or (killed) partly at the end.
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd_, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) fail("append to it", path_);
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd_) != 0) fail("sync it", path_);
  entries_[entry.at("line").get<int64_t>()] = entry;
}

}  // namespace baton::coordinator
