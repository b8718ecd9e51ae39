// An AOF read whole before anything is written (mode aof), and what `ferry aof inspect` prints: each
// file's format (an RDB base or preamble, checked with its CRC64 and duplicate keys as an RDB
// import checks it, then the commands), its commands per name, DBs, #TS: timestamps, and how much of
// it is applied. The loader's rules (src/aof.c) decide what is an error: a short last command of
// the last file, or a MULTI without EXEC at its end, is dropped with a warning (aof-load-truncated
// yes); a short read anywhere else, a byte that is not an AOF, an unreadable RDB part or a missing
// file is exit 5 naming the file and offset.
#pragma once

#include "aof/aof_files.h"
#include "task/rdb_file_check.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace ferry {

struct AofFileFacts {
  aof::AofPart part;
  uint64_t size = 0;
  std::string format;              // "empty", "rdb" (an RDB base), "rdb-preamble" (RDB then commands), "resp"
  std::optional<RdbFileFacts> rdb;  // the RDB part
  uint64_t commands_from = 0;      // where the commands start (after the RDB part)
  uint64_t commands = 0;           // whole commands read (up to the --aof-until cut)
  std::map<std::string, uint64_t> per_command;  // lower-case name -> count
  std::set<int> dbs;               // DBs written: the RDB part's, and those the commands run in
  uint64_t transactions = 0;       // MULTI ... EXEC blocks
  uint64_t relative_expiries = 0;  // EXPIRE, SETEX, SET ... EX and the like: relative to when they run
  std::optional<long long> first_ts, last_ts;  // #TS: annotations (Unix seconds)
  uint64_t annotations = 0;
  // The commands before this offset are applied; what follows is dropped (a cut-short command, an
  // unfinished MULTI, or the --aof-until cut).
  uint64_t apply_end = 0;
  std::string dropped;  // what was dropped at the end and why; empty: nothing
};

struct AofCheckOptions {
  std::optional<long long> until;  // --aof-until: Unix seconds
  std::string work_dir = "/tmp";   // where an RDB part's key set waits (duplicate keys)
};

struct AofFacts {
  aof::AofLayout layout;
  std::vector<AofFileFacts> files;  // in load order; with --aof-until, up to the file it cuts
  // --aof-until: where the first #TS: past it is (file index, offset, its timestamp).
  struct Cut {
    size_t file = 0;
    uint64_t offset = 0;
    long long timestamp = 0;
  };
  std::optional<Cut> cut;
  double seconds = 0;

  uint64_t total_size() const;
  uint64_t commands() const;
  std::vector<std::string> warnings() const;  // one per drop, and an --aof-until that found no #TS:
  nlohmann::json to_json() const;
  std::string to_text() const;  // `ferry aof inspect`
};

// Reads every file of the layout. Throws aof::AofError or rdb::RdbError (both exit 5) for input
// redis-server would refuse, FerryError(CorruptInput) for a key twice in an RDB part.
AofFacts check_aof(const aof::AofLayout& layout, const AofCheckOptions& options = {});

}  // namespace ferry
