#pragma once
// Logging set-up: one spdlog logger for the process, level from --log-level or
// BATON_LOG_LEVEL, every line stamped with time and rank once ranks exist.
#include <spdlog/spdlog.h>

#include <string>

namespace baton::log {

// Parses "trace|debug|info|warn|error|off"; throws UsageError on anything else.
spdlog::level::level_enum parse_level(const std::string& name);

// Installs the process logger writing to stderr. `level` empty means: take
// BATON_LOG_LEVEL from the environment, else "info".
void setup(const std::string& level = {});

// Stamps every following line with this rank ("r0/4"); call once MPI is up.
void set_rank(int rank, int world_size);

}  // namespace baton::log
