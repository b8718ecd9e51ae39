// --include / --exclude and --db-map in every mode (scan, snapshot, sync, rdb), against real servers:
// the target holds exactly the selected keys, in the mapped DBs, with their values and absolute
// expiries; what was left out is counted. And the stream's rule for commands mixing selected and
// excluded keys, command by command.
#include "support.h"

#include <nlohmann/json.hpp>

#include <set>
#include <thread>

using namespace ferry;
using ferry::sim::RedisServer;
using ferry::test::run_ferry;

namespace {

// The selection the tests ask for: --include 'user:*' --exclude 're:^user:tmp:'.
bool selected(const std::string& key) { return key.rfind("user:", 0) == 0 && key.rfind("user:tmp:", 0) != 0; }
const std::vector<std::string> kFilterArgs{"--db", "0,1", "--db-map", "0:2,1:3", "--include", "user:*",
                                           "--exclude", "re:^user:tmp:"};

// DB 0 and DB 1, 40 keys each of every kind, a third of them expiring: "user:N", "user:tmp:N",
// "other:N". Returns how many keys are not selected.
long long fill(Connection& s) {
  long long left_out = 0;
  for (int db : {0, 1}) {
    s.select(db);
    for (int i = 0; i < 40; ++i) {
      for (const std::string prefix : {"user:", "user:tmp:", "other:"}) {
        std::string key = prefix + std::to_string(i);
        switch (i % 4) {
          case 0: s.checked({"SET", key, "v" + std::to_string(i * db)}); break;
          case 1: s.checked({"HSET", key, "f", "1", "g", key}); break;
          case 2: s.checked({"RPUSH", key, "a", "b", key}); break;
          default: s.checked({"ZADD", key, "1.5", "m", "2", key}); break;
        }
        if (i % 3 == 0) s.checked({"PEXPIRE", key, std::to_string(3600000 + i)});
        if (!selected(key)) ++left_out;
      }
    }
  }
  s.select(0);
  return left_out;
}

// Key by key: every selected key of source DB `from` is in target DB `to` with the same value
// digest and absolute expiry, and the target DB holds nothing else.
void require_selected_copy(Connection& s, Connection& d, int from, int to) {
  s.select(from);
  d.select(to);
  long long expected = 0;
  std::string cursor = "0";
  do {
    Reply r = s.checked({"SCAN", cursor, "COUNT", "500"});
    cursor = r.elements[0].str;
    for (const auto& k : r.elements[1].elements) {
      if (!selected(k.str)) continue;
      ++expected;
      INFO("DB " << from << " -> " << to << " key " << k.str);
      CHECK(d.checked({"DEBUG", "DIGEST-VALUE", k.str}).elements[0].str ==
            s.checked({"DEBUG", "DIGEST-VALUE", k.str}).elements[0].str);
      CHECK(d.checked({"PEXPIRETIME", k.str}).integer == s.checked({"PEXPIRETIME", k.str}).integer);
    }
  } while (cursor != "0");
  CHECK(expected == 40);  // user:0 .. user:39
  CHECK(d.checked({"DBSIZE"}).integer == expected);
  s.select(0);
  d.select(0);
}

void require_only_mapped(Connection& d) {
  for (int db : {0, 1}) {
    d.select(db);
    CHECK(d.checked({"DBSIZE"}).integer == 0);
  }
  d.select(0);
}

}  // namespace

TEST_CASE("filters and db-map copy exactly the selected keys in scan, snapshot and rdb modes", "[filter]") {
  RedisServer src, dst;
  auto s = test::connect(src), d = test::connect(dst);
  long long left_out = fill(*s);
  std::string report = dst.dir() + "/report.json";
  std::vector<std::string> args;
  SECTION("scan") {
    args = {"migrate", "--mode", "scan", "--source", src.uri(), "--target", dst.uri()};
  }
  SECTION("snapshot") {
    args = {"migrate", "--mode", "snapshot", "--source", src.uri(), "--target", dst.uri()};
  }
  SECTION("rdb") {
    s->checked({"SAVE"});
    args = {"migrate", "--mode", "rdb", "--rdb", src.dir() + "/dump.rdb", "--target", dst.uri()};
  }
  args.insert(args.end(), kFilterArgs.begin(), kFilterArgs.end());
  args.insert(args.end(), {"--report", report});
  auto r = run_ferry(args);
  REQUIRE(r.exit_code == 0);
  require_selected_copy(*s, *d, 0, 2);
  require_selected_copy(*s, *d, 1, 3);
  require_only_mapped(*d);
  auto j = test::read_json(report);
  CHECK(j["filtered"] == left_out);
  CHECK(j["copied"] == 80);
  CHECK(j["db_map"] == "0:2,1:3");
  CHECK(j["key_filter"] == "include 'user:*', exclude 're:^user:tmp:'");
  CHECK(r.out.find("filtered          160 keys left out") != std::string::npos);
}

TEST_CASE("sync: the stream is filtered and mapped like the snapshot", "[filter][repl]") {
  RedisServer src, dst;
  auto s = test::connect(src), d = test::connect(dst);
  fill(*s);
  std::vector<std::string> args{"migrate", "--mode", "sync", "--source", src.uri(), "--target", dst.uri(), "--no-heartbeat"};
  args.insert(args.end(), kFilterArgs.begin(), kFilterArgs.end());
  test::BackgroundFerry ferry(args);
  test::wait_for_replica(*s, 30);
  // Writes after the snapshot, in both DBs, selected and not.
  for (int db : {0, 1}) {
    s->select(db);
    for (int i = 0; i < 40; ++i) {
      s->checked({"SET", "user:" + std::to_string(i), "changed" + std::to_string(db)});
      s->checked({"SET", "other:new" + std::to_string(i), "x"});
      s->checked({"SET", "user:tmp:new" + std::to_string(i), "2"});
    }
    s->checked({"SET", "user:done", "1"});
  }
  d->select(3);
  for (int i = 0; i < 200 && d->checked({"EXISTS", "user:done"}).integer == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  auto stopped = ferry.stop();
  CHECK(stopped.exit_code == 0);
  // 40 user:N and user:done in each DB.
  for (auto [from, to] : {std::pair{0, 2}, std::pair{1, 3}}) {
    s->select(from);
    d->select(to);
    CHECK(d->checked({"DBSIZE"}).integer == 41);
    for (int i = 0; i < 40; ++i) {
      std::string key = "user:" + std::to_string(i);
      CHECK(d->checked({"GET", key}).str == "changed" + std::to_string(from));
      CHECK(d->checked({"PEXPIRETIME", key}).integer == s->checked({"PEXPIRETIME", key}).integer);
    }
  }
  d->select(0);
  require_only_mapped(*d);
}

TEST_CASE("sync: commands mixing selected and excluded keys follow the documented rule", "[filter][repl]") {
  RedisServer src, dst;
  auto s = test::connect(src), d = test::connect(dst);
  std::string report = dst.dir() + "/report.json";
  test::BackgroundFerry ferry({"migrate", "--mode", "sync", "--source", src.uri(), "--target", dst.uri(), "--db", "0",
                               "--db-map", "0:2", "--include", "a:*", "--no-heartbeat", "--report", report});
  test::wait_for_replica(*s, 30);
  s->checked({"MSET", "a:1", "v1", "b:1", "w1"});                          // reduced: a:1 only
  s->checked({"SET", "a:2", "x"});
  s->checked({"SET", "b:2", "y"});                                          // filtered
  s->checked({"DEL", "a:2", "b:2"});                                        // reduced: DEL a:2
  s->checked({"SET", "a:3", "v"});
  s->checked({"RENAME", "a:3", "b:3"});                                     // reduced: DEL a:3
  s->checked({"SET", "b:4", "v"});                                          // filtered
  s->checked({"RENAME", "b:4", "a:4"});                                     // unapplied: a:4 diverges
  s->checked({"SADD", "a:s", "m1", "m2"});
  s->checked({"SMOVE", "a:s", "b:s", "m1"});                                // reduced: SREM a:s m1
  s->checked({"RPUSH", "a:l", "1", "2", "3"});
  s->checked({"LMOVE", "a:l", "b:l", "LEFT", "RIGHT"});                     // reduced: LPOP a:l
  s->checked({"SADD", "b:src", "x"});                                       // filtered
  s->checked({"SUNIONSTORE", "a:u", "b:src"});                              // unapplied: a:u diverges
  s->checked({"SUNIONSTORE", "b:dst", "a:s"});                              // filtered: writes b:dst only
  s->checked({"MULTI"});
  s->checked({"SET", "a:m", "1"});
  s->checked({"SET", "b:m", "2"});                                          // filtered inside the transaction
  s->checked({"INCR", "a:m"});
  s->checked({"EXEC"});
  s->checked({"SET", "a:done", "1"});
  d->select(2);
  for (int i = 0; i < 200 && d->checked({"EXISTS", "a:done"}).integer == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  CHECK(ferry.stop().exit_code == 1);  // two commands could not be mirrored: a divergence, reported

  CHECK(d->checked({"GET", "a:1"}).str == "v1");
  CHECK(d->checked({"EXISTS", "a:2"}).integer == 0);
  CHECK(d->checked({"EXISTS", "a:3"}).integer == 0);
  CHECK(d->checked({"EXISTS", "a:4"}).integer == 0);  // the documented divergence
  CHECK(d->checked({"SMEMBERS", "a:s"}).elements.size() == 1);
  CHECK(d->checked({"SISMEMBER", "a:s", "m2"}).integer == 1);
  auto list = d->checked({"LRANGE", "a:l", "0", "-1"});
  REQUIRE(list.elements.size() == 2);
  CHECK(list.elements[0].str == "2");
  CHECK(d->checked({"EXISTS", "a:u"}).integer == 0);  // the documented divergence
  CHECK(d->checked({"GET", "a:m"}).str == "2");
  CHECK(d->checked({"DBSIZE"}).integer == 5);  // a:1 a:s a:l a:m a:done
  for (int db : {0, 1}) {
    d->select(db);
    CHECK(d->checked({"DBSIZE"}).integer == 0);
  }
  auto j = test::read_json(report);
  CHECK(j["stream"]["reduced"] == 5);
  CHECK(j["stream"]["unapplied"] == 2);
  CHECK(j["stream"]["filtered"] == 5);
  std::string notes = j["stream"]["notes"].dump();
  CHECK(notes.find("RENAME b:4 a:4") != std::string::npos);
  CHECK(notes.find("SUNIONSTORE a:u b:src") != std::string::npos);
}

TEST_CASE("bad filters and maps are usage errors before anything connects", "[filter]") {
  auto r = run_ferry({"migrate", "--source", "redis://127.0.0.1:1", "--target", "redis://127.0.0.1:2", "--include", "re:(x"});
  CHECK(r.exit_code == 3);
  CHECK(r.err.find("bad regular expression") != std::string::npos);
  r = run_ferry({"migrate", "--source", "redis://127.0.0.1:1", "--target", "redis://127.0.0.1:2", "--db-map", "0:1"});
  CHECK(r.exit_code == 3);  // DB 0 and DB 1 would both land in DB 1
  CHECK(r.err.find("both into target DB 1") != std::string::npos);
  r = run_ferry({"migrate", "--source", "redis://127.0.0.1:1", "--target", "redis://127.0.0.1:2", "--db-map", "0-1"});
  CHECK(r.exit_code == 3);
  CHECK(r.err.find("'0-1' is not SOURCE:TARGET") != std::string::npos);
}
