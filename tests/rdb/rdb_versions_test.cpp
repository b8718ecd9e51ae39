// RDB files written by other server versions (fetched by tools/fetch-servers; each test skips with a
// message when its server is absent): Redis 6.0 (RDB 9, ziplists), Redis 8.0 (RDB 12: per-field
// expiry, the vectorset module type), Valkey 8.1 (RDB 11: listpack sets, v3 streams).
#include "support.h"
#include "workload/mixed_dataset.h"

#include <nlohmann/json.hpp>

#include <fstream>

using namespace ferry;
using ferry::sim::RedisServer;
using ferry::sim::RedisServerOptions;
using ferry::test::run_ferry;

namespace {

RedisServerOptions with_binary(const std::string& binary) {
  RedisServerOptions o;
  o.binary = binary;
  return o;
}

RedisServerOptions strict(const std::string& binary = {}) {
  RedisServerOptions o;
  o.binary = binary;
  o.config = {{"sanitize-dump-payload", "yes"}};
  return o;
}

std::string save_rdb(RedisServer& server) {
  test::connect(server)->checked({"SAVE"});
  return server.dir() + "/dump.rdb";
}

nlohmann::json inspect(const std::string& file) {
  auto r = run_ferry({"rdb", "inspect", file, "--json"});
  REQUIRE(r.exit_code == 0);
  return nlohmann::json::parse(r.out);
}


}  // namespace

TEST_CASE("Redis 6.0 RDB 9 with ziplist encodings imports into 7.0 exactly", "[rdb][versions]") {
  auto binary = test::other_server("redis-6.0");
  if (!binary) {
    WARN("skipped: redis-6.0 not fetched (run tools/fetch-servers)");
    return;
  }
  RedisServer source(with_binary(*binary));
  REQUIRE(source.version() / 100 == 600);
  auto s = test::connect(source);
  sim::MixedDatasetOptions fill;
  fill.seed = 60;
  fill.keys_per_db = 500;
  sim::fill_mixed_dataset(*s, fill);
  std::string file = save_rdb(source);
  auto j = inspect(file);
  CHECK(j["rdb_version"] == 9);
  CHECK(j["encodings"].contains("list (quicklist)"));
  CHECK(j["encodings"].contains("hash (ziplist)"));
  CHECK(j["encodings"].contains("zset (ziplist)"));

  for (const char* mode : {"auto", "commands"}) {
    INFO("--write-mode " << mode);
    RedisServer target(strict());
    auto r = run_ferry({"migrate", "--mode", "rdb", "--rdb", file, "--target", target.uri(), "--write-mode", mode});
    REQUIRE(r.exit_code == 0);
    ComparisonOptions cmp;
    cmp.ttl_tolerance_ms = 1000;  // 6.0 has no PEXPIRETIME
    cmp.stream_v7_fields = false;
    test::require_identical(*s, *test::connect(target), cmp);
  }
}

TEST_CASE("Redis 8.0 RDB 12: field expiry and vectorset reach an 8.0 target, a 7.0 target refuses them clearly",
          "[rdb][versions]") {
  auto binary = test::other_server("redis-8.0");
  if (!binary) {
    WARN("skipped: redis-8.0 not fetched (run tools/fetch-servers)");
    return;
  }
  RedisServer source(with_binary(*binary));
  auto s = test::connect(source);
  sim::MixedDatasetOptions fill;
  fill.seed = 80;
  fill.keys_per_db = 400;
  sim::fill_mixed_dataset(*s, fill);
  long long field_expiry = test::now_ms() + 90000000;
  s->select(0);
  s->checked({"HSET", "hfe:small", "a", "1", "b", "2"});
  s->checked({"HPEXPIREAT", "hfe:small", std::to_string(field_expiry), "FIELDS", "1", "a"});
  Args big{"HSET", "hfe:big"};
  for (int i = 0; i < 700; ++i) big.insert(big.end(), {"f" + std::to_string(i), "v" + std::to_string(i)});
  s->checked(big);
  s->checked({"HPEXPIREAT", "hfe:big", std::to_string(field_expiry + 5), "FIELDS", "2", "f1", "f2"});
  s->checked({"VADD", "vectors", "VALUES", "2", "1", "2", "point-a"});
  std::string file = save_rdb(source);
  auto j = inspect(file);
  CHECK(j["rdb_version"] == 12);
  CHECK(j["hash_fields_with_expiry"] == 3);
  CHECK(j["module_values"]["vectorset"] == 1);

  SECTION("into Redis 8.0: everything, field expiries to the millisecond") {
    RedisServer target(strict(*binary));
    auto r = run_ferry({"migrate", "--mode", "rdb", "--rdb", file, "--target", target.uri()});
    REQUIRE(r.exit_code == 0);
    auto d = test::connect(target);
    test::require_identical(*s, *d);
    d->select(0);
    CHECK(d->checked({"HPEXPIRETIME", "hfe:small", "FIELDS", "2", "a", "b"}).elements[0].integer == field_expiry);
    CHECK(d->checked({"HPEXPIRETIME", "hfe:small", "FIELDS", "2", "a", "b"}).elements[1].integer == -1);
    CHECK(d->checked({"HPEXPIRETIME", "hfe:big", "FIELDS", "1", "f2"}).elements[0].integer == field_expiry + 5);
    CHECK(d->checked({"VCARD", "vectors"}).integer == 1);
  }
  SECTION("into Redis 8.0 with native commands: field expiries through HPEXPIREAT") {
    RedisServer target(strict(*binary));
    auto r = run_ferry({"migrate", "--mode", "rdb", "--rdb", file, "--target", target.uri(), "--write-mode", "commands",
                        "--skip-unsupported"});
    REQUIRE(r.exit_code == 0);
    auto d = test::connect(target);
    d->select(0);
    CHECK(d->checked({"HPEXPIRETIME", "hfe:big", "FIELDS", "1", "f1"}).elements[0].integer == field_expiry + 5);
    CHECK(d->checked({"HLEN", "hfe:big"}).integer == 700);
    CHECK(d->checked({"EXISTS", "vectors"}).integer == 0);  // a module value has no native commands
  }
  SECTION("into Redis 7.0: a clear error, or a counted skip when asked") {
    RedisServer target(strict());
    auto refused = run_ferry({"migrate", "--mode", "rdb", "--rdb", file, "--target", target.uri()});
    CHECK(refused.exit_code == 1);  // by the precheck, which reads the whole RDB 12 file: nothing written
    CHECK(refused.err.find("vectorset") != std::string::npos);
    CHECK(refused.err.find("7.4") != std::string::npos);
    CHECK(test::connect(target)->checked({"DBSIZE"}).integer == 0);

    RedisServer target2(strict());
    std::string report = target2.dir() + "/r.json";
    auto skipped = run_ferry({"migrate", "--mode", "rdb", "--rdb", file, "--target", target2.uri(), "--skip-unsupported",
                              "--report", report});
    CHECK(skipped.exit_code == 0);
    CHECK(test::read_json(report)["skipped_unsupported"] == 3);
    auto result = compare_datasets(*s, *test::connect(target2));
    INFO(result.summary());
    CHECK(result.missing_on_target == 3);
    CHECK(result.value_mismatches == 0);
    CHECK(result.expiry_mismatches == 0);
    CHECK(result.stream_state_mismatches == 0);
  }
}

TEST_CASE("Valkey 8.1 RDB 11 (listpack sets, v3 streams) imports into Redis 7.0, and 7.0's into Valkey",
          "[rdb][versions]") {
  auto binary = test::other_server("valkey-8.1");
  if (!binary) {
    WARN("skipped: valkey-8.1 not fetched (run tools/fetch-servers)");
    return;
  }
  sim::MixedDatasetOptions fill;
  fill.seed = 81;
  fill.keys_per_db = 500;
  SECTION("Valkey 8.1 -> Redis 7.0") {
    RedisServer source(with_binary(*binary)), target(strict());
    auto s = test::connect(source);
    sim::fill_mixed_dataset(*s, fill);
    std::string file = save_rdb(source);
    auto j = inspect(file);
    CHECK(j["rdb_version"] == 11);
    CHECK(j["encodings"].contains("set (listpack)"));
    auto r = run_ferry({"migrate", "--mode", "rdb", "--rdb", file, "--target", target.uri()});
    REQUIRE(r.exit_code == 0);
    test::require_identical(*s, *test::connect(target), {}, false);
  }
  SECTION("Redis 7.0 -> Valkey 8.1") {
    RedisServer source, target(strict(*binary));
    auto s = test::connect(source);
    sim::fill_mixed_dataset(*s, fill);
    auto r = run_ferry({"migrate", "--mode", "rdb", "--rdb", save_rdb(source), "--target", target.uri()});
    REQUIRE(r.exit_code == 0);
    test::require_identical(*s, *test::connect(target), {}, false);
  }
}
