// An RDB file read whole before anything is written (mode rdb): its structure and CRC64 (a corrupt
// or truncated file writes nothing: exit 5 naming the offset), and what redis-server itself would
// refuse: a key that appears twice in a DB ("Duplicated key found in RDB file").
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>

namespace ferry {

struct RdbFileFacts {
  uint64_t keys = 0;
  uint64_t bytes = 0;
  uint64_t end = 0;  // the offset after the checksum (an AOF's commands follow its RDB preamble)
  int version = 0;
  std::map<std::string, std::string> aux;  // redis-ver, ctime, used-mem ...
  std::set<int> dbs;                       // DBs holding keys
  bool checksum_verified = false;
  std::set<std::string> module_aux;  // module types with aux data in the file
  double seconds = 0;                // how long the check took
};

struct TargetFacts;

// A file with aux data of a module the target has not loaded: redis-server refuses it, so the task
// stops before writing (FerryError(Failed)), unless --skip-unsupported skips the data.
void require_modules(const RdbFileFacts& facts, const std::string& path, const TargetFacts& target,
                     const std::string& target_name, bool skip_unsupported);

// Throws rdb::RdbError (exit 5) for a corrupt or truncated file, FerryError(CorruptInput) naming the
// key for a duplicate. `work_dir`: where the key set waits (bounded memory).
RdbFileFacts check_rdb_file(const std::string& path, const std::string& work_dir);

}  // namespace ferry
