// Full migration by SCAN + DUMP/RESTORE: every key of the selected DBs is copied with its absolute
// expiry. Big keys and keys the target cannot RESTORE go through the chunked native writer.
// Writes made on the source while the scan runs may or may not be copied.
#pragma once

#include "apply/native_writer.h"
#include "apply/string_writer.h"
#include "redis/connection.h"
#include "task/copy_options.h"
#include "task/migration_report.h"

#include <optional>
#include <set>
#include <string>
#include <vector>

namespace ferry {

class ScanCopier {
 public:
  ScanCopier(Connection& source, Connection& target, CopyOptions options);

  // Runs the whole copy. Returns the report; a failure before anything was written (a conflict
  // in block mode, a DB the target lacks) throws FerryError instead. A failure after writing began
  // stops the job and is reported in MigrationReport::stopped_because.
  MigrationReport run();

  // The DBs a run would copy: --db, or every non-empty DB of the source.
  std::vector<int> selected_dbs();

 private:
  struct SizedKey {
    std::string key;
    long long size;  // estimated bytes
    bool string = false;  // a string read with GET and written by strings_ (not DUMP/RESTORE)
    std::string module_type;  // a module type the target lacks (never RESTOREd: a Redis 6 target exits on it)
  };

  void check_conflicts(const std::vector<int>& dbs);
  void copy_db(int db);
  // A MULTI/EXEC reading the values and expiries of keys[first, first + count).
  struct Transaction {
    size_t first = 0, count = 0;
    std::string queue_error;  // an error while queueing (NOPERM, unknown command): EXEC says EXECABORT
    Reply exec;
  };
  void send_measure(const std::vector<std::string>& keys, std::vector<Reply>& sizes, std::vector<Reply>& types);
  std::vector<SizedKey> measured(std::vector<std::string>& keys, std::vector<Reply>& sizes, std::vector<Reply>& types);
  // The handlers of the returned transactions fill them in: keep them alive until the pipe drains.
  std::vector<Transaction> send_dumps(const std::vector<SizedKey>& keys);
  void apply_dumps(int db, const std::vector<SizedKey>& keys, std::vector<Transaction>& txs);
  void copy_chunked(int db, const std::string& key);
  void finish_restores(int db);
  // From a PEXPIRETIME (or PTTL) reply: nullopt when the key has no expiry; sets gone when missing.
  std::optional<long long> absolute_expiry(const Reply& r, bool& gone) const;
  bool expired(const std::optional<long long>& abs_ms) const;
  void stop_if_fatal(const std::string& error, int db, const std::string& key);
  // A key the target cannot hold: skipped, counted and listed with --skip-unsupported, else a failure.
  void unsupported(int db, const std::string& key, const std::string& why);
  StringWriter::Callbacks string_callbacks();
  // `type` (a TYPE reply) when it is a module type a target before 7.0 lacks, else empty.
  std::string missing_module(const std::string& type) const;
  void report_progress();

  Connection& source_;
  Connection& target_;
  CopyOptions options_;
  Pipeline source_pipe_;
  Pipeline target_pipe_;
  NativeWriter writer_;
  StringWriter strings_;
  MigrationReport report_;
  bool use_pexpiretime_ = true;
  bool memory_usage_ok_ = true;
  bool target_rejects_dump_ = false;
  // Plain strings travel as GET -> MSETNX / SET ... PXAT (a target applies those about twice as
  // fast as RESTOREs): with --write-mode auto on a Redis 6.2+ target.
  bool strings_as_set_ = false;
  std::set<std::string> target_modules_;  // lower case
  std::vector<std::string> rejected_payloads_;  // keys whose RESTORE payload the target refused
  std::optional<std::string> fatal_;
  class ProgressMeter* meter_ = nullptr;
};

}  // namespace ferry
