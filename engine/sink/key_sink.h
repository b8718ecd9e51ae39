// The one write policy for whole keys, whatever read them: the RDB parser (a file, a replication
// snapshot, later an AOF preamble) streams decoded records in as an RdbVisitor; the scan reader
// hands over DUMP payloads, plain strings and big keys read in windows; the command sink hands over
// the stream's RESTOREs. The sink decides how each key travels:
//   - a plain string as MSETNX batches / SET ... PXAT (StringWriter);
//   - a value the target's RDB version reads, up to --big-key-threshold, as RESTORE of its payload;
//   - anything bigger, of a type the target's RDB version lacks, or with --write-mode commands,
//     through the native chunked writer (a temporary key renamed into place);
// and what each outcome means: BUSYKEY is a conflict (--on-conflict), a refused payload is decoded
// and written natively, data the target cannot hold is unsupported (skipped and listed with
// --skip-unsupported, else a failure), OOM/READONLY/NOPERM stop the task. It counts every key into
// the MigrationReport it is given.
#pragma once

#include "core/throttle.h"
#include "rdb/rdb_parser.h"
#include "sink/native_writer.h"
#include "sink/string_writer.h"
#include "target/target.h"
#include "transform/transform.h"
#include "task/copy_options.h"
#include "task/migration_report.h"

#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace ferry {

struct KeySinkOptions {
  CopyOptions copy;             // selection, on_conflict, ttl_extend_ms, write_mode, big_key_bytes, skip_unsupported
  std::string skip_key_prefix;  // keys never written (ferry's own heartbeat keys)
  // --unsafe-resync-append: native commands straight onto existing keys (lists appended to).
  bool append_in_place = false;
  // Called with the target DB and key once the target has accepted it: a full resync records the
  // snapshot's keys with it.
  std::function<void(int target_db, const std::string& key)> on_key_written;
  std::function<void(uint64_t input_offset)> progress;  // after each decoded key
  Throttle* throttle = nullptr;  // --max-ops / --max-bytes: keys and bytes sent per second
  // The RDB is an AOF's preamble: the bytes after its checksum are the AOF's commands, not a warning.
  bool rdb_preamble = false;
};

class KeyTransformStage;

class KeySink : public rdb::RdbVisitor {
 public:
  KeySink(Target& target, KeySinkOptions options, MigrationReport& report);
  ~KeySink() override;
  KeySink(const KeySink&) = delete;
  KeySink& operator=(const KeySink&) = delete;

  // Where a decoder plays decoded records: the task's transform (sink/key_transform.h) in front of
  // this sink when there is one, else the sink itself.
  rdb::RdbVisitor& input();
  bool transforms_keys() const { return transform_ != nullptr; }

  // --- Decoded records (RdbVisitor) --------------------------------------------------------------
  void on_header(int version) override { input_version_ = version; }
  void on_aux(const std::string& name, const std::string& value) override;
  void on_function(const std::string& code) override;
  void on_module_aux(const std::string& module_type) override;
  void on_trailing_bytes(uint64_t offset) override;
  size_t on_key_begin(const KeyInfo& key) override { return admit(key) ? route(key) : 0; }
  void on_string_chunk(std::string_view chunk) override;
  void on_list_items(std::vector<std::string>& items) override;
  void on_set_members(std::vector<std::string>& members) override;
  void on_zset_members(std::vector<std::pair<std::string, double>>& members) override;
  void on_hash_fields(std::vector<FieldValue>& fields) override;
  void on_hash_field_expiries(std::vector<std::pair<std::string, long long>>& expiries) override;
  void on_stream_entries(std::vector<StreamEntry>& entries) override;
  void on_stream_meta(const StreamMeta& meta, uint64_t length) override;
  void on_stream_group(const StreamGroup& group) override;
  void on_stream_consumer(const std::string& group, const std::string& consumer) override;
  void on_stream_pending(const std::string& group, std::vector<StreamPendingEntry>& pending) override;
  void on_module_value(const std::string& module_type) override;
  void on_key_end(const KeyInfo& key, const std::string* raw) override;

  // The two halves of on_key_begin, apart for the transform: whether a decoded key is selected (on
  // the source's names; counted in keys_total, filtered or skipped_expired), and how a selected
  // key travels, under its final name, DB and expiry (returns the raw payload limit).
  bool admit(const KeyInfo& key);
  size_t route(const KeyInfo& key);
  void transform_dropped() { ++report_.transformed_dropped; }
  void transform_added(size_t n) { report_.transformed_added += n; }

  // --- Whole keys a reader fetched (scan) ---------------------------------------------------------
  // Whether `key` of source DB `db` is selected (--include/--exclude); counts it as filtered if not.
  bool wants(int db, const std::string& key);
  // Whether plain strings should be read as values (GET) rather than DUMP payloads.
  bool takes_string_values() const;
  // key.expire_ms: the source's absolute expiry (--ttl-extend is added here); an expired key is
  // counted as skipped. key.rdb_type is read from the payload.
  void put_payload(KeyInfo key, std::string payload);
  void put_string(const KeyInfo& key, std::string value);
  // A key the caller reads in windows: the writer, begun for it in its target DB; then
  // commit_native() with the expiry read last, or unsupported()/gone(). With a transform, `key`
  // (with the expiry read first) is renamed as the script says, and nullptr means it dropped it.
  NativeWriter* begin_native(KeyInfo& key);
  void commit_native(const KeyInfo& key, std::optional<long long> source_expire_ms);
  // A key the target cannot hold: skipped, counted and listed with --skip-unsupported, else a failure.
  void unsupported(const KeyInfo& key, const std::string& why);
  // A key that vanished from the source (or expired) before it could be written.
  void gone(const KeyInfo& key);
  // A key that could not be written: counted and listed; an error after which writing is pointless
  // (OOM, READONLY, NOPERM ...) stops the sink (fatal()).
  void fail(const KeyInfo& key, const std::string& error, RedisErrorKind kind);

  // --- A RESTORE of the command stream, as the translator made it (selected, mapped) -------------
  // key.db: the stream's (source) DB, for messages. It is sent as it is; a refused payload is
  // written natively before anything sent after it.
  void restore(const KeyInfo& key, int target_db, Args command);

  // Sends what is batched, reads every reply and writes natively what the target refused as payload.
  void flush();
  // flush(), then the reason the sink stopped (if it did) into the report.
  void finish();
  const std::optional<std::string>& fatal() const { return fatal_; }
  const TargetFacts& facts() const { return target_.facts(); }
  std::string describe_target() const { return target_.describe(); }

 private:
  using Step = std::function<void(NativeWriter&)>;
  enum class Route { Skip, Buffer, Native };
  struct Restore {  // a RESTORE in flight, with what a native rewrite would need
    KeyInfo key;
    int target_db = 0;
    std::string payload;  // kept until the target has accepted this type once
    size_t bytes = 0;
    bool replace = false;
  };

  void begin_key(const KeyInfo& key);
  void add(Step step, size_t bytes);
  void restore_payload(KeyInfo key, std::string payload);
  void write_string(const KeyInfo& key, std::string value);
  // A value a script replaced: routed as plain records, written natively (or as a SET).
  void write_replaced(KeyInfo key, KeyType type, KeyValue value);
  // Runs the transform on a whole key; `write(out, last)` for each record it returns.
  void transform_whole(const KeyInfo& key, const Transform::ValueLoader& load,
                       const std::function<void(const KeyInfo&, bool last)>& write);
  void go_native();
  std::optional<long long> extended(std::optional<long long> expire_ms) const;
  bool expired(const std::optional<long long>& expire_ms) const;
  static Args restore_command(const KeyInfo& key, std::string payload, std::optional<long long> expire, bool replace,
                              const std::vector<std::string>& extra);
  void send_restore(const KeyInfo& key, int target_db, Args restore, bool replace);
  void on_restore_reply(Reply&& r);
  void rewrite_rejected();
  void write_payload_natively(const Restore& r);
  void commit_writer(const KeyInfo& key, std::optional<long long> expire, bool replace);
  void written(int target_db, const std::string& key, size_t bytes);
  StringWriter::Callbacks string_callbacks();
  bool replace() const { return options_.copy.on_conflict == ConflictMode::Replace; }

  Target& target_;
  KeySinkOptions options_;
  MigrationReport& report_;
  NativeWriter writer_;
  StringWriter strings_;
  std::set<int> dbs_;
  int input_version_ = 0;
  bool target_rejects_payloads_ = false;
  std::set<uint8_t> accepted_types_;  // payload types the target has taken once

  // The decoded key in progress.
  KeyInfo key_;
  int target_db_ = 0;
  std::optional<long long> expire_;  // absolute, --ttl-extend added
  Route route_ = Route::Skip;
  std::vector<Step> steps_;
  size_t buffered_bytes_ = 0;
  // A plain string travels through strings_ (MSETNX batches, SET ... PXAT): its value waits here.
  // Not with LRU/LFU metadata, which only RESTORE carries.
  bool string_as_set_ = false;
  std::string pending_string_;
  std::string unsupported_why_;

  std::unique_ptr<Transform> transform_;
  std::unique_ptr<KeyTransformStage> stage_;
  bool native_transformed_ = false;  // begin_native renamed the key: its expiry is the script's
  std::optional<long long> native_expire_;

  std::deque<Restore> in_flight_;
  std::vector<Restore> rejected_;
  std::optional<std::string> fatal_;
};

}  // namespace ferry
