#include "common_options.h"

#include "task/run_task.h"
#include "task_options.h"

#include <filesystem>
#include <random>

namespace ferry::cli {

namespace {
CLI::Validator number_at_least(double least, const char* what) {
  return CLI::Validator(
      [least, what](std::string& value) -> std::string {
        char* end = nullptr;
        double v = std::strtod(value.c_str(), &end);
        if (value.empty() || *end) return "'" + value + "' is not a number";
        if (v < least) return "'" + value + "' must be " + what;
        return {};
      },
      what);
}
}  // namespace

const CLI::Validator& non_negative() {
  static const CLI::Validator v = number_at_least(0, "0 or more");
  return v;
}

const CLI::Validator& positive() {
  static const CLI::Validator v = number_at_least(1e-9, "more than 0");
  return v;
}

std::string self_path() {
  std::error_code ec;
  auto p = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? "build/ferry" : p.string();
}

uint64_t random_seed() {
  std::random_device rd;
  return rd() | (static_cast<uint64_t>(rd()) << 32);
}

void LogFlags::add_to(CLI::App& app) {
  flags_ = std::make_shared<TaskFlags>();
  flags_->add_to(app, {"output.log-file", "output.log-level"}, false);
}

void LogFlags::apply() const { apply_logging(flags_->resolve(false)); }

}  // namespace ferry::cli
