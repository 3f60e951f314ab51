#pragma once
// `--model demo`: a tiny random-weight NewBie model made once with
// make-tiny-model's library function and kept in the user's cache folder, so
// a newcomer sees the whole pipeline run right after set-up. Its images are
// noise: the weights are random.
#include <string>

namespace baton::coordinator {

// The cache folder: $BATON_CACHE_DIR, else $XDG_CACHE_HOME/baton, else ~/.cache/baton.
std::string baton_cache_dir();
// The demo model's folder, made on first use (atomically: a half-written
// model is never left under the final name).
std::string ensure_demo_model();
// True for the model names that mean the demo ("demo").
bool is_demo_model(const std::string& name);

}  // namespace baton::coordinator
