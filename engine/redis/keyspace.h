// A server's keyspace as INFO keyspace tells it: keys per DB.
#pragma once

#include "redis/connection.h"

#include <cstdint>
#include <map>
#include <vector>

namespace ferry {

// DB -> keys, for every DB that holds keys.
std::map<int, uint64_t> keyspace(Connection& conn);
// Keys in the given DBs (every DB when none are given).
uint64_t keys_in(Connection& conn, const std::vector<int>& dbs);

}  // namespace ferry
