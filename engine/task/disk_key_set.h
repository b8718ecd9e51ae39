// A set of (DB, key) kept in files, so that a full resync over millions of keys needs no memory
// for them: keys are appended to one of N bucket files by hash; a comparison loads one bucket of
// one set at a time.
#pragma once

#include <cstdint>
#include <cstdio>
#include <functional>
#include <optional>
#include <utility>
#include <string>
#include <string_view>
#include <vector>

namespace ferry {

class DiskKeySet {
 public:
  // Files go to a new directory under `parent` (removed with the set).
  explicit DiskKeySet(const std::string& parent, size_t buckets = 64);
  ~DiskKeySet();
  DiskKeySet(const DiskKeySet&) = delete;
  DiskKeySet& operator=(const DiskKeySet&) = delete;

  void add(int db, std::string_view key);
  uint64_t size() const { return count_; }
  const std::string& dir() const { return dir_; }

  // A (db, key) added more than once, if any. Memory: one bucket at a time.
  std::optional<std::pair<int, std::string>> find_duplicate();

  // Calls visit(db, key) for every key of `candidates` that is in none of `excluded`.
  // Memory: one bucket of the excluded sets at a time.
  static void for_each_not_in(DiskKeySet& candidates, const std::vector<DiskKeySet*>& excluded,
                              const std::function<void(int db, const std::string& key)>& visit);

 private:
  size_t bucket_of(int db, std::string_view key) const;
  void flush();
  void read_bucket(size_t b, const std::function<void(int, std::string&&)>& each);
  std::string dir_;
  std::vector<std::FILE*> files_;
  uint64_t count_ = 0;
};

}  // namespace ferry
