// Fuzz target: bytes as a scenario file. A usage error (FerryError) is expected; anything else is a bug.
#include "core/error.h"
#include "scenario/scenario_spec.h"

#include <cstddef>
#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    (void)ferry::sim::parse_scenario(std::string(reinterpret_cast<const char*>(data), size), "fuzz.toml");
  } catch (const ferry::FerryError&) {
  }
  return 0;
}
