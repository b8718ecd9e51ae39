#include "task/rdb_file_check.h"

#include "core/error.h"
#include "core/log.h"
#include "io/byte_source.h"
#include "rdb/rdb_parser.h"
#include "task/disk_key_set.h"
#include "target/target.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>

namespace ferry {
namespace {

class FileCheck : public rdb::RdbVisitor {
 public:
  FileCheck(RdbFileFacts& facts, DiskKeySet& keys) : facts_(facts), keys_(keys) {}
  void on_header(int version) override { facts_.version = version; }
  void on_aux(const std::string& name, const std::string& value) override { facts_.aux[name] = value; }
  size_t on_key_begin(const KeyInfo& key) override {
    ++facts_.keys;
    if (key.db != last_db_) facts_.dbs.insert(last_db_ = key.db);
    keys_.add(key.db, key.key);
    return 0;
  }
  void on_module_aux(const std::string& module_type) override { facts_.module_aux.insert(module_type); }
  void on_end(bool checksum_verified) override { facts_.checksum_verified = checksum_verified; }

 private:
  RdbFileFacts& facts_;
  DiskKeySet& keys_;
  int last_db_ = -1;
};

}  // namespace

void require_modules(const RdbFileFacts& facts, const std::string& path, const TargetFacts& target,
                     const std::string& target_name, bool skip_unsupported) {
  if (skip_unsupported) return;
  for (const auto& type : facts.module_aux)
    if (!target.has_module_for_type(type))
      throw FerryError(ExitCode::Failed,
                       fmt::format("{} holds aux data of module type '{}', whose module {} has not loaded: redis-server "
                                   "refuses such a file; nothing was written (load the module, or skip the data with "
                                   "--skip-unsupported)",
                                   path, type, target_name));
}

RdbFileFacts check_rdb_file(const std::string& path, const std::string& work_dir) {
  const auto started = std::chrono::steady_clock::now();
  RdbFileFacts facts;
  io::FileSource file(path);
  facts.bytes = file.size().value_or(0);
  // One bucket per 32 MB of file (at most 64): a bucket is what the duplicate search holds in memory,
  // and a small file needs no 64 files.
  DiskKeySet keys(work_dir, static_cast<size_t>(std::clamp<uint64_t>(facts.bytes >> 25, 1, 64)));
  FileCheck check(facts, keys);
  rdb::RdbParser parser(file, check);
  parser.parse();
  facts.end = parser.offset();
  if (auto dup = keys.find_duplicate())
    throw FerryError(ExitCode::CorruptInput,
                     fmt::format("{}: key '{}' appears twice in DB {}; redis-server refuses such a file (\"Duplicated key "
                                 "found in RDB file\"), and nothing was written",
                                 file.describe(), log::printable(dup->second), dup->first));
  facts.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return facts;
}

}  // namespace ferry
