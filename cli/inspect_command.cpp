// `baton inspect PATH [--json]`: what a model folder holds and whether it is complete.
#include <iostream>

#include "cli/command.h"
#include "io/model_inspection.h"

namespace baton::cli {

Command add_inspect_command(CLI::App& root) {
  auto* app = root.add_subcommand(
      "inspect",
      "Show a model folder: its layout (newbie, diffusers or comfy), each component's files, config, parameter\n"
      "count, dtypes and bytes, and any tensor that is missing, misshapen or unexpected. Exit status 1 when\n"
      "something is missing or wrong.");
  auto path = std::make_shared<std::string>();
  auto json = std::make_shared<bool>(false);
  app->add_option("PATH", *path, "model folder (model_index.json inside, or ComfyUI's models folder)")->required();
  app->add_flag("--json", *json, "print the report as JSON");
  return {app, [path, json] {
            const auto report = io::inspect_model_folder(*path);
            if (*json) std::cout << report.to_json().dump(2) << "\n";
            else std::cout << report.to_text();
            return report.ok() ? 0 : 1;
          }};
}

}  // namespace baton::cli
