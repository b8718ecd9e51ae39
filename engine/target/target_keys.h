// Reading what a target holds before and after writing it: the conflict check of --on-conflict
// block, and the target's keys a full resync compares with the snapshot.
#pragma once

#include "target/target.h"
#include "task/copy_options.h"
#include "task/disk_key_set.h"

#include <functional>
#include <vector>

namespace ferry {

// With --on-conflict block, the target DBs the given source DBs map to (every DB when none are
// given) must be empty. Throws FerryError(Failed) naming some of the keys found; nothing is written.
void check_target_empty(Target& target, const CopyOptions& copy, const std::vector<int>& source_dbs);

// The target's keys this task answers for, into `keys`: in the DBs the selected ones map to (every
// non-empty DB when none are selected), and only those --include/--exclude select. `tick` is called
// after each SCAN round.
void scan_target_keys(Target& target, const CopyOptions& copy, DiskKeySet& keys, const std::function<void()>& tick = {});

}  // namespace ferry
