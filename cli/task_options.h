// The task's flags: one CLI11 option for each setting of the engine's table (task/task_config.h)
// that a subcommand takes. After parsing, resolve() builds the TaskConfig: the --config file's
// values first, then the flags given (a flag wins over the file), each checked by the table.
#pragma once

#include "task/task_config.h"

#include <CLI/CLI.hpp>

#include <map>
#include <set>
#include <string>
#include <vector>

namespace ferry::cli {

// The settings that say how to reach one side ("source" or "target"): its URI, password file and
// TLS options (qualified keys, for TaskFlags::add_to).
std::set<std::string> endpoint_keys(const std::string& side);

class TaskFlags {
 public:
  // Registers the settings named in `only` (qualified keys; empty: every setting with a flag) on
  // `app`, and --config when `with_config`.
  void add_to(CLI::App& app, const std::set<std::string>& only = {}, bool with_config = true);
  // The configuration: defaults, then the task file, then the flags. Throws FerryError(Usage)
  // naming the flag or the file's line and column. `check`: also check the whole task fits together.
  TaskConfig resolve(bool check = true) const;

 private:
  struct Registered {
    const TaskSetting* setting;
    CLI::Option* option;
  };
  std::vector<Registered> registered_;
  std::string config_file_;
  // Where CLI11 puts what was typed (std::map: the addresses stay put).
  std::map<std::string, std::string> scalars_;
  std::map<std::string, std::vector<std::string>> lists_;
  std::map<std::string, bool> bools_;
};

}  // namespace ferry::cli
