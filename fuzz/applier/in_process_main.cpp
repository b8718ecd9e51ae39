// The in-process applier property alone, for the sanitizer build of the test command: the same
// check as `ferry fuzz applier --property in-process`, without building the whole CLI under ASan.
// Usage: applier_in_process CASES SEED
#include "applier/applier_properties.h"

#include <cstdio>
#include <cstdlib>
#include <string>

int main(int argc, char** argv) {
  ferry::fuzz::PropertyRun run;
  run.cases = argc > 1 ? std::atoi(argv[1]) : 100;
  run.seed = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 1;
  run.reproduce = std::string("applier_in_process ") + std::to_string(run.cases) + " " + std::to_string(run.seed);
  auto outcome = ferry::fuzz::check_applier_in_process(run);
  if (!outcome.passed) {
    std::printf("property in-process: FAILED after %d passing cases\n%s", outcome.cases, outcome.message.c_str());
    return 1;
  }
  std::printf("property in-process: %d cases passed in %.1f s\n", outcome.cases, outcome.seconds);
  return 0;
}
