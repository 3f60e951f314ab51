#include "core/log.h"

#include <spdlog/sinks/stdout_color_sinks.h>

#include <cstdlib>

#include "core/error.h"

namespace baton::log {
namespace {
std::string g_rank_tag = "-";

void apply_pattern() {
  spdlog::set_pattern("[%Y-%m-%d %H:%M:%S.%e] [" + g_rank_tag + "] [%^%l%$] %v");
}
}  // namespace

spdlog::level::level_enum parse_level(const std::string& name) {
  static const char* names[] = {"trace", "debug", "info", "warn", "error", "off"};
  static const spdlog::level::level_enum levels[] = {
      spdlog::level::trace, spdlog::level::debug, spdlog::level::info,
      spdlog::level::warn,  spdlog::level::err,   spdlog::level::off};
  for (size_t i = 0; i < 6; ++i)
    if (name == names[i]) return levels[i];
  throw UsageError("unknown log level '" + name + "'",
                   "use one of trace, debug, info, warn, error, off");
}

void setup(const std::string& level) {
  std::string chosen = level;
  if (chosen.empty()) {
    const char* env = std::getenv("BATON_LOG_LEVEL");
    chosen = env && *env ? env : "info";
  }
  auto logger = spdlog::get("baton");
  if (!logger) logger = spdlog::stderr_color_mt("baton");
  spdlog::set_default_logger(logger);
  spdlog::set_level(parse_level(chosen));
  apply_pattern();
}

void set_rank(int rank, int world_size) {
  g_rank_tag = "r" + std::to_string(rank) + "/" + std::to_string(world_size);
  apply_pattern();
}

}  // namespace baton::log
