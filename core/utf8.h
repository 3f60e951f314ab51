#pragma once
// UTF-8 validation (RFC 3629: no overlong forms, no surrogates, at most
// U+10FFFF), the same rules nlohmann::json applies when it writes a string, so
// text that passes here can always be written as JSON.
#include <string_view>

namespace baton {

bool is_utf8(std::string_view text);

}  // namespace baton
