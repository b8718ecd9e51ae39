// Shared by the tests: running the ferry binary, and asserting that two servers hold the same data.
#pragma once

#include "process/redis_server.h"
#include "redis/connection.h"
#include "verify/dataset_comparison.h"

#include <catch2/catch.hpp>

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace ferry::test {

struct RunResult {
  int exit_code = -1;
  std::string out;
  std::string err;
  double seconds = 0;
};

// Runs build/ferry with the arguments (and extra environment), capturing its output.
RunResult run_ferry(const std::vector<std::string>& args, const std::map<std::string, std::string>& env = {});

// A connection to a fixture server (authenticated with its requirepass).
std::unique_ptr<Connection> connect(const sim::RedisServer& server, const std::string& role = "server");

// Asserts equal DEBUG DIGEST, and key by key: value digest, absolute expiry, stream group state.
void require_identical(Connection& source, Connection& target, const ComparisonOptions& options = {});

long long now_ms();

}  // namespace ferry::test
