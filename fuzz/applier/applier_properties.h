// The replication applier's two properties, run by `ferry fuzz applier` and by the test command.
//
//  - in-process: generated streams and options go through the CommandSink (over a StandaloneTarget) writing to a
//    RecordingTarget; what arrives must be what the rules say (stream_model.h), at every generated
//    cut (a link cut, or a restart from the state-file point: offset and stream DB), with no loss
//    and no duplicate across the cut. Thousands of cases a minute, no server.
//  - servers: a generated write load on a real source (load generator steps from a generated seed),
//    a generated snapshot point and replication-link cuts, the real `ferry migrate --mode sync`;
//    after catch-up the target equals the source key by key (values, expiries, stream groups) and by
//    DEBUG DIGEST. About a case a second.
//
// On failure RapidCheck shrinks the case; the message shows the shrunk case (for servers, as a
// redis-cli script) and the command that reproduces the run.
#pragma once

#include <cstdint>
#include <string>

namespace ferry::fuzz {

struct PropertyRun {
  int cases = 100;
  uint64_t seed = 1;
  int max_size = 100;           // RapidCheck's size: longer streams as it grows
  std::string ferry_binary;     // servers: the ferry to run
  std::string reproduce;        // the command line that reruns this run (printed on failure)
};

struct PropertyOutcome {
  bool passed = false;
  int cases = 0;  // cases that passed
  double seconds = 0;
  std::string message;  // RapidCheck's result: the shrunk counterexample on failure
};

PropertyOutcome check_applier_in_process(const PropertyRun& run);
PropertyOutcome check_applier_with_servers(const PropertyRun& run);

}  // namespace ferry::fuzz
