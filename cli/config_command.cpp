#include "config_command.h"

#include "core/error.h"
#include "task/task_config.h"

#include <fmt/format.h>

#include <iostream>
#include <memory>

namespace ferry::cli {
namespace {

// Every mistake of the file, each as FILE:LINE:COLUMN: message on stderr; exit 3 if any.
int check_file(const std::string& path) {
  TaskConfig config;
  auto problems = read_task_file(path, config);
  for (const auto& p : problems) {
    if (p.line) std::cerr << fmt::format("{}:{}:{}: {}\n", path, p.line, p.column, p.message);
    else std::cerr << fmt::format("{}: {}\n", path, p.message);
  }
  if (!problems.empty()) {
    std::cerr << fmt::format("{}: {} problem(s)\n", path, problems.size());
    return static_cast<int>(ExitCode::Usage);
  }
  std::cout << fmt::format("{}: ok\n", path);
  return 0;
}

}  // namespace

void add_config_command(CLI::App& app, std::function<int()>& run) {
  auto* config = app.add_subcommand("config", "Task files (TOML) for --config");
  config->require_subcommand(1);
  auto path = std::make_shared<std::string>();
  auto* check = config->add_subcommand(
      "check", "Read a task file and report unknown keys, wrong types and bad values with their line and column "
               "(exit 3), without connecting to anything");
  check->add_option("file", *path, "The task file")->required();
  check->callback([&run, path] { run = [path] { return check_file(*path); }; });
  auto* example = config->add_subcommand("example", "Print a commented task file with every key and its default");
  example->callback([&run] {
    run = [] {
      std::cout << task_file_example();
      return 0;
    };
  });
}

}  // namespace ferry::cli
