// The scan source: reads every key of the selected DBs from a live source with SCAN, each key's
// value and absolute expiry at one moment (DUMP or GET with PEXPIRETIME inside MULTI/EXEC), and
// hands it to the key sink. Big keys are read in windows by the ChunkedKeyReader into the sink's
// native writer. Writes made on the source while the scan runs may or may not be copied.
#pragma once

#include "redis/connection.h"
#include "sink/key_sink.h"
#include "task/copy_options.h"
#include "task/migration_report.h"
#include "task/progress.h"

#include <optional>
#include <string>
#include <vector>

namespace ferry {

class ScanReader {
 public:
  ScanReader(Connection& source, KeySink& sink, const CopyOptions& options, MigrationReport& report,
             Progress* progress = nullptr);

  // The DBs a run would copy: --db, or every non-empty DB of the source (sorted).
  std::vector<int> selected_dbs();
  // Keys in those DBs now (DBSIZE): the report's keys_total.
  uint64_t count_keys(const std::vector<int>& dbs);
  // Reads every key of `dbs` into the sink, until done or the sink stops. A source that fails
  // throws (CommandError, LinkError).
  void run(const std::vector<int>& dbs);

 private:
  struct SizedKey {
    std::string key;
    long long size;           // estimated bytes
    bool string = false;      // read with GET and written as a string (not DUMP/RESTORE)
    std::string module_type;  // a module type the target lacks (never RESTOREd: a Redis 6 target exits on it)
  };
  // A MULTI/EXEC reading the values and expiries of keys[first, first + count).
  struct Transaction {
    size_t first = 0, count = 0;
    std::string queue_error;  // an error while queueing (NOPERM, unknown command): EXEC says EXECABORT
    Reply exec;
  };

  void copy_db(int db);
  void send_measure(const std::vector<std::string>& keys, std::vector<Reply>& sizes, std::vector<Reply>& types);
  std::vector<SizedKey> measured(std::vector<std::string>& keys, std::vector<Reply>& sizes, std::vector<Reply>& types);
  // The handlers of the returned transactions fill them in: keep them alive until the pipe drains.
  std::vector<Transaction> send_reads(const std::vector<SizedKey>& keys);
  void hand_over(int db, const std::vector<SizedKey>& keys, std::vector<Transaction>& txs);
  void copy_chunked(int db, const std::string& key);
  // From a PEXPIRETIME (or PTTL) reply: the absolute expiry, nullopt for none; sets gone when missing.
  std::optional<long long> absolute_expiry(const Reply& r, bool& gone) const;
  std::string missing_module(const std::string& type) const;
  void report_progress();

  Connection& source_;
  KeySink& sink_;
  CopyOptions options_;
  MigrationReport& report_;
  Progress* progress_;
  Pipeline source_pipe_;
  bool use_pexpiretime_ = true;
  bool cluster_ = false;  // a cluster node: a transaction reads keys of one slot
  bool memory_usage_ok_ = true;
  bool strings_as_values_ = false;
  bool native_only_ = false;  // --write-mode commands: every key through the chunked reader
};

}  // namespace ferry
