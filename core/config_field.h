#pragma once
// Reading one key of a component's config.json into a config struct: a key
// that is absent (or null) keeps the struct's default and is reported, a key
// of the wrong type is an Error naming the component and the key.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/error.h"

namespace baton {

template <typename T>
void read_config_field(const nlohmann::json& j, const char* key, T& field, std::vector<std::string>* defaulted,
                       const char* component) {
  if (j.contains(key) && !j[key].is_null()) {
    try {
      field = j[key].get<T>();
    } catch (const nlohmann::json::exception&) {
      throw Error(std::string(component) + " config key '" + key + "' has the wrong type: " + j[key].dump());
    }
  } else if (defaulted) {
    defaulted->push_back(key);
  }
}

}  // namespace baton
