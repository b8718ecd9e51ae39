// Fills a server with a mixed dataset drawn from one seed: every type and its encodings, binary
// keys and values, expiring keys, several DBs. The demo and the tests use it.
#pragma once

#include "redis/connection.h"
#include "target/target.h"

#include <cstdint>
#include <string>
#include <vector>

namespace ferry::sim {

struct MixedDatasetOptions {
  uint64_t seed = 1;
  std::vector<int> dbs{0, 1, 5};
  size_t keys_per_db = 2000;
  double expiring_fraction = 0.2;     // keys given an expiry 1-10 hours ahead (ms precision)
  bool big_encodings = true;          // also lists/hashes/sets/zsets past the small-encoding limits
};

struct MixedDatasetStats {
  size_t keys = 0;
  size_t expiring = 0;
  size_t streams = 0;
};

// Writes into `conn` with pipelined commands. Deterministic for a given seed (values and key
// names; absolute expiries are relative to the time of the call).
MixedDatasetStats fill_mixed_dataset(Connection& conn, const MixedDatasetOptions& options);
// The same through a target's routing: a Redis Cluster gets each key on the master of its slot
// (DB 0 only).
MixedDatasetStats fill_mixed_dataset(Target& target, const MixedDatasetOptions& options);

// Data only newer servers hold, in DB 0, where the server has it: hashes with per-field expiry
// ("newer:hash-field-ttl:N", Redis 7.4+) and vector sets ("newer:vectorset:N", the vectorset module
// of Redis 8). Returns the kinds written, e.g. {"hash-field-ttl", "vectorset"}.
std::vector<std::string> fill_newer_types(Connection& conn, size_t keys_per_kind = 3);

}  // namespace ferry::sim
