// Fuzz target: bytes as a TOML task file, through the same checks as `ferry config check`. Problems
// are expected; a crash or an escaping exception is a bug.
#include "task_options.h"

#include <cstddef>
#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  CLI::App app{"fuzz"};
  ferry::cli::TaskOptions options;
  options.add_to(app);
  (void)ferry::cli::parse_task_file(std::string(reinterpret_cast<const char*>(data), size), "fuzz.toml", app, options);
  return 0;
}
