#pragma once
// JSON read from files we do not control (safetensors headers, index files,
// config.json). nlohmann's parser keeps the last of two equal keys silently;
// here a repeated key is an Error, because a checkpoint whose header names a
// tensor twice is ambiguous about which bytes are meant.
#include <nlohmann/json.hpp>
#include <string>

namespace baton::io {

// Parses [begin, end). `what` names the input in messages ("model.safetensors: header").
// Throws Error for invalid JSON and for an object that repeats a key.
nlohmann::json parse_json_strict(const char* begin, const char* end, const std::string& what);

// Reads and parses a whole file the same way; the message names the path.
nlohmann::json read_json_file(const std::string& path);

// Writes `value` indented, through a temporary file renamed into place.
void write_json_file(const std::string& path, const nlohmann::json& value);

}  // namespace baton::io
