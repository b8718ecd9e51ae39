#include "redis/keyspace.h"

namespace ferry {

std::map<int, uint64_t> keyspace(Connection& conn) {
  std::map<int, uint64_t> out;
  for (const auto& [name, value] : conn.info("keyspace")) {
    if (name.rfind("db", 0) != 0) continue;
    auto pos = value.find("keys=");  // "keys=12,expires=3,avg_ttl=0"
    uint64_t keys = pos == std::string::npos ? 0 : std::strtoull(value.c_str() + pos + 5, nullptr, 10);
    if (keys > 0) out[std::atoi(name.c_str() + 2)] = keys;
  }
  return out;
}

uint64_t keys_in(Connection& conn, const std::vector<int>& dbs) {
  uint64_t total = 0;
  auto sizes = keyspace(conn);
  if (dbs.empty())
    for (const auto& [db, keys] : sizes) total += keys;
  for (int db : dbs) total += sizes.count(db) ? sizes[db] : 0;
  return total;
}

}  // namespace ferry
