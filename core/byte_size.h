#pragma once
// Memory sizes as users write them ("8GiB", "512MiB", "6G", "1.5GiB") and as we print them.
#include <cstdint>
#include <string>

namespace baton {

// Binary units (K, M, G, T with or without "iB"/"B"); a bare number is bytes.
// Throws UsageError on anything else.
int64_t parse_byte_size(const std::string& text);

// "7.28 GiB", "512.0 MiB", "96 B".
std::string format_byte_size(int64_t bytes);

constexpr int64_t kGiB = int64_t(1) << 30;
constexpr int64_t kMiB = int64_t(1) << 20;

}  // namespace baton
