// Compares keys between a source and a target without DEBUG: type, expiry and length of a batch of
// keys pipelined on both sides, then values. A small value is compared by its DUMP payload, and
// when the payloads differ (another encoding, another RDB version), by its logical content; a big
// one in windows (GETRANGE, LRANGE, HSCAN + HMGET, SSCAN + SMISMEMBER, ZSCAN + ZMSCORE, XRANGE), never
// read whole. Streams are compared with their consumer groups (last-delivered id, PEL, consumers);
// a group's entries-read and a consumer's seen-time are not reproducible by replication, so they are
// reported apart, not as a difference.
#pragma once

#include "redis/connection.h"

#include <cstdint>
#include <string>
#include <vector>

namespace ferry {

struct KeyState {
  std::string type = "none";  // TYPE; "none" when the key does not exist
  long long expire_ms = -1;   // absolute unix ms; -1: no expiry
  long long length = 0;       // STRLEN, LLEN, HLEN, SCARD, ZCARD, XLEN; 0 for module types
  bool exists() const { return type != "none"; }
};

enum class CompareLevel {
  Outline,  // existence and type
  Length,   // + element count (string length)
  Full,     // + value and expiry
};

enum class Difference { None, MissingOnTarget, ExtraOnTarget, Type, Length, Value, Expiry };
const char* difference_name(Difference d);

struct KeyVerdict {
  int db = 0;  // the source DB
  std::string key;
  Difference difference = Difference::None;
  KeyState source, target;
  std::string detail;  // the evidence, for a person
};

struct KeyCompareOptions {
  CompareLevel level = CompareLevel::Full;
  long long ttl_tolerance_ms = 0;  // allowed |target - source| expiry
  size_t window = 1000;            // elements per window of a big key; keys longer than this are big
  size_t big_string_bytes = 1 << 20;
  PipelineLimits pipeline;
};

class KeyComparator {
 public:
  // Both connections must have the right DB selected (the target's mapped one) before compare().
  KeyComparator(Connection& source, Connection& target, KeyCompareOptions options);

  // One verdict per key, in order (Difference::None for equal keys).
  std::vector<KeyVerdict> compare(int db, const std::vector<std::string>& keys);

  // Not reproducible by replication, so not differences: group entries-read that differ.
  uint64_t not_reproducible = 0;
  std::vector<std::string> not_reproducible_samples;  // the first few

 private:
  std::pair<std::vector<KeyState>, std::vector<KeyState>> probe(const std::vector<std::string>& keys);
  // "" when equal, else the evidence.
  std::string compare_small(const std::string& key, const KeyState& state, const Reply& source_dump,
                            const Reply& target_dump);
  // The command reading a small value whole (GET, LRANGE, HGETALL, SMEMBERS, ZRANGE), {} for others,
  // and the comparison of its two replies ("" when equal).
  static Args read_command(const std::string& type, const std::string& key);
  static std::string compare_read(const std::string& type, const Reply& source, const Reply& target);
  std::string compare_big(const std::string& key, const KeyState& state);
  std::string compare_stream(const std::string& key);

  Connection& source_;
  Connection& target_;
  KeyCompareOptions options_;
  bool source_has_pexpiretime_, target_has_pexpiretime_;
  bool target_has_multi_lookup_;  // SMISMEMBER / ZMSCORE (6.2+)
  bool stream_v7_;                // both sides report entries-added and max-deleted-entry-id
};

}  // namespace ferry
