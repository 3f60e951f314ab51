#pragma once
// Prompts from files (`--prompt-file`) and the lint of NewBie's structured
// (XML) prompts.
#include <string>
#include <vector>

namespace baton::coordinator {

// A file whose first non-blank character is '<' is one structured prompt (the
// whole file, as the NewBie README writes them); otherwise one prompt per
// non-empty line, '#' lines being comments. Throws Error if the file cannot be
// read or holds no prompt.
std::vector<std::string> read_prompt_file(const std::string& path);

// Warnings about a structured prompt: unbalanced or unknown tags (tags of the
// NewBie README: character_N, n, gender, appearance, clothing, expression,
// action, position, general_tags, count, style, background, atmosphere,
// quality, objects, other). The prompt still runs; these are only shown.
std::vector<std::string> lint_structured_prompt(const std::string& prompt);

}  // namespace baton::coordinator
