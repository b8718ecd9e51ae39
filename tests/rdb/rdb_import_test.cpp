// RDB import against real servers: the corpus of old encodings, files written by the installed
// redis-server with every encoding forced, functions, and what the target cannot hold.
#include "rdb/rdb_test_writer.h"
#include "sink/key_sink.h"
#include "rdb/rdb_parser.h"
#include "io/byte_source.h"
#include "support.h"
#include "workload/mixed_dataset.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <regex>
#include <thread>

using namespace ferry;
using ferry::sim::RedisServer;
using ferry::sim::RedisServerOptions;
using ferry::test::run_ferry;
namespace fs = std::filesystem;

namespace {

// Targets refuse a wrong RESTORE payload loudly.
RedisServerOptions strict_target() {
  RedisServerOptions o;
  o.config = {{"sanitize-dump-payload", "yes"}};
  return o;
}

// The corpus README's table: file -> expected DEBUG DIGEST.
std::map<std::string, std::string> corpus_digests() {
  std::map<std::string, std::string> out;
  std::ifstream in(std::string(FERRY_SHARED_DIR) + "/rdb-corpus/README.md");
  std::regex row(R"(\|\s*([\w.-]+\.rdb)\s*\|\s*\d+\s*\|\s*([0-9a-f]{40})\s*\|)");
  for (std::string line; std::getline(in, line);) {
    std::smatch m;
    if (std::regex_search(line, m, row)) out[m[1]] = m[2];
  }
  return out;
}

// Saves the server's dataset and returns the path of its RDB file.
std::string save_rdb(RedisServer& server) {
  test::connect(server)->checked({"SAVE"});
  return server.dir() + "/dump.rdb";
}


}  // namespace

TEST_CASE("corpus files of old encodings import to the digest redis-server itself gets", "[rdb][corpus]") {
  auto digests = corpus_digests();
  if (digests.empty()) {
    WARN("skipped: " << FERRY_SHARED_DIR << "/rdb-corpus is absent");
    return;
  }
  for (const char* mode : {"auto", "commands"}) {
    for (const auto& [file, digest] : digests) {
      INFO(file << " --write-mode " << mode);
      RedisServer target(strict_target());
      auto r = run_ferry({"migrate", "--mode", "rdb", "--rdb", std::string(FERRY_SHARED_DIR) + "/rdb-corpus/" + file,
                          "--target", target.uri(), "--write-mode", mode});
      CHECK(r.exit_code == 0);
      CHECK(test::connect(target)->checked({"DEBUG", "DIGEST"}).str == digest);
    }
  }
}

TEST_CASE("an RDB written by redis-server, every encoding forced, imports exactly", "[rdb][server]") {
  struct Variant {
    const char* name;
    std::vector<std::pair<std::string, std::string>> config;
  };
  std::vector<Variant> variants{
      {"compact encodings, LZF", {}},
      {"no compact encodings, no compression, no checksum",
       {{"hash-max-listpack-entries", "0"}, {"zset-max-listpack-entries", "0"}, {"set-max-intset-entries", "0"},
        {"list-max-listpack-size", "1"}, {"rdbcompression", "no"}, {"rdbchecksum", "no"}}},
      {"tiny listpack nodes", {{"list-max-listpack-size", "2"}, {"list-compress-depth", "1"}}},
  };
  for (const auto& variant : variants) {
    for (const char* mode : {"auto", "commands"}) {
      INFO(variant.name << ", --write-mode " << mode);
      RedisServerOptions source_options;
      source_options.config = variant.config;
      RedisServer source(source_options), target(strict_target());
      auto s = test::connect(source);
      sim::MixedDatasetOptions fill;
      fill.seed = 11;
      fill.keys_per_db = 600;
      sim::fill_mixed_dataset(*s, fill);
      s->checked({"FUNCTION", "LOAD", "#!lua name=mylib\nredis.register_function('myfunc', function() return 1 end)"});
      std::string report = target.dir() + "/report.json";
      auto r = run_ferry({"migrate", "--mode", "rdb", "--rdb", save_rdb(source), "--target", target.uri(), "--write-mode",
                          mode, "--report", report});
      REQUIRE(r.exit_code == 0);
      auto d = test::connect(target);
      test::require_identical(*s, *d);
      CHECK(d->checked({"FUNCTION", "LIST"}).elements.size() == 1);
      CHECK(test::read_json(report)["functions_loaded"] == 1);
    }
  }
}

TEST_CASE("big values stream through the native writer from an RDB file", "[rdb][bigkey]") {
  RedisServer source, target(strict_target());
  auto s = test::connect(source);
  {
    Pipeline pipe(*s);
    for (int i = 0; i < 1100; ++i) {
      Args push{"RPUSH", "big:list"};
      for (int j = 0; j < 1000; ++j) push.push_back(std::to_string(i * 1000 + j));
      pipe.send(push);
    }
    for (int i = 0; i < 30; ++i) pipe.send({"APPEND", "big:string", std::string(1 << 20, static_cast<char>('A' + i))});
    for (int i = 0; i < 1000; ++i) {  // 100,000 fields: past the 4 MB threshold
      Args h{"HSET", "big:hash"};
      for (int j = 0; j < 100; ++j) h.insert(h.end(), {"f" + std::to_string(i * 100 + j), std::string(50, 'v')});
      pipe.send(h);
    }
    pipe.send({"SET", "small", "s"});
  }
  std::string report = target.dir() + "/report.json";
  auto r = run_ferry({"migrate", "--mode", "rdb", "--rdb", save_rdb(source), "--target", target.uri(), "--report", report});
  REQUIRE(r.exit_code == 0);
  auto j = test::read_json(report);
  CHECK(j["copied"] == 4);
  CHECK(j["copied_chunked"] == 3);
  test::require_identical(*s, *test::connect(target));
}

TEST_CASE("rdb inspect describes a server-written file", "[rdb][inspect]") {
  RedisServer source;
  auto s = test::connect(source);
  for (int i = 0; i < 30; ++i) s->checked({"SET", "s" + std::to_string(i), "v"});
  s->checked({"PEXPIRE", "s1", "100000000"});
  s->checked({"RPUSH", "list", "a", "b", "c"});
  s->checked({"SELECT", "3"});
  s->checked({"HSET", "h", "f", "v"});
  s->checked({"XADD", "stream", "1-1", "f", "v"});
  s->checked({"FUNCTION", "LOAD", "#!lua name=libx\nredis.register_function('fx', function() return 1 end)"});
  auto r = run_ferry({"rdb", "inspect", save_rdb(source), "--json"});
  REQUIRE(r.exit_code == 0);
  auto j = nlohmann::json::parse(r.out);
  CHECK(j["rdb_version"] == 10);
  CHECK(j["checksum_verified"] == true);
  CHECK(j["keys"] == 33);
  CHECK(j["dbs"]["0"]["keys"] == 31);
  CHECK(j["dbs"]["0"]["expiring"] == 1);
  CHECK(j["dbs"]["0"]["types"]["string"] == 30);
  CHECK(j["dbs"]["3"]["types"]["stream"] == 1);
  CHECK(j["functions"] == nlohmann::json::array({"libx"}));
  CHECK(j["aux"]["redis-ver"] == s->version_string());
  CHECK(j["biggest_by_elements"][0]["key"] == "list");
  auto text = run_ferry({"rdb", "inspect", save_rdb(source)});
  CHECK(text.exit_code == 0);
  CHECK(text.out.find("DB 3: 2 keys") != std::string::npos);
}

TEST_CASE("import options: db filter, conflicts, ttl-extend, expired keys", "[rdb][options]") {
  RedisServer source;
  auto s = test::connect(source);
  long long at = test::now_ms() + 5000000;
  s->checked({"SET", "keep", "v", "PXAT", std::to_string(at)});
  s->checked({"SET", "soon", "v", "PX", "1500"});
  s->checked({"SELECT", "2"});
  s->checked({"SET", "other-db", "v"});
  std::string file = save_rdb(source);
  std::this_thread::sleep_for(std::chrono::milliseconds(1600));  // "soon" is past its expiry in the file now

  SECTION("expired keys are skipped, --db filters, --ttl-extend shifts") {
    RedisServer target(strict_target());
    std::string report = target.dir() + "/r.json";
    auto r = run_ferry({"migrate", "--mode", "rdb", "--rdb", file, "--target", target.uri(), "--db", "0",
                        "--ttl-extend", "60", "--report", report});
    REQUIRE(r.exit_code == 0);
    auto d = test::connect(target);
    CHECK(d->checked({"PEXPIRETIME", "keep"}).integer == at + 60000);
    CHECK(d->checked({"EXISTS", "soon"}).integer == 0);
    CHECK(d->checked({"DBSIZE"}).integer == 1);
    d->select(2);
    CHECK(d->checked({"DBSIZE"}).integer == 0);
    CHECK(test::read_json(report)["skipped_expired"] == 1);
  }
  SECTION("block stops before writing; replace overwrites") {
    RedisServer target(strict_target());
    auto d = test::connect(target);
    d->checked({"SET", "keep", "old"});
    auto blocked = run_ferry({"migrate", "--mode", "rdb", "--rdb", file, "--target", target.uri()});
    CHECK(blocked.exit_code == 1);
    CHECK(blocked.err.find("'keep'") != std::string::npos);
    CHECK(d->checked({"DBSIZE"}).integer == 1);
    auto replaced = run_ferry({"migrate", "--mode", "rdb", "--rdb", file, "--target", target.uri(), "--on-conflict", "replace", "--accept-warnings"});
    CHECK(replaced.exit_code == 0);
    CHECK(d->checked({"GET", "keep"}).str == "v");
  }
}

// Plain strings travel in MSETNX batches: a batch refused because one key exists (a key written on
// the target while the import runs) is written again key by key, so each conflict is counted and
// the other keys still arrive. The key sink is driven directly: the CLI refuses a non-empty target
// in block mode before anything is written.
TEST_CASE("a key that appears on the target during an import is a counted conflict and the rest arrive", "[rdb][options]") {
  RedisServer source;
  auto s = test::connect(source);
  for (int i = 0; i < 250; ++i) s->checked({"SET", "plain:" + std::to_string(i), "v" + std::to_string(i)});
  s->checked({"SET", "expiring", "v", "PXAT", std::to_string(test::now_ms() + 5000000)});
  std::string file = save_rdb(source);
  RedisServer target(strict_target());
  auto d = test::connect(target);
  d->checked({"SET", "plain:42", "mine"});
  d->checked({"SET", "plain:207", "mine too"});
  d->checked({"SET", "expiring", "mine"});
  MigrationReport report;
  {
    io::FileSource in(file);
    StandaloneTarget sink_target(test::connect(target), PipelineLimits{});
    KeySink sink(sink_target, KeySinkOptions{}, report);
    rdb::RdbParser parser(in, sink);
    parser.parse();
    sink.finish();
  }
  CHECK(report.skipped_conflict == 3);
  CHECK(report.copied == 248);
  CHECK(d->checked({"GET", "plain:42"}).str == "mine");
  CHECK(d->checked({"GET", "plain:207"}).str == "mine too");
  CHECK(d->checked({"GET", "expiring"}).str == "mine");
  CHECK(d->checked({"GET", "plain:41"}).str == "v41");
  CHECK(d->checked({"DBSIZE"}).integer == 251);
}

TEST_CASE("unreadable and corrupt files exit 5 naming the file and offset", "[rdb][corrupt]") {
  RedisServer target;
  auto missing = run_ferry({"migrate", "--mode", "rdb", "--rdb", "/nonexistent/dump.rdb", "--target", target.uri()});
  CHECK(missing.exit_code == 5);
  CHECK(missing.err.find("/nonexistent/dump.rdb") != std::string::npos);
  auto inspect_missing = run_ferry({"rdb", "inspect", "/nonexistent/dump.rdb"});
  CHECK(inspect_missing.exit_code == 5);

  std::string path = target.dir() + "/bad.rdb";
  std::ofstream(path) << "REDIS0010\xfa\x09redis-ver";  // cut inside an aux field
  auto truncated = run_ferry({"rdb", "inspect", path});
  CHECK(truncated.exit_code == 5);
  CHECK(truncated.err.find("truncated RDB") != std::string::npos);
  CHECK(truncated.err.find("offset") != std::string::npos);

  std::ofstream(path) << "NOTANRDBFILE";
  auto garbage = run_ferry({"migrate", "--mode", "rdb", "--rdb", path, "--target", target.uri()});
  CHECK(garbage.exit_code == 5);
  CHECK(garbage.err.find("not an RDB file") != std::string::npos);
}

TEST_CASE("functions: an existing library is a conflict unless replace, and old RDB lua scripts are loaded", "[rdb][functions]") {
  RedisServer source;
  auto s = test::connect(source);
  s->checked({"SET", "k", "v"});
  s->checked({"FUNCTION", "LOAD", "#!lua name=lib\nredis.register_function('f', function() return 'new' end)"});
  std::string file = save_rdb(source);

  RedisServer target(strict_target());
  auto d = test::connect(target);
  d->checked({"FUNCTION", "LOAD", "#!lua name=lib\nredis.register_function('f', function() return 'old' end)"});
  auto blocked = run_ferry({"migrate", "--mode", "rdb", "--rdb", file, "--target", target.uri()});
  CHECK(blocked.exit_code == 1);
  CHECK(blocked.out.find("function library") != std::string::npos);
  CHECK(d->checked({"FCALL", "f", "0"}).str == "old");
  auto replaced = run_ferry({"migrate", "--mode", "rdb", "--rdb", file, "--target", target.uri(), "--on-conflict", "replace", "--accept-warnings"});
  CHECK(replaced.exit_code == 0);
  CHECK(d->checked({"FCALL", "f", "0"}).str == "new");

  // RDBs of Redis < 7 carry cached scripts as "lua" aux fields.
  test::RdbTestWriter w(9);
  w.aux("lua", "return 'from the rdb'").string_raw("x", "1");
  std::string old_file = target.dir() + "/old.rdb";
  w.end();
  w.write_file(old_file);
  RedisServer target2(strict_target());
  std::string report = target2.dir() + "/r.json";
  REQUIRE(run_ferry({"migrate", "--mode", "rdb", "--rdb", old_file, "--target", target2.uri(), "--report", report}).exit_code == 0);
  CHECK(test::read_json(report)["scripts_loaded"] == 1);
  auto d2 = test::connect(target2);
  std::string sha = d2->checked({"SCRIPT", "LOAD", "return 'from the rdb'"}).str;
  d2->checked({"SCRIPT", "FLUSH"});  // prove the import loaded it: reimport into a flushed cache
  d2->checked({"FLUSHALL"});
  REQUIRE(run_ferry({"migrate", "--mode", "rdb", "--rdb", old_file, "--target", target2.uri()}).exit_code == 0);
  CHECK(d2->checked({"EVALSHA", sha, "0"}).str == "from the rdb");
}

TEST_CASE("a Valkey 9 header (VALKEY080) is read, an unknown version is refused", "[rdb][versions]") {
  test::RdbTestWriter w(11);
  w.aux("valkey-ver", "9.0.0").string_raw("k", "v");
  std::string bytes = w.end(false);  // no checksum: the header is rewritten below
  RedisServer target(strict_target());
  std::string path = target.dir() + "/valkey9.rdb";
  std::ofstream(path, std::ios::binary) << "VALKEY080" << bytes.substr(9);
  auto r = run_ferry({"migrate", "--mode", "rdb", "--rdb", path, "--target", target.uri()});
  CHECK(r.exit_code == 0);
  CHECK(test::connect(target)->checked({"GET", "k"}).str == "v");
  CHECK(nlohmann::json::parse(run_ferry({"rdb", "inspect", path, "--json"}).out)["rdb_version"] == 80);

  std::ofstream(path, std::ios::binary) << "REDIS0042" << bytes.substr(9);
  auto refused = run_ferry({"rdb", "inspect", path});
  CHECK(refused.exit_code == 5);
  CHECK(refused.err.find("RDB version 42") != std::string::npos);
}

// A stream whose pending entries outweigh its entries: the key sink sizes every decoded piece before
// handing it on, so it goes through the chunked writer past --big-key-threshold, and arrives with
// every pending entry, owner and delivery count (compared with what redis-server loads itself).
TEST_CASE("a stream with a big PEL passes the big-key threshold and keeps every pending entry", "[rdb][stream]") {
  RedisServer source;
  auto s = test::connect(source);
  Pipeline pipe(*s);
  for (int i = 0; i < 3000; ++i) pipe.send({"XADD", "events", "*", "n", std::to_string(i)});
  pipe.send({"XGROUP", "CREATE", "events", "workers", "0"});
  pipe.drain();
  s->checked({"XREADGROUP", "GROUP", "workers", "alice", "COUNT", "2000", "STREAMS", "events", ">"});
  s->checked({"XREADGROUP", "GROUP", "workers", "bob", "COUNT", "1000", "STREAMS", "events", ">"});
  std::string file = save_rdb(source);
  RedisServer target(strict_target());
  std::string report = target.dir() + "/r.json";
  auto r = run_ferry({"migrate", "--mode", "rdb", "--rdb", file, "--target", target.uri(), "--big-key-threshold", "16K",
                      "--report", report});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(test::read_json(report)["copied_chunked"] == 1);
  RedisServerOptions loads;
  loads.rdb_file = file;
  RedisServer reference(loads);
  auto d = test::connect(target), ref = test::connect(reference);
  auto pel = [](Connection& c) { return c.checked({"XPENDING", "events", "workers", "-", "+", "5000"}); };
  Reply got = pel(*d), want = pel(*ref);
  REQUIRE(got.elements.size() == 3000);
  REQUIRE(got.elements.size() == want.elements.size());
  for (size_t i = 0; i < got.elements.size(); ++i) {
    CHECK(got.elements[i].elements[0].str == want.elements[i].elements[0].str);          // id
    CHECK(got.elements[i].elements[1].str == want.elements[i].elements[1].str);          // owner
    CHECK(got.elements[i].elements[3].integer == want.elements[i].elements[3].integer);  // deliveries
  }
  test::require_identical(*ref, *d);
}
