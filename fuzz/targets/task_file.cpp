// Fuzz target: bytes as a TOML task file, through the same reader and checks as `ferry config
// check` and `ferry migrate --config`. Problems are expected; a crash or an escaping exception is a bug.
#include "task/task_config.h"

#include <cstddef>
#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ferry::TaskConfig config;
  (void)ferry::parse_task_file(std::string(reinterpret_cast<const char*>(data), size), "fuzz.toml", config);
  return 0;
}
