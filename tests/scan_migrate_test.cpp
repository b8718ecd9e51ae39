// `ferry migrate --mode scan` end to end: real source and target servers, the real binary, and
// assertions on what arrived in the target.
#include "support.h"
#include "workload/mixed_dataset.h"

#include <nlohmann/json.hpp>

#include <fstream>

using namespace ferry;
using ferry::sim::RedisServer;
using ferry::sim::RedisServerOptions;
using ferry::test::run_ferry;

namespace {
std::vector<std::string> migrate_args(const RedisServer& src, const RedisServer& dst, std::vector<std::string> extra = {}) {
  std::vector<std::string> args{"migrate", "--mode", "scan", "--source", src.uri(), "--target", dst.uri()};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

}  // namespace

TEST_CASE("a mixed multi-DB dataset arrives exactly: digest, values, absolute expiries, stream groups", "[scan]") {
  RedisServer src, dst;
  auto s = test::connect(src), d = test::connect(dst);
  sim::MixedDatasetOptions fill;
  fill.seed = 42;
  fill.keys_per_db = 1500;
  fill.dbs = {0, 3, 15};
  auto stats = sim::fill_mixed_dataset(*s, fill);
  REQUIRE(stats.expiring > 0);
  REQUIRE(stats.streams > 0);

  std::string report = dst.dir() + "/report.json";
  auto r = run_ferry(migrate_args(src, dst, {"--report", report}));
  REQUIRE(r.exit_code == 0);
  test::require_identical(*s, *d);
  auto j = test::read_json(report);
  CHECK(j["copied"] == stats.keys);
  CHECK(j["failed"] == 0);
  CHECK(j["complete"] == true);
  CHECK(j["dbs"] == nlohmann::json::array({0, 3, 15}));
}

TEST_CASE("every type and encoding, binary-safe, with exact scores and stream state", "[scan]") {
  RedisServerOptions small_encodings;
  RedisServer src(small_encodings), dst;
  auto s = test::connect(src), d = test::connect(dst);
  std::string bin_key("k\0\r\n\xff", 5), bin_val("\0\x01\r\n\xfe", 5);
  s->checked({"SET", "str:int", "-9223372036854775808"});
  s->checked({"SET", "str:embstr", "short"});
  s->checked({"SET", "str:raw", std::string(5000, 'r')});
  s->checked({"SET", bin_key, bin_val});
  s->checked({"RPUSH", "list:small", "a", "1", "b"});
  Args big_list{"RPUSH", "list:quicklist"};
  for (int i = 0; i < 5000; ++i) big_list.push_back("element-" + std::to_string(i));
  s->checked(big_list);
  s->checked({"HSET", "hash:small", "f", "v", "n", "1"});
  s->checked({"HSET", "hash:big-value", "f", std::string(200, 'h')});
  s->checked({"SADD", "set:intset", "1", "2", "-3", "9223372036854775807"});
  s->checked({"SADD", "set:strings", "a", "b", "c"});
  s->checked({"ZADD", "zset:inf", "inf", "top", "-inf", "bottom", "0.1", "tenth", "-2.5e-300", "tiny"});
  Args big_zset{"ZADD", "zset:skiplist"};
  for (int i = 0; i < 300; ++i) {
    big_zset.push_back(std::to_string(i / 3.0));
    big_zset.push_back("m" + std::to_string(i));
  }
  s->checked(big_zset);
  s->checked({"PFADD", "hll", "a", "b", "c", "d"});
  s->checked({"SETBIT", "bitmap", "100000", "1"});
  s->checked({"GEOADD", "geo", "13.361389", "38.115556", "Palermo"});
  for (int i = 1; i <= 10; ++i) s->checked({"XADD", "stream", std::to_string(i) + "-1", "f", std::to_string(i)});
  s->checked({"XGROUP", "CREATE", "stream", "g1", "0"});
  s->checked({"XGROUP", "CREATE", "stream", "g2", "$"});
  s->checked({"XREADGROUP", "GROUP", "g1", "alice", "COUNT", "4", "STREAMS", "stream", ">"});
  s->checked({"XREADGROUP", "GROUP", "g1", "bob", "COUNT", "2", "STREAMS", "stream", ">"});
  s->checked({"XGROUP", "CREATECONSUMER", "stream", "g1", "carol"});
  s->checked({"XDEL", "stream", "10-1"});
  s->checked({"XADD", "empty-stream", "1-1", "f", "v"});
  s->checked({"XDEL", "empty-stream", "1-1"});
  s->checked({"SELECT", "2"});
  s->checked({"SET", "in-db-2", "yes"});
  s->checked({"SELECT", "0"});
  REQUIRE(s->checked({"OBJECT", "ENCODING", "set:intset"}).str == "intset");
  REQUIRE(s->checked({"OBJECT", "ENCODING", "str:int"}).str == "int");

  SECTION("through DUMP/RESTORE") { REQUIRE(run_ferry(migrate_args(src, dst)).exit_code == 0); }
  SECTION("through the native command writer") {
    REQUIRE(run_ferry(migrate_args(src, dst, {"--write-mode", "commands"})).exit_code == 0);
  }
  test::require_identical(*s, *d);
  s->select(0);
  d->select(0);
  CHECK(d->checked({"GET", bin_key}).str == bin_val);
  CHECK(d->checked({"ZSCORE", "zset:inf", "top"}).str == "inf");
  CHECK(d->checked({"ZSCORE", "zset:inf", "bottom"}).str == "-inf");
  CHECK(d->checked({"ZSCORE", "zset:inf", "tiny"}).str == s->checked({"ZSCORE", "zset:inf", "tiny"}).str);
  CHECK(d->checked({"XLEN", "empty-stream"}).integer == 0);
  CHECK(stream_state(*d, "stream") == stream_state(*s, "stream"));
  d->select(2);
  CHECK(d->checked({"GET", "in-db-2"}).str == "yes");
}

TEST_CASE("the mixed dataset through the native writer alone is exact too", "[scan]") {
  RedisServer src, dst;
  auto s = test::connect(src), d = test::connect(dst);
  sim::MixedDatasetOptions fill;
  fill.seed = 7;
  fill.keys_per_db = 800;
  sim::fill_mixed_dataset(*s, fill);
  std::string report = dst.dir() + "/report.json";
  REQUIRE(run_ferry(migrate_args(src, dst, {"--write-mode", "commands", "--report", report})).exit_code == 0);
  test::require_identical(*s, *d);
  auto j = test::read_json(report);
  CHECK(j["copied_chunked"] == j["copied"]);
  // No temporary key is left behind.
  for (int db : {0, 1, 5}) {
    d->select(db);
    CHECK(d->checked({"SCAN", "0", "MATCH", "ferry:tmp:*", "COUNT", "100000"}).elements[1].elements.empty());
  }
}

TEST_CASE("absolute expiry is kept to the millisecond, and ttl-extend shifts it", "[scan][ttl]") {
  RedisServer src, dst;
  auto s = test::connect(src), d = test::connect(dst);
  long long base = test::now_ms() + 3600 * 1000;
  for (int i = 0; i < 500; ++i) {
    s->checked({"SET", "k" + std::to_string(i), "v"});
    s->checked({"PEXPIREAT", "k" + std::to_string(i), std::to_string(base + i * 7 + 3)});
  }
  s->checked({"SET", "persistent", "v"});

  SECTION("exact") {
    REQUIRE(run_ferry(migrate_args(src, dst)).exit_code == 0);
    for (int i = 0; i < 500; ++i) CHECK(d->checked({"PEXPIRETIME", "k" + std::to_string(i)}).integer == base + i * 7 + 3);
    CHECK(d->checked({"PEXPIRETIME", "persistent"}).integer == -1);
  }
  SECTION("extended by 100 s") {
    REQUIRE(run_ferry(migrate_args(src, dst, {"--ttl-extend", "100"})).exit_code == 0);
    for (int i = 0; i < 500; ++i)
      CHECK(d->checked({"PEXPIRETIME", "k" + std::to_string(i)}).integer == base + i * 7 + 3 + 100000);
    CHECK(d->checked({"PEXPIRETIME", "persistent"}).integer == -1);
  }
}

TEST_CASE("keys that expire during the migration are skipped and counted, never written without TTL", "[scan][ttl]") {
  RedisServer src, dst;
  auto s = test::connect(src), d = test::connect(dst);
  std::map<std::string, long long> expiry;
  long long base = test::now_ms();
  {
    Pipeline pipe(*s);
    for (int i = 0; i < 3000; ++i) {
      std::string key = "short:" + std::to_string(i);
      long long at = base + 300 + (i % 600);  // expire 0.3-0.9 s from now, during the copy
      expiry[key] = at;
      pipe.send({"SET", key, std::string(2000, 'x'), "PXAT", std::to_string(at)});
    }
    for (int i = 0; i < 2000; ++i) pipe.send({"SET", "long:" + std::to_string(i), "v"});
  }
  std::string report = dst.dir() + "/report.json";
  // Small pipelines and scan windows slow the copy enough for expiries to land inside it.
  auto r = run_ferry(migrate_args(src, dst, {"--scan-count", "20", "--pipeline-commands", "4", "--report", report}));
  REQUIRE(r.exit_code == 0);
  auto j = test::read_json(report);
  // Keys that expired before SCAN reached them were never seen; every key seen is accounted for.
  long long copied = j["copied"].get<long long>();
  CHECK(copied + j["skipped_expired"].get<long long>() <= 5000);
  CHECK(copied >= 2000);
  CHECK(j["failed"] == 0);
  WARN("copied " << copied << ", skipped as expired " << j["skipped_expired"]);
  for (const auto& [key, at] : expiry) {
    long long t = d->checked({"PEXPIRETIME", key}).integer;
    if (t != -2) CHECK(t == at);  // either gone, or present with its exact expiry
  }
  for (int i = 0; i < 2000; ++i) CHECK(d->checked({"EXISTS", "long:" + std::to_string(i)}).integer == 1);
}

TEST_CASE("on-conflict block stops before writing and names keys, replace overwrites", "[scan][conflict]") {
  RedisServer src, dst;
  auto s = test::connect(src), d = test::connect(dst);
  for (int i = 0; i < 100; ++i) s->checked({"SET", "key:" + std::to_string(i), "from-source"});
  d->checked({"SET", "key:7", "already-here"});

  auto blocked = run_ferry(migrate_args(src, dst));
  CHECK(blocked.exit_code == 1);
  CHECK(blocked.err.find("'key:7'") != std::string::npos);
  CHECK(blocked.err.find("nothing was written") != std::string::npos);
  CHECK(d->checked({"DBSIZE"}).integer == 1);
  CHECK(d->checked({"GET", "key:7"}).str == "already-here");

  // Replace mode asked for the overwrite: not a warning to accept again.
  auto replaced = run_ferry(migrate_args(src, dst, {"--on-conflict", "replace"}));
  REQUIRE(replaced.exit_code == 0);
  CHECK(d->checked({"GET", "key:7"}).str == "from-source");
  test::require_identical(*s, *d);
}

TEST_CASE("the db option and the URI db select DBs, a conflicting pair is a usage error", "[scan][db]") {
  RedisServer src, dst;
  auto s = test::connect(src), d = test::connect(dst);
  for (int db : {0, 1, 5}) {
    s->select(db);
    s->checked({"SET", "in-" + std::to_string(db), "x"});
  }
  SECTION("--db 0,5") {
    REQUIRE(run_ferry(migrate_args(src, dst, {"--db", "0,5"})).exit_code == 0);
    for (auto [db, n] : std::vector<std::pair<int, int>>{{0, 1}, {1, 0}, {5, 1}}) {
      d->select(db);
      CHECK(d->checked({"DBSIZE"}).integer == n);
    }
  }
  SECTION("/1 in the source URI") {
    auto r = run_ferry({"migrate", "--source", src.uri() + "/1", "--target", dst.uri()});
    REQUIRE(r.exit_code == 0);
    d->select(1);
    CHECK(d->checked({"GET", "in-1"}).str == "x");
    d->select(0);
    CHECK(d->checked({"DBSIZE"}).integer == 0);
  }
  SECTION("/1 and --db 5") {
    auto r = run_ferry({"migrate", "--source", src.uri() + "/1", "--target", dst.uri(), "--db", "5"});
    CHECK(r.exit_code == 3);
  }
}

TEST_CASE("ACL user:password, passwords from a file and the environment, wrong password", "[scan][auth]") {
  RedisServerOptions src_options, dst_options;
  src_options.acl_users = {"migrator on >src-pw ~* &* +@all"};
  src_options.config = {{"requirepass", "default-pw"}};
  dst_options.requirepass = "dst-pw";
  RedisServer src(src_options), dst(dst_options);
  {
    Endpoint ep = src.endpoint("source");
    ep.user = "migrator";
    ep.password = "src-pw";
    auto s = Connection::open(ep);
    s->checked({"SET", "a", "1"});
    s->checked({"SET", "b", "2"});
  }
  std::string pw_file = dst.dir() + "/target.pw";
  std::ofstream(pw_file) << "dst-pw\n";

  SECTION("user:password in the URI, target password from a file") {
    auto r = run_ferry({"migrate", "--source", src.uri("migrator", "src-pw"), "--target", dst.uri(),
                        "--target-password-file", pw_file});
    REQUIRE(r.exit_code == 0);
    CHECK(r.out.find("src-pw") == std::string::npos);
    CHECK(r.err.find("dst-pw") == std::string::npos);
  }
  SECTION("cloud form user:password from the environment") {
    auto r = run_ferry({"migrate", "--source", src.uri(), "--target", dst.uri()},
                       {{"FERRY_SOURCE_PASSWORD", "migrator:src-pw"}, {"FERRY_TARGET_PASSWORD", "dst-pw"}});
    REQUIRE(r.exit_code == 0);
  }
  SECTION("wrong password: exit 4, no password in the output") {
    auto r = run_ferry({"migrate", "--source", src.uri("migrator", "bad-guess"), "--target", dst.uri(),
                        "--target-password-file", pw_file});
    CHECK(r.exit_code == 4);
    CHECK(r.err.find("wrong user name or password") != std::string::npos);
    CHECK(r.err.find("bad-guess") == std::string::npos);
    return;
  }
  auto d = test::connect(dst);
  CHECK(d->checked({"GET", "a"}).str == "1");
  CHECK(d->checked({"GET", "b"}).str == "2");
}

TEST_CASE("an unreachable target is exit 4 within seconds", "[scan][auth]") {
  RedisServer src;
  int port = sim::free_loopback_port();
  auto r = run_ferry({"migrate", "--source", src.uri(), "--target", "redis://127.0.0.1:" + std::to_string(port)});
  CHECK(r.exit_code == 4);
  CHECK(r.seconds < 10);
  CHECK(r.err.find("target 127.0.0.1:" + std::to_string(port)) != std::string::npos);
}

TEST_CASE("a full destination stops the job with a clear error and counts what was not written", "[scan][oom]") {
  RedisServerOptions small;
  small.maxmemory = "3mb";
  small.maxmemory_policy = "noeviction";
  RedisServer src, dst(small);
  auto s = test::connect(src);
  {
    Pipeline pipe(*s);
    for (int i = 0; i < 2000; ++i) pipe.send({"SET", "big:" + std::to_string(i), std::string(10000, 'x')});
  }
  std::string report = dst.dir() + "/report.json";
  // The precheck sees the target is too small; past it (--skip-check), the copy meets the OOM.
  auto refused = run_ferry(migrate_args(src, dst, {"--accept-warnings"}));
  CHECK(refused.exit_code == 1);
  CHECK(refused.err.find("precheck target-memory") != std::string::npos);
  CHECK(test::connect(dst)->checked({"DBSIZE"}).integer == 0);
  auto r = run_ferry(migrate_args(src, dst, {"--accept-warnings", "--skip-check", "target-memory", "--report", report}));
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("OOM") != std::string::npos);
  auto j = test::read_json(report);
  CHECK(j["complete"] == false);
  CHECK(j["copied"].get<long long>() + j["failed"].get<long long>() + j["not_attempted"].get<long long>() +
            j["skipped_expired"].get<long long>() == 2000);
  CHECK(j["failed"].get<long long>() > 0);
  auto d = test::connect(dst);
  CHECK(d->checked({"DBSIZE"}).integer == j["copied"].get<long long>());
}

TEST_CASE("precheck warnings stop the job unless accepted", "[scan][precheck]") {
  RedisServerOptions evicting;
  evicting.maxmemory = "100mb";
  evicting.maxmemory_policy = "allkeys-lru";
  RedisServer src, dst(evicting);
  test::connect(src)->checked({"SET", "a", "1"});
  auto warned = run_ferry(migrate_args(src, dst));
  CHECK(warned.exit_code == 2);
  CHECK(warned.err.find("allkeys-lru") != std::string::npos);
  CHECK(test::connect(dst)->checked({"DBSIZE"}).integer == 0);

  auto accepted = run_ferry(migrate_args(src, dst, {"--accept-warnings"}));
  CHECK(accepted.exit_code == 0);
  CHECK(test::connect(dst)->checked({"GET", "a"}).str == "1");
}

TEST_CASE("a replica as target fails the precheck before anything is written", "[scan][precheck]") {
  RedisServer src, master, replica;
  test::connect(src)->checked({"SET", "a", "1"});
  auto r_conn = test::connect(replica);
  r_conn->checked({"REPLICAOF", "127.0.0.1", std::to_string(master.port())});
  auto r = run_ferry(migrate_args(src, replica));
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("is a replica") != std::string::npos);
  r_conn->checked({"REPLICAOF", "NO", "ONE"});
  CHECK(r_conn->checked({"DBSIZE"}).integer == 0);
}

TEST_CASE("the progress line shows keys, rate and ETA when asked for", "[scan][progress]") {
  RedisServer src, dst;
  auto s = test::connect(src);
  {
    Pipeline pipe(*s);
    for (int i = 0; i < 20000; ++i) pipe.send({"SET", "k" + std::to_string(i), "v"});
  }
  auto r = run_ferry(migrate_args(src, dst, {"--progress", "always", "--scan-count", "100"}));
  REQUIRE(r.exit_code == 0);
  CHECK(r.err.find("/ 20000 keys") != std::string::npos);
  CHECK(r.err.find("keys/s") != std::string::npos);
  CHECK(r.err.find("ETA") != std::string::npos);
  auto quiet = run_ferry(migrate_args(src, dst, {"--on-conflict", "replace", "--accept-warnings"}));  // not a TTY: silent
  CHECK(quiet.err.find("keys/s") == std::string::npos);
}

TEST_CASE("a source user without DUMP permission gets a clear NOPERM error", "[scan][auth]") {
  RedisServerOptions o;
  o.acl_users = {"nodump on >pw ~* &* +@all -dump"};
  RedisServer src(o), dst;
  test::connect(src)->checked({"SET", "a", "1"});
  auto r = run_ferry({"migrate", "--source", src.uri("nodump", "pw"), "--target", dst.uri()});
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("NOPERM") != std::string::npos);
  CHECK(r.err.find("source 127.0.0.1:" + std::to_string(src.port())) != std::string::npos);
}

// --max-ops / --max-bytes pace full copies too (keys per second), not only the stream: 300 keys at
// 100 keys/s cannot take less than two seconds, in scan, snapshot and rdb modes alike.
TEST_CASE("throttling applies to full copies in every mode", "[scan][throttle]") {
  RedisServer src;
  auto s = test::connect(src);
  for (int i = 0; i < 300; ++i) s->checked({"SET", "k" + std::to_string(i), "v"});
  s->checked({"SAVE"});
  for (const char* mode : {"scan", "snapshot", "rdb"}) {
    INFO(mode);
    RedisServer dst;
    std::vector<std::string> args{"migrate", "--mode", mode, "--target", dst.uri(), "--max-ops", "100"};
    if (std::string(mode) == "rdb") args.insert(args.end(), {"--rdb", src.dir() + "/dump.rdb"});
    else args.insert(args.end(), {"--source", src.uri()});
    auto r = test::run_ferry(args);
    REQUIRE(r.exit_code == 0);
    CHECK(r.seconds >= 2.0);  // a lower bound: the pacing itself, not a speed
    CHECK(test::connect(dst)->checked({"DBSIZE"}).integer == 300);
  }
}
