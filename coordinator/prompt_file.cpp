#include "coordinator/prompt_file.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "core/error.h"

namespace baton::coordinator {

std::vector<std::string> read_prompt_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UsageError("cannot read prompt file " + path + " (" + std::strerror(errno) + ")");
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  if (text.size() > 16 * 1024 * 1024) throw UsageError("prompt file " + path + " is larger than 16 MiB");
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) throw UsageError("prompt file " + path + " holds no prompt");
  if (text[first] == '<') {
    auto last = text.find_last_not_of(" \t\r\n");
    return {text.substr(first, last - first + 1)};
  }
  std::vector<std::string> prompts;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const auto b = line.find_first_not_of(" \t");
    if (b == std::string::npos || line[b] == '#') continue;
    prompts.push_back(line.substr(b, line.find_last_not_of(" \t") - b + 1));
  }
  if (prompts.empty()) throw UsageError("prompt file " + path + " holds no prompt (only comments or blank lines)");
  return prompts;
}

std::vector<std::string> lint_structured_prompt(const std::string& prompt) {
  static const std::set<std::string> known = {"n",          "gender",       "appearance", "clothing", "expression",
                                              "action",     "position",     "general_tags", "count",  "style",
                                              "background", "atmosphere",   "quality",    "objects",  "other"};
  static const std::regex tag(R"(<(/?)([A-Za-z_][A-Za-z0-9_]*)\s*>)");
  static const std::regex character(R"(character_[0-9]+)");
  std::vector<std::string> warnings;
  std::vector<std::string> open;
  std::set<std::string> reported_unknown;
  for (auto it = std::sregex_iterator(prompt.begin(), prompt.end(), tag); it != std::sregex_iterator(); ++it) {
    const bool closing = (*it)[1].length() > 0;
    const std::string name = (*it)[2];
    if (!known.count(name) && !std::regex_match(name, character) && reported_unknown.insert(name).second)
      warnings.push_back("unknown tag <" + name + ">");
    if (!closing) {
      open.push_back(name);
    } else if (!open.empty() && open.back() == name) {
      open.pop_back();
    } else {
      warnings.push_back("</" + name + "> does not close " + (open.empty() ? std::string("any open tag") : "<" + open.back() + ">"));
      // Resynchronise: close the matching open tag, reporting the ones it skips.
      for (auto o = open.rbegin(); o != open.rend(); ++o)
        if (*o == name) {
          auto match = std::next(o).base();
          for (auto skipped = std::next(match); skipped != open.end(); ++skipped)
            warnings.push_back("<" + *skipped + "> is never closed");
          open.erase(match, open.end());
          break;
        }
    }
  }
  for (const auto& name : open) warnings.push_back("<" + name + "> is never closed");
  return warnings;
}

}  // namespace baton::coordinator
