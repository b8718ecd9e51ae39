// Writes one key to a target with its type's own commands, chunk by chunk, into a temporary key
// that is renamed into place at the end, so a reader never sees half a key. The key sink uses it
// for big keys, for targets that reject a DUMP payload and for --write-mode commands.
#pragma once

#include "model/key_record.h"
#include "target/target.h"

#include <stdexcept>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace ferry {

// What happened to a key at commit.
enum class WriteOutcome {
  Written,   // the key is in place
  Conflict,  // the key existed on the target and replace was off: nothing changed
  Gone,      // nothing was written (the source key vanished or its expiry passed)
};

// The key holds data the target cannot hold (per-field expiry on a target before 7.4): nothing of
// it should be committed.
class UnsupportedValue : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class NativeWriter {
 public:
  explicit NativeWriter(Target& target);

  // Starts `key` in target DB `db`.
  void begin(int db, const std::string& key, KeyType type);
  // Writes straight into the key, on top of what it holds (lists get appended to), with no
  // temporary key: only for --unsafe-resync-append, which reproduces a re-applied snapshot.
  void set_in_place(bool in_place) { in_place_ = in_place; }
  void string_chunk(std::string_view bytes);  // SET then APPEND
  void list_items(const std::vector<std::string>& items);
  void set_members(const std::vector<std::string>& members);
  void zset_members(const std::vector<FieldValue>& member_score);  // score as Redis prints it
  void hash_fields(const std::vector<FieldValue>& fields);
  // Per-field expiry (absolute ms): HPEXPIREAT, Redis 7.4+. Throws UnsupportedValue on an older target.
  void hash_field_expiries(const std::vector<std::pair<std::string, long long>>& expiries);
  void stream_entries(const std::vector<StreamEntry>& entries);
  // Stream metadata and groups go after the entries.
  void stream_meta(const StreamMeta& meta);
  void stream_group(const StreamGroup& group);
  void stream_consumer(const std::string& group, const std::string& consumer);
  void stream_pending(const std::string& group, const std::vector<StreamPendingEntry>& pending);

  // Moves the temporary key into place. abs_expire_ms: absolute Unix ms, or nullopt for none.
  // Throws CommandError when the target rejected a chunk (OOM, NOPERM ...); the temp key is removed.
  WriteOutcome commit(std::optional<long long> abs_expire_ms, bool replace);
  // Drops the temporary key.
  void abort();


  const std::string& temp_key() const { return temp_; }
  // Pending entries whose message no longer exists cannot be recreated (XCLAIM ignores them).
  size_t dropped_pending() const { return dropped_pending_; }
  // Payload bytes sent for the current key.
  uint64_t bytes() const { return bytes_; }

 private:
  void send(Args args);
  void ensure_stream_exists();
  void check_error();
  void note_reply(const Reply& r);
  Target& target_;
  const TargetFacts& facts_;
  Pipeline* pipe_ = nullptr;
  int db_ = 0;
  bool in_place_ = false;
  std::string key_;
  std::string temp_;
  KeyType type_ = KeyType::String;
  bool created_ = false;
  std::optional<std::string> first_error_;
  std::optional<RedisErrorKind> first_error_kind_;
  size_t dropped_pending_ = 0;
  uint64_t bytes_ = 0;
  uint64_t counter_ = 0;
};


}  // namespace ferry
