// Key-by-key comparison of two servers (or clusters) by value digest (DEBUG DIGEST-VALUE), absolute
// expiry (PEXPIRETIME; PTTL made absolute on servers older than 7.0) and stream group state, plus
// the whole-server DEBUG DIGEST. Needs DEBUG enabled on both sides: the demo and the tests use it;
// the user-facing validator (`ferry verify`) builds on it. ferry's own ferry:heartbeat:* keys on
// the source are not data and are left out.
#pragma once

#include "cluster/server_group.h"
#include "redis/connection.h"

#include <cstdint>
#include <string>
#include <vector>

namespace ferry {

struct ComparisonOptions {
  std::vector<int> dbs;                 // empty: every DB non-empty on either side
  long long ttl_tolerance_ms = 0;       // allowed |target - source - shift| for expiries
  long long expected_ttl_shift_ms = 0;  // e.g. --ttl-extend
  size_t max_examples = 10;
  // Compare a stream's entries-added, max-deleted id and groups' entries-read (7.0+ on both sides).
  bool stream_v7_fields = true;
  // Compare groups' entries-read. Replication cannot reproduce it (a replica fed XCLAIM has nil),
  // so comparisons after --mode sync leave it out.
  bool group_entries_read = true;
};

struct ComparisonResult {
  std::string source_digest, target_digest;  // DEBUG DIGEST (whole server)
  uint64_t keys_checked = 0;
  uint64_t missing_on_target = 0;
  uint64_t value_mismatches = 0;
  uint64_t expiry_mismatches = 0;
  uint64_t stream_state_mismatches = 0;
  uint64_t dbsize_mismatches = 0;  // DBs whose key counts differ (extra keys on the target)
  std::vector<std::string> examples;

  bool equal() const {
    return missing_on_target == 0 && value_mismatches == 0 && expiry_mismatches == 0 &&
           stream_state_mismatches == 0 && dbsize_mismatches == 0;
  }
  std::string summary() const;
};

ComparisonResult compare_datasets(Connection& source, Connection& target, const ComparisonOptions& options = {});
// The same where either side may be a cluster: each node's keys are scanned, and each key is read
// on the master that owns its slot on the other side. A cluster side has no whole-server digest
// ("-"). The source's heartbeat keys are left out as above.
ComparisonResult compare_datasets(ServerGroup& source, ServerGroup& target, const ComparisonOptions& options = {});

// A stream's replication-visible state as text: length, last id, entries-added, max-deleted id,
// and per group: last-delivered id, entries-read, consumers, and the PEL (id, consumer, deliveries).
// Idle and seen times are left out: no copy can reproduce them exactly.
std::string stream_state(Connection& conn, const std::string& key, bool v7_fields = true, bool entries_read = true);

}  // namespace ferry
