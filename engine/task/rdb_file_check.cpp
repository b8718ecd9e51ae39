#include "task/rdb_file_check.h"

#include "core/error.h"
#include "core/log.h"
#include "io/byte_source.h"
#include "rdb/rdb_parser.h"
#include "task/disk_key_set.h"

#include <fmt/format.h>

#include <chrono>

namespace ferry {
namespace {

class FileCheck : public rdb::RdbVisitor {
 public:
  FileCheck(RdbFileFacts& facts, DiskKeySet& keys) : facts_(facts), keys_(keys) {}
  size_t on_key_begin(const KeyInfo& key) override {
    ++facts_.keys;
    keys_.add(key.db, key.key);
    return 0;
  }
  void on_module_aux(const std::string& module_type) override { facts_.module_aux.insert(module_type); }
  void on_end(bool checksum_verified) override { facts_.checksum_verified = checksum_verified; }

 private:
  RdbFileFacts& facts_;
  DiskKeySet& keys_;
};

}  // namespace

RdbFileFacts check_rdb_file(const std::string& path, const std::string& work_dir) {
  const auto started = std::chrono::steady_clock::now();
  RdbFileFacts facts;
  io::FileSource file(path);
  facts.bytes = file.size().value_or(0);
  DiskKeySet keys(work_dir);
  FileCheck check(facts, keys);
  rdb::RdbParser parser(file, check);
  parser.parse();
  if (auto dup = keys.find_duplicate())
    throw FerryError(ExitCode::CorruptInput,
                     fmt::format("{}: key '{}' appears twice in DB {}; redis-server refuses such a file (\"Duplicated key "
                                 "found in RDB file\"), and nothing was written",
                                 file.describe(), log::printable(dup->second), dup->first));
  facts.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return facts;
}

}  // namespace ferry
