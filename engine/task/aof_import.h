// Mode aof: an AOF imported through the same pipeline as a replica's snapshot and stream:
//
//   every file checked whole first (task/aof_file_check.h): a file redis-server would refuse writes nothing
//   RDB part (base or preamble): FileSource -> RdbParser -----------------------> KeySink ----> Target
//   commands: FileSource -> AofCommandStream (resp::CommandReader) -> CommandTranslator -> CommandSink -> Target
//
// Each file's commands start in DB 0, as redis-server loads them; MULTI/EXEC are transactions;
// scripts are counted unconfirmed; relative expiries are made absolute at the time of the #TS:
// annotation before them, or at import time when the file has none (the report says which).
#pragma once

#include "sink/stream_stats.h"
#include "target/target.h"
#include "task/aof_file_check.h"
#include "task/migration_report.h"
#include "task/progress.h"
#include "task/task_config.h"

#include <nlohmann/json.hpp>

#include <atomic>
#include <memory>
#include <string>

namespace ferry {

struct AofImportResult {
  AofFacts facts;
  StreamStats stream;
  uint64_t applied_bytes = 0;  // of the files' commands, up to where the import stopped
  // How relative expiries were made absolute: "#TS: annotations", "import time", or "" (none seen).
  std::string expiry_clock;
  nlohmann::json to_json() const;  // the report's "aof" object
};

// Returns the exit code the input asks for (5 for a file that cannot be loaded) or 0; counts into
// `report` and `result`. `checked`: the files as the precheck read them whole (else they are read
// whole here first). Throws aof::AofError / FerryError before the first write.
int run_aof_import(const TaskConfig& config, std::shared_ptr<const AofFacts> checked, Target& target, Progress* progress,
                   const std::atomic<bool>* stop, MigrationReport& report, AofImportResult& result);

}  // namespace ferry
