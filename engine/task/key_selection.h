// Which keys a task moves, and where to: --include / --exclude key patterns (glob as Redis matches
// them, or "re:" + a PCRE2 regular expression) and --db-map (source DB -> target DB). Every copy
// path (scan, snapshot, stream, RDB import) asks the same two questions here.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ferry {

// Redis's glob (SCAN MATCH, KEYS): * any run, ? one byte, [abc] [^a-z] classes, \ escapes.
// Binary-safe; linear backtracking on the last *.
bool glob_match(std::string_view pattern, std::string_view text);

// One --include/--exclude pattern: a glob, or "re:<regex>" (PCRE2, unanchored: "re:^user:\d+$"
// for a whole-key match). Throws FerryError(Usage) for a regex that does not compile.
class KeyPattern {
 public:
  explicit KeyPattern(std::string text);
  bool matches(std::string_view key) const;
  const std::string& text() const { return text_; }
  bool is_glob() const { return regex_ == nullptr; }

 private:
  struct Regex;
  std::string text_;
  std::string glob_;
  std::shared_ptr<Regex> regex_;
};

// The rule: with no --include every key is a candidate, else only keys matching one of them; a
// candidate matching any --exclude is left out.
class KeyFilter {
 public:
  KeyFilter() = default;
  KeyFilter(const std::vector<std::string>& include, const std::vector<std::string>& exclude);
  bool selects(std::string_view key) const;
  bool empty() const { return include_.empty() && exclude_.empty(); }
  std::string describe() const;
  std::vector<std::string> include_texts() const;
  std::vector<std::string> exclude_texts() const;

 private:
  std::vector<KeyPattern> include_, exclude_;
};

// --db-map 0:1,5:6. One source DB to one target DB: two sources into one target DB would let a
// FLUSHDB or SWAPDB of one empty the other's keys, so that is refused. Unmapped DBs keep their number.
class DbMap {
 public:
  DbMap() = default;
  // Throws FerryError(Usage) naming the bad part.
  static DbMap parse(const std::string& text);
  int target(int source_db) const {
    auto it = map_.find(source_db);
    return it == map_.end() ? source_db : it->second;
  }
  bool empty() const { return map_.empty(); }
  const std::map<int, int>& pairs() const { return map_; }
  std::string describe() const;  // "0:1,5:6"
  // Two selected source DBs must not land in one target DB. `dbs` empty means every DB, so then a
  // pair s:t needs DB t mapped elsewhere too. Throws FerryError(Usage).
  void check(const std::vector<int>& dbs) const;

 private:
  std::map<int, int> map_;
};

}  // namespace ferry
