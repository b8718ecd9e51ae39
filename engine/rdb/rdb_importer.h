// Writes what the RDB parser reads into a target server. Each key goes as a RESTORE payload built
// from its raw bytes (type byte + value + RDB version + CRC64, as DUMP makes them) when the target
// can read that type, or through the native chunked writer (big values, types the target lacks,
// --write-mode commands). Function libraries are loaded with FUNCTION LOAD, the "lua" scripts of
// old RDBs with SCRIPT LOAD.
#pragma once

#include "apply/native_writer.h"
#include "apply/string_writer.h"
#include "rdb/rdb_parser.h"
#include "redis/connection.h"
#include "task/copy_options.h"
#include "task/migration_report.h"

#include <deque>
#include <functional>
#include <set>

namespace ferry::rdb {

struct ImportOptions {
  CopyOptions copy;               // dbs, on_conflict, ttl_extend_ms, write_mode, big_key_bytes, pipeline
  bool skip_unsupported = false;  // count and skip module values, field expiry a target cannot hold ...
  std::function<void(uint64_t file_offset)> progress;  // after each key
  std::string skip_key_prefix;  // keys never imported (ferry's own heartbeat keys)
  // --unsafe-resync-append: native commands straight onto existing keys (lists appended to).
  bool append_in_place = false;
  // Called with the target DB and key once the target has accepted it (not for expired, filtered,
  // skipped or failed ones): a full resync records the snapshot's keys with it.
  std::function<void(int db, const std::string& key)> on_key_written;
};

class RdbImporter : public RdbVisitor {
 public:
  RdbImporter(Connection& target, ImportOptions options, MigrationReport& report);

  // Before parsing: with --on-conflict block, the target DBs that will be written (after --db-map)
  // must be empty (all of them when --db is not given). Throws FerryError(Failed) naming some keys.
  void check_conflicts();
  // After parsing (or when it failed): writes what is still queued and reads every reply.
  void finish();

  void on_header(int version) override { file_version_ = version; }
  void on_aux(const std::string& name, const std::string& value) override;
  void on_function(const std::string& code) override;
  size_t on_key_begin(const KeyInfo& key) override;
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

  bool fatal() const { return fatal_.has_value(); }

 private:
  using Step = std::function<void(NativeWriter&)>;
  enum class Route { Skip, Buffer, Native };
  struct Restore {  // a RESTORE in flight, with what a native rewrite would need
    KeyInfo key;
    std::vector<Step> steps;
    std::string module_type;  // for module values: named in errors
  };

  void add(Step step, size_t bytes);
  void go_native();
  void select_db(int db);
  void unsupported(const KeyInfo& key, const std::string& why);
  void on_restore_reply(Reply&& r);
  void send_set(const KeyInfo& key);
  StringWriter::Callbacks string_callbacks();
  void drain_all();
  void rewrite_rejected();
  void commit_native(const KeyInfo& key);
  void record_failure(const KeyInfo& key, const std::string& error, RedisErrorKind kind);
  void record_failure(int db, const std::string& key, const std::string& error, RedisErrorKind kind);

  Connection& target_;
  ImportOptions options_;
  MigrationReport& report_;
  Pipeline pipe_;
  NativeWriter writer_;
  StringWriter strings_;
  int target_rdb_version_;
  int file_version_ = 0;
  std::set<int> dbs_;

  KeyInfo key_;
  Route route_ = Route::Skip;
  std::vector<Step> steps_;
  // A plain string travels through strings_ (MSETNX batches, SET ... PXAT): its value waits here.
  // Not with LRU/LFU metadata, which only RESTORE carries.
  bool string_as_set_ = false;
  std::string pending_string_;
  size_t buffered_bytes_ = 0;
  std::optional<long long> expire_;
  std::string module_type_;
  std::string unsupported_why_;
  bool target_rejects_dump_ = false;
  std::set<uint8_t> accepted_types_;
  std::set<std::string> target_modules_;  // MODULE LIST names, lower case
  std::deque<Restore> in_flight_;
  std::vector<Restore> rejected_;
  std::optional<std::string> fatal_;
};

}  // namespace ferry::rdb
