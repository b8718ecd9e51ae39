// `ferry bench`: ferry measured against Redis's own replication on the same machine, in one run.
// It starts its own servers (redis-server on loopback), fills the source with a dataset, and times:
//  - a native replica's full sync (REPLICAOF on an empty server; diskless load on-empty-db, and the
//    default disk-based load) against `ferry migrate --mode snapshot` (start-up and precheck
//    included), runs alternated, medians reported, every copy checked equal by DEBUG DIGEST;
//  - `ferry migrate --mode scan` against a naive SCAN + DUMP/PTTL -> RESTORE pipe into `redis-cli --pipe`;
//  - `ferry verify` on the copy;
//  - `ferry migrate --mode aof` of the source's AOF against redis-server loading it at start;
//  - the snapshot over TLS (source and target TLS-only) against the same over plain TCP;
//  - incremental: a native replica and `ferry migrate --mode sync` following the same source under
//    one redis-benchmark write load: lag (ms by markers, bytes by acknowledged offsets) and how soon
//    each is level after the load stops;
//  - ferry's peak RSS against the dataset's used_memory.
#pragma once

#include <nlohmann/json.hpp>

#include <cstddef>
#include <ostream>
#include <string>
#include <vector>

namespace ferry::bench {

struct BenchOptions {
  std::string dataset = "small-strings";  // small-strings | mixed | big-keys
  size_t keys = 0;                        // 0: the dataset's default (1,000,000 strings; 300,000 mixed; 3,000,000 elements)
  int runs = 3;                           // per timed copy (medians)
  std::string ferry;                      // the ferry binary to time
  bool scan = true, incremental = true, verify = true;
  bool aof = true;                        // the source's AOF imported, against redis-server loading it
  bool tls = true;                        // the snapshot over TLS against plain TCP
  bool cluster = true;                    // snapshot and sync into a 3-master cluster
  int cluster_masters = 3;
  std::vector<int> source_shards{1, 3, 6};  // a cluster source of each size (small strings only); empty: none
  size_t load_requests = 1'000'000;       // redis-benchmark -n for the incremental phase
};

// Prints progress and the result table to `out`; returns the results (written by --report).
nlohmann::json run_bench(const BenchOptions& options, std::ostream& out);

}  // namespace ferry::bench
