// What the subcommands share beyond the task's flags (cli/task_options.h): validators, this
// binary's path, a seed from entropy, and the log flags of subcommands that run no task.
#pragma once

#include <memory>
#include <vector>

#include <CLI/CLI.hpp>

#include <string>

namespace ferry::cli {

// Validators with messages fit for a person (CLI11's own print the range of a double).
const CLI::Validator& non_negative();
const CLI::Validator& positive();

// This binary's path (/proc/self/exe; "build/ferry" if unreadable): the ferry that child tasks run.
std::string self_path();

// A 64-bit seed from the system's entropy (for --seed random; callers print it).
uint64_t random_seed();

// Ends every subcommand's help with one or two examples and the exit codes.
void add_examples(CLI::App& app);

// "did you mean --source?" for each unknown option given, among the options of the subcommand the
// command line named (empty when nothing is close).
std::vector<std::string> did_you_mean(const CLI::App& app, int argc, char** argv);
// "ferry migrate": the deepest subcommand the command line named.
std::string command_path(const CLI::App& app);

// --log-file and --log-level, as the task settings define them (for subcommands that run no task).
class LogFlags {
 public:
  void add_to(CLI::App& app);
  void apply() const;

 private:
  std::shared_ptr<class TaskFlags> flags_;
};

}  // namespace ferry::cli
