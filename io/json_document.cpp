#include "io/json_document.h"

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>
#include <vector>

#include "core/error.h"

namespace baton::io {
namespace {

// Thrown from inside the parser callback, turned into an Error outside it.
struct DuplicateKey {
  std::string key;
  std::string parent;
};

}  // namespace

nlohmann::json parse_json_strict(const char* begin, const char* end, const std::string& what) {
  // The callback sees every object start/end and every key in document order:
  // a stack of key sets, one per open object, finds repeats at any depth.
  std::vector<std::set<std::string>> open;
  std::vector<std::string> owner{""};  // key under which each open object sits
  std::string last_key;
  auto callback = [&](int, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
    using E = nlohmann::json::parse_event_t;
    switch (event) {
      case E::object_start:
        open.emplace_back();
        owner.push_back(last_key);
        break;
      case E::object_end:
        if (!open.empty()) open.pop_back();
        if (owner.size() > 1) owner.pop_back();
        last_key.clear();
        break;
      case E::key: {
        last_key = parsed.get<std::string>();
        if (!open.empty() && !open.back().insert(last_key).second) throw DuplicateKey{last_key, owner.back()};
        break;
      }
      case E::array_start:
        last_key.clear();
        break;
      default:
        break;
    }
    return true;
  };
  try {
    return nlohmann::json::parse(begin, end, callback);
  } catch (const DuplicateKey& d) {
    throw Error(what + ": key '" + d.key + "' appears twice" + (d.parent.empty() ? "" : " in '" + d.parent + "'"),
                "a repeated name is ambiguous; rewrite the file with each name once");
  } catch (const nlohmann::json::exception& e) {
    throw Error(what + " is not valid JSON (" + e.what() + ")");
  }
}

nlohmann::json read_json_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot open");
  std::ostringstream buffer;
  buffer << in.rdbuf();
  const std::string text = buffer.str();
  return parse_json_strict(text.data(), text.data() + text.size(), path);
}

void write_json_file(const std::string& path, const nlohmann::json& value) {
  const std::string tmp = path + ".tmp-" + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary);
    out << value.dump(2) << "\n";
    if (!out) {
      std::remove(tmp.c_str());
      throw Error(path + ": cannot write");
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw Error(path + ": cannot move the finished file into place");
  }
}

}  // namespace baton::io
