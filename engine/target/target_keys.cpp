#include "target/target_keys.h"

#include "core/log.h"
#include "redis/keyspace.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <set>

namespace ferry {

void check_target_empty(Target& target, const CopyOptions& copy, const std::vector<int>& source_dbs) {
  if (copy.on_conflict != ConflictMode::Block) return;
  std::set<int> written;  // the target DBs that will be written (empty: any)
  for (int db : source_dbs) written.insert(copy.target_db(db));
  for (Connection* master : target.masters()) {
    Connection& conn = *master;
    for (const auto& [db, keys] : keyspace(conn)) {
    if (!written.empty() && !written.count(db)) continue;
    conn.select(db);
    Reply sample = conn.checked({"SCAN", "0", "COUNT", "100"});
    std::vector<std::string> examples;
    for (size_t i = 0; i < sample.elements[1].elements.size() && examples.size() < 5; ++i)
      examples.push_back("'" + log::printable(sample.elements[1].elements[i].str, 60) + "'");
    throw FerryError(ExitCode::Failed,
                     fmt::format("{} already holds {} key(s) in DB {} (e.g. {}); nothing was written. Empty {}, pick "
                                 "other DBs with --db/--db-map, or overwrite with --on-conflict replace",
                                 target.facts().cluster ? "target shard " + conn.endpoint().address() : target.describe(),
                                 keys, db, fmt::join(examples, ", "),
                                 written.empty() ? "the whole target" : "the selected DBs"));
    }
  }
}

void scan_target_keys(Target& target, const CopyOptions& copy, DiskKeySet& keys, const std::function<void()>& tick) {
  for (Connection* master : target.masters()) {
  Connection& conn = *master;
  std::vector<int> which;
  for (int db : copy.dbs) which.push_back(copy.target_db(db));
  if (which.empty())
    for (const auto& [db, count] : keyspace(conn)) which.push_back(db);
  for (int db : which) {
    conn.select(db);
    std::string cursor = "0";
    do {
      Reply r = conn.checked({"SCAN", cursor, "COUNT", "1000"});
      cursor = r.elements[0].str;
      for (const auto& k : r.elements[1].elements)
        if (copy.filter.selects(k.str)) keys.add(db, k.str);
      if (tick) tick();
    } while (cursor != "0");
  }
  }
}

}  // namespace ferry
