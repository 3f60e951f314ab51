// `baton keygen NAME`: a CurveZMQ key pair for `baton serve` and its clients;
// `baton keygen --token FILE`: a shared token instead.
#include <iostream>
#include <memory>

#include "cli/command.h"
#include "coordinator/service_security.h"
#include "core/error.h"

namespace baton::cli {
namespace {

struct KeygenArgs {
  std::string name, token_file;
};

int run_keygen(const KeygenArgs& a) {
  if (a.name.empty() == a.token_file.empty())
    throw UsageError("give a NAME for a key pair, or --token FILE for a shared token (one of them)");
  if (!a.token_file.empty()) {
    coordinator::write_token_file(a.token_file);
    std::cout << a.token_file << "\n";
    std::cerr << "token written (mode 600); give the same file to the server and its clients with --token-file\n";
    return 0;
  }
  const auto [key, pub] = coordinator::write_curve_key_pair(a.name, coordinator::make_curve_key_pair());
  std::cout << key << "\n" << pub << "\n";
  std::cerr << "keep " << key << " secret (mode 600); give " << pub << " to the other side\n";
  return 0;
}

}  // namespace

Command add_keygen_command(CLI::App& root) {
  auto a = std::make_shared<KeygenArgs>();
  auto* app = root.add_subcommand(
      "keygen", "Make a CurveZMQ key pair (NAME.key, NAME.pub) or a shared token for `baton serve` and its clients");
  app->add_option("name", a->name, "writes NAME.key (secret) and NAME.pub (public)");
  app->add_option("--token", a->token_file, "write a new random token to this file instead");
  return {app, [a] { return run_keygen(*a); }};
}

}  // namespace baton::cli
