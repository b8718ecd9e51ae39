// AOF import against ground truth: redis-server writes every input (a Redis 7 appendonly directory
// after rewrites, Redis 6.0 single files with and without an RDB preamble), and a second
// redis-server loads the same files; ferry's target must equal it key by key, by DEBUG DIGEST and by
// absolute expiry. Truncated and corrupt variants are judged as redis-server judges them, and a bad
// input writes nothing.
#include "cluster/cluster_support.h"
#include "support.h"
#include "task/aof_file_check.h"
#include "workload/mixed_dataset.h"

#include <boost/process.hpp>
#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <cstdlib>
#include <random>
#include <thread>

using namespace ferry;
using ferry::sim::RedisServer;
using ferry::sim::RedisServerOptions;
using ferry::test::run_ferry;
namespace fs = std::filesystem;
namespace bp = boost::process;

namespace {

// A folder of the test's own, removed at the end.
struct TempDir {
  fs::path path;
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "ferry-aof-XXXXXX").string();
    REQUIRE(::mkdtemp(tmpl.data()));
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string operator/(const std::string& name) const { return (path / name).string(); }
};

// The installed redis-server (7.0) writing its AOF with #TS: annotations.
RedisServerOptions aof_writer() {
  RedisServerOptions o;
  o.config = {{"appendonly", "yes"}, {"aof-timestamp-enabled", "yes"}};
  return o;
}

// What the AOF of `source` (its AOF on) holds after the mixed dataset (`keys_per_db` in `dbs`), a
// rewrite (the dataset into the base), and `load_ms` of the write load of every command (hash-tagged
// keys, DB 0); then its appends paused (a copy of its files is whole).
void write_aof_under_load(RedisServer& source, std::vector<int> dbs, size_t keys_per_db, uint64_t seed, int load_ms) {
  auto conn = test::connect(source);
  sim::MixedDatasetOptions d;
  d.dbs = std::move(dbs);
  d.keys_per_db = keys_per_db;
  fill_mixed_dataset(*conn, d);
  sim::rewrite_aof(*conn);
  {
    test::BackgroundLoad load(source, seed, 2000);
    std::this_thread::sleep_for(std::chrono::milliseconds(load_ms));
    load.stop();
  }
  sim::pause_aof_appends(*conn);
}

// A server that loads the AOF at `path` (a Redis 7 directory, or a single file it upgrades);
// `binary`: another version's server (empty: the installed one).
std::unique_ptr<RedisServer> loaded_by_redis(const std::string& path, const std::string& binary = {}) {
  RedisServerOptions o;
  o.binary = binary;
  o.config = {{"appendonly", "yes"}};
  if (fs::is_directory(path)) {
    o.files = {{"appendonlydir", path}};
  } else {
    o.files = {{"appendonly.aof", path}};
    o.config.emplace_back("appendfilename", "appendonly.aof");
  }
  return std::make_unique<RedisServer>(o);
}

// Whether redis-server loads the AOF at `path` (it exits at start when it refuses).
bool redis_loads(const std::string& path) {
  try {
    loaded_by_redis(path);
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

void require_same_as_redis(const std::string& path, RedisServer& target, const std::string& binary = {}) {
  auto truth = loaded_by_redis(path, binary);
  auto expected = test::connect(*truth), got = test::connect(target);
  test::require_identical(*expected, *got);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void write_file(const std::string& path, std::string_view bytes) {
  std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

long long dbsize_all(RedisServer& server) {
  long long n = 0;
  auto conn = test::connect(server);
  for (int db = 0; db < 16; ++db) {
    conn->checked({"SELECT", std::to_string(db)});
    n += conn->checked({"DBSIZE"}).integer;
  }
  return n;
}

// A small Redis 7 AOF: an RDB base, then commands of several DBs, a transaction, a script, a
// binary value with "\r\n" and "*" in it, and #TS: annotations. Returns the appendonly directory.
std::string small_aof(TempDir& dir, RedisServer& server) {
  auto conn = test::connect(server);
  for (int i = 0; i < 50; ++i) conn->checked({"SET", fmt::format("base:{}", i), std::string(i, 'x')});
  conn->checked({"HSET", "base:h", "f", "v"});
  sim::rewrite_aof(*conn);
  conn->checked({"SET", "bin", std::string("a\r\n*3\r\n$3\r\n\0z", 13)});
  conn->checked({"SELECT", "2"});
  conn->checked({"RPUSH", "l", "a", "b", "c"});
  conn->checked({"SET", "ttl", "v", "PX", "3600000"});
  conn->checked({"MULTI"});
  conn->checked({"INCR", "n"});
  conn->checked({"SADD", "s", "m1", "m2"});
  conn->checked({"EXEC"});
  conn->checked({"SELECT", "0"});
  conn->checked({"EVAL", "redis.call('set', KEYS[1], 'lua'); return redis.call('incr', KEYS[2])", "2", "lua:a", "lua:b"});
  conn->checked({"DEL", "base:3"});
  conn->checked({"XADD", "st", "1-1", "f", "v"});
  conn->checked({"XGROUP", "CREATE", "st", "g", "0"});
  conn->checked({"XREADGROUP", "GROUP", "g", "c", "COUNT", "1", "STREAMS", "st", ">"});
  sim::pause_aof_appends(*conn);
  fs::copy(server.dir() + "/appendonlydir", dir / "appendonlydir", fs::copy_options::recursive);
  return dir / "appendonlydir";
}

// The file of a Redis 7 appendonly directory whose name holds `part` (".base.", ".incr.aof" after
// a fresh rewrite: one of each, ".manifest").
std::string file_in(const std::string& appendonlydir, const std::string& part) {
  for (const auto& e : fs::directory_iterator(appendonlydir))
    if (e.path().filename().string().find(part) != std::string::npos) return e.path().string();
  FAIL("no " << part << " file in " << appendonlydir);
  return {};
}
std::string incr_file(const std::string& appendonlydir) { return file_in(appendonlydir, ".incr.aof"); }
std::string base_file(const std::string& appendonlydir) { return file_in(appendonlydir, ".base."); }

}  // namespace

TEST_CASE("a Redis 7 appendonly directory after two rewrites and a write load imports as redis-server loads it",
          "[aof][server]") {
  TempDir dir;
  RedisServer source(aof_writer());
  auto conn = test::connect(source);
  sim::MixedDatasetOptions d;
  d.keys_per_db = 1500;
  fill_mixed_dataset(*conn, d);
  sim::rewrite_aof(*conn);  // the dataset goes into an RDB base
  {
    test::BackgroundLoad load(source, 7, 3000);
    std::this_thread::sleep_for(std::chrono::milliseconds(1000));
    sim::rewrite_aof(*conn);  // a second base in the middle of the load: older files become history
    std::this_thread::sleep_for(std::chrono::milliseconds(1000));
    CHECK(load.stop().commands > 1000);
  }
  sim::pause_aof_appends(*conn);
  fs::copy(source.dir() + "/appendonlydir", dir / "appendonlydir", fs::copy_options::recursive);

  RedisServer target;
  auto r = run_ferry({"migrate", "--mode", "aof", "--aof", dir / "appendonlydir", "--target", target.uri(), "--report",
                      dir / "report.json"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  require_same_as_redis(dir / "appendonlydir", target);
  auto report = test::read_json(dir / "report.json");
  CHECK(report["mode"] == "aof");
  CHECK(report["complete"] == true);
  CHECK(report["aof"]["files"].size() == 2);
  CHECK(report["aof"]["files"][0]["format"] == "rdb");
  CHECK(report["stream"]["commands"].get<long long>() > 1000);

  // The same through the manifest named directly.
  RedisServer again;
  const std::string manifest = file_in(dir / "appendonlydir", ".manifest");
  auto r2 = run_ferry({"migrate", "--mode", "aof", "--aof", manifest, "--target", again.uri()});
  INFO(r2.err);
  REQUIRE(r2.exit_code == 0);
  require_same_as_redis(dir / "appendonlydir", again);
}

TEST_CASE("Redis 6.0 single-file AOFs, with and without an RDB preamble, import as redis-server loads them",
          "[aof][server][versions]") {
  auto redis6 = test::other_server("redis-6.0");
  if (!redis6) {
    WARN("skipped: redis-6.0 was not fetched (tools/fetch-servers)");
    return;
  }
  for (bool preamble : {true, false}) {
    INFO("aof-use-rdb-preamble " << (preamble ? "yes" : "no"));
    TempDir dir;
    RedisServerOptions o;
    o.binary = *redis6;
    o.config = {{"appendonly", "yes"}, {"aof-use-rdb-preamble", preamble ? "yes" : "no"}};
    RedisServer source(o);
    write_aof_under_load(source, {0, 1, 5}, 800, 11, 1500);
    fs::copy_file(source.dir() + "/appendonly.aof", dir / "appendonly.aof");
    CHECK((read_file(dir / "appendonly.aof").rfind("REDIS", 0) == 0) == preamble);

    RedisServer target;
    auto r = run_ferry({"migrate", "--mode", "aof", "--aof", dir / "appendonly.aof", "--target", target.uri(), "--report",
                        dir / "report.json"});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(test::read_json(dir / "report.json")["aof"]["files"][0]["format"] == (preamble ? "rdb-preamble" : "resp"));
    require_same_as_redis(dir / "appendonly.aof", target);
  }
}

TEST_CASE("Redis 8.0 and Valkey 8.1 appendonly directories import as the same version loads them",
          "[aof][server][versions]") {
  for (const char* version : {"redis-8.0", "valkey-8.1"}) {
    auto binary = test::other_server(version);
    if (!binary) {
      WARN("skipped: " << version << " was not fetched (tools/fetch-servers)");
      continue;
    }
    INFO(version);
    TempDir dir;
    RedisServerOptions o = aof_writer();
    o.binary = *binary;
    RedisServer source(o);
    write_aof_under_load(source, {0, 1, 5}, 600, 13, 1000);
    fs::copy(source.dir() + "/appendonlydir", dir / "appendonlydir", fs::copy_options::recursive);
    RedisServerOptions t;
    t.binary = *binary;
    RedisServer target(t);
    auto r = run_ferry({"migrate", "--mode", "aof", "--aof", dir / "appendonlydir", "--target", target.uri()});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    require_same_as_redis(dir / "appendonlydir", target, *binary);
  }
}

TEST_CASE("an AOF into a 3-master cluster: each key on its slot's master, as redis-server loads it", "[aof][cluster]") {
  TempDir dir;
  RedisServer source(aof_writer());
  write_aof_under_load(source, {0}, 1500, 17, 1000);  // DB 0 only, as a cluster; each load step in one slot
  fs::copy(source.dir() + "/appendonlydir", dir / "appendonlydir", fs::copy_options::recursive);
  sim::Topology cluster(test::cluster_spec(3, 0));
  auto r = run_ferry({"migrate", "--mode", "aof", "--aof", dir / "appendonlydir", "--target", test::uri(cluster.master(0)),
                      "--report", dir / "report.json"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.err.find(test::kClusterPassword) == std::string::npos);
  CHECK(test::read_json(dir / "report.json")["stream"]["commands"].get<long long>() > 500);
  auto truth = loaded_by_redis(dir / "appendonlydir");
  ServerGroup expected = test::group_of(*truth), got = test::group_of(cluster.master(0));
  test::require_identical(expected, got);
}

TEST_CASE("manifest lines, annotations and #TS: edge cases read as redis-server reads them", "[aof][edge]") {
  auto refuses = [](const std::string& text) {
    try {
      aof::parse_manifest(text, "manifest m", "/d");
      return false;
    } catch (const aof::AofError&) {
      return true;
    }
  };
  const std::string base = "file a.rdb seq 1 type b\n";
  CHECK_FALSE(refuses(base + "# a comment\nFILE \"b c\\x41.aof\" SEQ 2 TYPE i extra pair\n"));
  CHECK(aof::parse_manifest(base + "file \"b c\\x41.aof\" seq 2 type i\n", "m", "/d").incr.at(0).name == "b cA.aof");
  CHECK(refuses("#" + std::string(1100, 'x') + "\n" + base));  // fgets reads the rest as a line of its own
  CHECK(refuses(base + "file x seq 2 type i \0 \0\n"));       // strchr stops at the NUL
  CHECK(refuses(base + "file x seq 2 type i"));                  // no newline
  CHECK(refuses(base + "\n"));                                  // an empty line
  CHECK(refuses(base + "file x seq 0 type i\n"));               // seq 0
  CHECK(refuses("file a.rdb seq 1 type h\nfile b seq 1 type x\n"));
  CHECK(refuses(base + "file 'unbalanced seq 2 type i\n"));

  TempDir dir;
  const std::string ping = "*1\r\n$4\r\nPING\r\n";
  auto check = [&](const std::string& bytes, std::optional<long long> until = std::nullopt) {
    write_file(dir / "x.aof", bytes);
    AofCheckOptions o;
    o.until = until;
    return check_aof(aof::resolve_aof_path(dir / "x.aof"), o);
  };
  // An annotation of 1023 bytes with its newline is one fgets line; one more byte is not.
  CHECK(check("#" + std::string(1021, 'x') + "\n" + ping).commands() == 1);
  CHECK_THROWS_AS(check("#" + std::string(1022, 'x') + "\n" + ping), aof::AofError);
  CHECK_THROWS_AS(check("#" + std::string(70000, 'x')), aof::AofError);
  // #TS: must be a number to cut at; an unterminated last line is never a timestamp.
  CHECK(check("#TS:100\r\n" + ping + "#TS:200junk\r\n" + ping).files[0].last_ts == 100);
  CHECK_THROWS_AS(check("#TS:100\r\n" + ping + "#TS:2x0\r\n" + ping, 150), aof::AofError);
  CHECK(check(ping + "#TS:300").files[0].last_ts == std::nullopt);
  // A point in time before the file's first annotation (a RESP base written by a rewrite): nothing
  // to restore, a usage error rather than an empty import.
  try {
    check("#TS:500\r\n" + ping, 400);
    FAIL("an --aof-until before everything was accepted");
  } catch (const FerryError& e) {
    CHECK(e.code() == ExitCode::Usage);
  }
  // A command of more than a million arguments (a big SADD) is an AOF like any other.
  std::string big = "*1200002\r\n$4\r\nSADD\r\n$1\r\ns\r\n";
  for (int i = 0; i < 1200000; ++i) big += "$1\r\n" + std::to_string(i % 10) + "\r\n";
  CHECK(check(big).commands() == 1);
}

// In-process (no CLI), so that the sanitizer build runs it too (tools/test: 'prefix').
TEST_CASE("every prefix and seeded byte flips of an AOF give a clean verdict in-process", "[aof][truncated]") {
  TempDir dir;
  RedisServer source(aof_writer());
  const std::string aofdir = small_aof(dir, source);
  // One file: the RDB base, then the incr file's commands (an RDB-preamble AOF, as before 7.0).
  const std::string whole = read_file(base_file(aofdir)) + read_file(incr_file(aofdir));
  const size_t rdb_end = read_file(base_file(aofdir)).size();
  write_file(dir / "whole.aof", whole);
  AofFacts full = check_aof(aof::resolve_aof_path(dir / "whole.aof"));
  REQUIRE(full.files.size() == 1);
  REQUIRE(full.files[0].format == "rdb-preamble");
  REQUIRE(full.files[0].dropped.empty());

  // Every prefix: inside the RDB part it cannot be loaded (exit 5 naming the file); after it, the
  // commands up to the last whole one outside a MULTI are applied, the rest dropped.
  size_t refused = 0, dropped = 0;
  for (size_t n = 0; n < whole.size(); ++n) {
    write_file(dir / "prefix.aof", std::string_view(whole).substr(0, n));
    INFO("prefix of " << n << " bytes");
    if (n > 0 && n < rdb_end) {
      try {
        check_aof(aof::resolve_aof_path(dir / "prefix.aof"));
        FAIL("a cut RDB preamble was accepted");
      } catch (const aof::AofError& e) {
        CHECK(std::string(e.what()).find("prefix.aof") != std::string::npos);
        ++refused;
      }
      continue;
    }
    AofFacts f = check_aof(aof::resolve_aof_path(dir / "prefix.aof"));
    REQUIRE(f.files.size() == 1);
    CHECK(f.files[0].apply_end <= n);
    if (!f.files[0].dropped.empty()) ++dropped;
  }
  CHECK(refused == rdb_end - 1);
  CHECK(dropped > 0);

  // Seeded byte flips anywhere: accepted (perhaps with a dropped tail) or refused with exit 5
  // naming the file and an offset; never anything else.
  const uint64_t seed = std::getenv("FERRY_SEED") ? std::strtoull(std::getenv("FERRY_SEED"), nullptr, 10) : 7;
  std::mt19937_64 rng(seed);
  for (int i = 0; i < 400; ++i) {
    std::string bytes = whole;
    for (int k = 0; k < 1 + static_cast<int>(rng() % 3); ++k) {
      const size_t at = static_cast<size_t>(rng() % bytes.size());
      bytes[at] = static_cast<char>(bytes[at] ^ (1 + rng() % 255));
    }
    write_file(dir / "flipped.aof", bytes);
    INFO("flip case " << i << " (FERRY_SEED=" << seed << " reproduces it)");
    try {
      AofFacts f = check_aof(aof::resolve_aof_path(dir / "flipped.aof"));
      CHECK(f.files.size() == 1);
      (void)f.to_json().dump();
    } catch (const FerryError& e) {
      CHECK(e.code() == ExitCode::CorruptInput);
      CHECK(std::string(e.what()).find("flipped.aof") != std::string::npos);
    }
  }
}

TEST_CASE("cut AOFs import as redis-server loads them (aof-load-truncated yes)", "[aof][truncated]") {
  TempDir dir;
  RedisServer source(aof_writer());
  const std::string aofdir = small_aof(dir, source);
  const std::string whole = read_file(base_file(aofdir)) + read_file(incr_file(aofdir));
  const size_t rdb_end = read_file(base_file(aofdir)).size();
  for (double at : {0.3, 0.55, 0.8, 0.95}) {
    const size_t n = rdb_end + static_cast<size_t>(at * static_cast<double>(whole.size() - rdb_end));
    INFO("the first " << n << " bytes");
    write_file(dir / "cut.aof", std::string_view(whole).substr(0, n));
    RedisServer target;
    auto r = run_ferry({"migrate", "--mode", "aof", "--aof", dir / "cut.aof", "--target", target.uri(), "--accept-warnings"});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    require_same_as_redis(dir / "cut.aof", target);
  }
}

TEST_CASE("flipped bytes: a file redis-server or redis-check-aof refuses writes nothing (exit 5 naming file and offset)",
          "[aof][corrupt]") {
  TempDir dir;
  RedisServer source(aof_writer());
  const std::string aofdir = small_aof(dir, source);
  const std::string incr = read_file(incr_file(aofdir));
  std::mt19937_64 rng(42);
  size_t refused = 0, accepted = 0;
  for (int i = 0; i < 16; ++i) {
    std::string bytes = incr;
    const size_t at = static_cast<size_t>(rng() % bytes.size());
    bytes[at] = static_cast<char>(bytes[at] ^ (1 + rng() % 255));
    write_file(dir / "flipped.aof", bytes);
    INFO("byte " << at << " flipped");
    const bool server_loads = redis_loads(dir / "flipped.aof");
    const int check = bp::system(bp::search_path("redis-check-aof"), dir / "flipped.aof", bp::std_out > bp::null,
                                 bp::std_err > bp::null);
    RedisServer target;
    auto r = run_ferry({"migrate", "--mode", "aof", "--aof", dir / "flipped.aof", "--target", target.uri()});
    INFO(r.err);
    if (r.exit_code == 5) {
      // ferry refuses what either refuses: redis-check-aof also checks the "\r\n" after each
      // argument, which redis-server reads past.
      CHECK((!server_loads || check != 0));
      CHECK(r.err.find("flipped.aof") != std::string::npos);
      CHECK(r.err.find("offset") != std::string::npos);
      CHECK(dbsize_all(target) == 0);
      ++refused;
    } else if (r.err.find("precheck aof-commands") != std::string::npos) {
      // A command name changed into one no server knows: redis-server refuses to load it ("Unknown
      // command"), ferry's precheck names it; nothing was written.
      CHECK(r.exit_code == 1);
      CHECK_FALSE(server_loads);
      CHECK(dbsize_all(target) == 0);
      ++refused;
    } else {
      // Accepted: exit 2 when a length now runs past the end (a short tail, dropped as redis-server
      // drops it), 1 when an argument changed so that the command fails (redis-server ignores the
      // error, ferry counts it); what the target holds is what redis-server loads.
      CHECK(r.exit_code <= 2);
      if (check == 0 && r.exit_code == 2) FAIL("a tail dropped from a file redis-check-aof calls valid");
      REQUIRE(server_loads);
      require_same_as_redis(dir / "flipped.aof", target);
      ++accepted;
    }
  }
  CHECK(refused > 0);
  CHECK(accepted > 0);
}

TEST_CASE("multi-part rules: only the last file may end short; a missing file, two bases, a path as a name refuse",
          "[aof][corrupt]") {
  TempDir dir;
  RedisServer source(aof_writer());
  const std::string aofdir = small_aof(dir, source);
  const std::string base = fs::path(base_file(aofdir)).filename(), incr = fs::path(incr_file(aofdir)).filename();
  const std::string incr_bytes = read_file(incr_file(aofdir));
  auto layout = [&](const std::string& name, const std::string& manifest, const std::vector<std::pair<std::string, std::string>>& files) {
    fs::create_directories(dir / name);
    fs::copy_file(base_file(aofdir), dir / name + "/" + base);
    for (const auto& [f, bytes] : files) write_file(dir / name + "/" + f, bytes);
    write_file(dir / name + "/appendonly.aof.manifest", manifest);
    return dir / name;
  };
  const std::string two_incr = fmt::format("file {} seq 1 type b\nfile {} seq 1 type i\nfile second.incr.aof seq 2 type i\n", base, incr);
  struct Bad {
    std::string name, manifest;
    std::vector<std::pair<std::string, std::string>> files;
    std::string says;
  };
  std::vector<Bad> bad{
      {"short-not-last", two_incr, {{incr, incr_bytes.substr(0, incr_bytes.size() - 5)}, {"second.incr.aof", "*1\r\n$4\r\nPING\r\n"}},
       "not the last file"},
      {"missing", fmt::format("file {} seq 1 type b\nfile gone.aof seq 2 type i\n", base), {}, "gone.aof"},
      {"two-bases", fmt::format("file {} seq 1 type b\nfile {} seq 2 type b\n", base, base), {}, "second base"},
      {"a-path", fmt::format("file {} seq 1 type b\nfile ../x.aof seq 2 type i\n", base), {}, "is a path"},
      {"non-monotonic", fmt::format("file {} seq 1 type b\nfile {} seq 3 type i\nfile second.incr.aof seq 2 type i\n", base, incr),
       {{incr, incr_bytes}, {"second.incr.aof", "*1\r\n$4\r\nPING\r\n"}}, "seq 2"},
  };
  for (const auto& b : bad) {
    INFO(b.name);
    const std::string path = layout(b.name, b.manifest, b.files);
    CHECK_FALSE(redis_loads(path));
    RedisServer target;
    auto r = run_ferry({"migrate", "--mode", "aof", "--aof", path, "--target", target.uri()});
    CHECK(r.exit_code == 5);
    CHECK(r.err.find(b.says) != std::string::npos);
    CHECK(dbsize_all(target) == 0);
  }

  // The last file short, and a MULTI without EXEC at its end: dropped with a warning (exit 2
  // without --accept-warnings), the rest equal to what redis-server loads.
  const std::string unfinished = incr_bytes + "*1\r\n$5\r\nMULTI\r\n*3\r\n$3\r\nSET\r\n$6\r\nnot-in\r\n$1\r\nx\r\n";
  for (const auto& [name, last] : std::vector<std::pair<std::string, std::string>>{
           {"short-last", incr_bytes.substr(0, incr_bytes.size() - 7)}, {"multi-open", unfinished}}) {
    INFO(name);
    const std::string path = layout(name, fmt::format("file {} seq 1 type b\nfile {} seq 1 type i\n", base, incr), {{incr, last}});
    RedisServer target;
    auto r = run_ferry({"migrate", "--mode", "aof", "--aof", path, "--target", target.uri()});
    INFO(r.err);
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("dropped") != std::string::npos);
    require_same_as_redis(path, target);
    CHECK(test::connect(target)->checked({"EXISTS", "not-in"}).integer == 0);
  }
}

TEST_CASE("a point in time (--aof-until) is what redis-check-aof --truncate-to-timestamp gives", "[aof][until]") {
  TempDir dir;
  RedisServer source(aof_writer());
  auto conn = test::connect(source);
  std::vector<long long> seconds;
  for (int round = 0; round < 3; ++round) {
    // Each round in its own second: the annotation before its writes carries that second.
    const long long now = test::now_ms() / 1000;
    std::this_thread::sleep_for(std::chrono::milliseconds(1000 - test::now_ms() % 1000 + 20));
    seconds.push_back(now + 1);
    for (int i = 0; i < 20; ++i) conn->checked({"SET", fmt::format("r{}:{}", round, i), std::to_string(round)});
    conn->checked({"DEL", fmt::format("r{}:0", round > 0 ? round - 1 : 0)});
  }
  sim::pause_aof_appends(*conn);
  fs::copy(source.dir() + "/appendonlydir", dir / "appendonlydir", fs::copy_options::recursive);
  fs::copy(dir / "appendonlydir", dir / "truncated", fs::copy_options::recursive);
  const std::string manifest = file_in(dir / "truncated", ".manifest");
  const long long until = seconds[1];
  const int check = bp::system(bp::search_path("redis-check-aof"), "--truncate-to-timestamp", std::to_string(until), manifest,
                               bp::std_out > bp::null, bp::std_err > bp::null);
  REQUIRE(check == 0);

  RedisServer target;
  auto r = run_ferry({"migrate", "--mode", "aof", "--aof", dir / "appendonlydir", "--aof-until", std::to_string(until),
                      "--target", target.uri(), "--report", dir / "report.json"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  require_same_as_redis(dir / "truncated", target);
  auto t = test::connect(target);
  CHECK(t->checked({"EXISTS", "r1:5"}).integer == 1);
  CHECK(t->checked({"EXISTS", "r2:5"}).integer == 0);
  auto report = test::read_json(dir / "report.json");
  CHECK(report["aof"]["until_cut"]["timestamp"].get<long long>() > until);
  CHECK(report["aof"]["files"].back()["first_ts"].get<long long>() <= until);

  // Without #TS: annotations there is no point in time to find: a usage error, nothing written.
  write_file(dir / "plain.aof", "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n");
  RedisServer empty;
  auto none = run_ferry({"migrate", "--mode", "aof", "--aof", dir / "plain.aof", "--aof-until", "1700000000", "--target", empty.uri()});
  CHECK(none.exit_code == 3);
  CHECK(none.err.find("#TS:") != std::string::npos);
  CHECK(dbsize_all(empty) == 0);
}

TEST_CASE("ferry aof inspect describes files, formats, commands, DBs, timestamps and truncation", "[aof][inspect]") {
  TempDir dir;
  RedisServer source(aof_writer());
  const std::string aofdir = small_aof(dir, source);
  auto r = run_ferry({"aof", "inspect", aofdir, "--json"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  auto j = nlohmann::json::parse(r.out);
  REQUIRE(j["files"].size() == 2);
  CHECK(j["files"][0]["type"] == "base");
  CHECK(j["files"][0]["format"] == "rdb");
  CHECK(j["files"][0]["rdb"]["keys"] == 51);
  CHECK(j["files"][1]["type"] == "incr");
  CHECK(j["files"][1]["per_command"]["multi"] == 2);  // the transaction, and the script's effects
  CHECK(j["files"][1]["per_command"]["select"].get<int>() >= 2);
  CHECK(j["files"][1]["dbs"] == nlohmann::json({0, 2}));
  CHECK(j["truncated"] == false);

  auto text = run_ferry({"aof", "inspect", aofdir});
  CHECK(text.exit_code == 0);
  CHECK(text.out.find("base") != std::string::npos);
  CHECK(text.out.find("truncation        none") != std::string::npos);

  auto bad = run_ferry({"aof", "inspect", dir / "nothing-here"});
  CHECK(bad.exit_code == 5);
  CHECK(bad.err.find("nothing-here") != std::string::npos);
}

TEST_CASE("precheck for mode aof: whole files, the target's memory, the commands it lacks", "[aof][precheck]") {
  TempDir dir;
  RedisServer source(aof_writer());
  const std::string aofdir = small_aof(dir, source);
  RedisServer target;
  auto ok = run_ferry({"precheck", "--mode", "aof", "--aof", aofdir, "--target", target.uri(), "--json"});
  INFO(ok.out << ok.err);
  CHECK(ok.exit_code == 0);
  auto j = nlohmann::json::parse(ok.out);
  std::map<std::string, std::string> status;
  for (const auto& c : j["checks"]) status[c["name"]] = c["status"];
  CHECK(status["aof-files"] == "pass");
  CHECK(status["aof-commands"] == "pass");
  CHECK(status["target-memory"] == "pass");

  write_file(dir / "unknown.aof", "*2\r\n$10\r\nFERRY.NOPE\r\n$1\r\nk\r\n");
  auto lacks = run_ferry({"precheck", "--mode", "aof", "--aof", dir / "unknown.aof", "--target", target.uri()});
  CHECK(lacks.exit_code == 1);
  CHECK(lacks.out.find("ferry.nope") != std::string::npos);

  write_file(dir / "corrupt.aof", "*2\r\n$3\r\nGET\r\nXk\r\n");
  auto corrupt = run_ferry({"precheck", "--mode", "aof", "--aof", dir / "corrupt.aof", "--target", target.uri()});
  CHECK(corrupt.exit_code == 5);
}
