#pragma once
// Files that appear whole or not at all: results are written next to their
// final name, flushed to disk, then renamed into place, so a reader (or a
// resumed batch) never sees a half-written file, even if the process dies.
#include <cstddef>
#include <string>

namespace baton::io {

// Writes `size` bytes to `path` atomically: a temporary file in the same
// folder (".<name>.tmp.<random>", created with the usual 0666 & ~umask mode),
// fsync, rename over `path`, fsync of the folder. On failure the temporary is
// removed, `path` is untouched, and an Error names the file and the reason.
void write_file_atomically(const std::string& path, const void* data, size_t size);

}  // namespace baton::io
