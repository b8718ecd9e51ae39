// Options of a migration that every copy path shares: scan, snapshot, sync and RDB import.
#pragma once

#include "redis/connection.h"
#include "task/key_selection.h"
#include "task/migration_report.h"
#include "transform/transform.h"

#include <cstddef>
#include <memory>
#include <vector>

namespace ferry {

// How big keys are read from a source in windows (scan mode).
struct ChunkLimits {
  size_t elements = 1000;         // per LRANGE/xSCAN/XRANGE window
  size_t string_bytes = 1 << 20;  // per GETRANGE window
};

enum class ConflictMode { Block, Replace };
enum class WriteMode {
  Auto,      // RESTORE the DUMP payload; a target that rejects it gets native commands
  Restore,   // RESTORE only (a rejected payload is a failed key)
  Commands,  // native commands for every key
};

struct CopyOptions {
  std::vector<int> dbs;  // empty: every non-empty DB of the source
  DbMap db_map;          // --db-map: the target DB of each source DB
  KeyFilter filter;      // --include / --exclude
  ConflictMode on_conflict = ConflictMode::Block;
  long long ttl_extend_ms = 0;
  WriteMode write_mode = WriteMode::Auto;
  size_t big_key_bytes = 4 << 20;   // keys above this (MEMORY USAGE) go through the chunked writer
  size_t scan_count = 1000;         // SCAN COUNT
  size_t batch_bytes = 16 << 20;    // DUMP payloads held in memory at once
  ChunkLimits chunk;
  PipelineLimits pipeline;
  bool progress = false;            // draw the terminal progress line
  bool skip_unsupported = false;    // scan: count, list and skip keys the target cannot hold
  std::shared_ptr<const TransformScript> transform;  // --transform: every key record and command through it

  int target_db(int source_db) const { return db_map.target(source_db); }
  // The report's description of the selection.
  void describe_into(MigrationReport& report) const {
    report.dbs = dbs;
    report.db_map = db_map.describe();
    report.key_filter = filter.empty() ? "" : filter.describe();
    report.include = filter.include_texts();
    report.exclude = filter.exclude_texts();
    report.ttl_extend_ms = ttl_extend_ms;
  }
};

}  // namespace ferry
