// The command translator without a server: what a stream command becomes for a target of given
// capabilities, with a fixed clock. (The in-process applier property and the sync tests check the
// same rules against the writer and real servers.)
#include "sink/command_translator.h"

#include <catch2/catch.hpp>

#include <utility>
#include <vector>

using namespace ferry;

namespace {

using Command = std::vector<std::string>;

TargetFacts facts_of(int version) {
  TargetFacts f;
  f.version = version;
  f.version_string = std::to_string(version);
  return f;
}

struct Translated {
  std::vector<std::pair<int, Command>> out;
  StreamStats stats;
};

// Runs the commands through one translator (state carries over, as in a stream).
Translated translate(std::vector<Command> commands, StreamOptions options = {}, int target_version = 70015) {
  Translated t;
  CommandTranslator tr(options, facts_of(target_version), t.stats, [] { return 1'000'000LL; });
  for (auto& c : commands) tr.translate(c, [&](int db, Command cmd) { t.out.emplace_back(db, std::move(cmd)); });
  return t;
}

}  // namespace

TEST_CASE("relative expiries from an old source become absolute, --ttl-extend added", "[sink][translator]") {
  StreamOptions o;
  o.relative_expiries = true;
  o.ttl_extend_ms = 500;
  auto t = translate({{"SETEX", "k", "10", "v"}, {"EXPIRE", "k", "2"}, {"SET", "s", "v", "PX", "100"}}, o);
  REQUIRE(t.out.size() == 3);
  CHECK(t.out[0].second == Command{"SET", "k", "v", "PXAT", "1010500"});
  CHECK(t.out[1].second == Command{"PEXPIREAT", "k", "1002500"});
  CHECK(t.out[2].second == Command{"SET", "s", "v", "PXAT", "1000600"});
}

TEST_CASE("a target before 6.2 gets PX instead of PXAT and LMOVE rewritten", "[sink][translator]") {
  auto t = translate({{"SET", "k", "v", "PXAT", "1005000"},
                      {"LMOVE", "a", "b", "RIGHT", "LEFT"},
                      {"LMOVE", "a", "b", "LEFT", "RIGHT"}},
                     {}, 60016);
  REQUIRE(t.out.size() == 3);
  CHECK(t.out[0].second == Command{"SET", "k", "v", "PX", "5000"});
  CHECK(t.out[1].second == Command{"RPOPLPUSH", "a", "b"});
  CHECK(t.out[2].second[0] == "EVAL");  // LPOP + RPUSH in one script
  CHECK(t.out[2].second.back() == "RPUSH");
}

TEST_CASE("DB selection and mapping: SELECT tracked, FLUSHALL narrowed to the selected DBs", "[sink][translator]") {
  StreamOptions o;
  o.dbs = {0, 2};
  o.db_map = DbMap::parse("2:7");
  auto t = translate({{"SET", "a", "1"}, {"SELECT", "1"}, {"SET", "b", "1"}, {"SELECT", "2"}, {"SET", "c", "1"}, {"FLUSHALL"}}, o);
  REQUIRE(t.out.size() == 4);
  CHECK(t.out[0] == std::pair<int, Command>{0, {"SET", "a", "1"}});
  CHECK(t.out[1] == std::pair<int, Command>{7, {"SET", "c", "1"}});  // DB 1 is not selected: b is skipped
  CHECK(t.out[2] == std::pair<int, Command>{0, {"FLUSHDB"}});
  CHECK(t.out[3] == std::pair<int, Command>{7, {"FLUSHDB"}});
  CHECK(t.stats.skipped == 1);
}

TEST_CASE("filters: a multi-key command keeps its selected keys; a mix it cannot split is unapplied", "[sink][translator]") {
  StreamOptions o;
  o.filter = KeyFilter({"user:*"}, {});
  auto t = translate({{"DEL", "user:1", "tmp:1", "user:2"},
                      {"MSET", "tmp:a", "1", "user:a", "2"},
                      {"SET", "tmp:x", "1"},
                      {"SUNIONSTORE", "user:u", "tmp:s1", "user:s2"}},
                     o);
  REQUIRE(t.out.size() == 2);
  CHECK(t.out[0].second == Command{"DEL", "user:1", "user:2"});
  CHECK(t.out[1].second == Command{"MSET", "user:a", "2"});
  CHECK(t.stats.reduced == 2);
  CHECK(t.stats.filtered == 1);
  CHECK(t.stats.unapplied == 1);
  CHECK(t.stats.notes.size() == 1);
}

TEST_CASE("ferry's heartbeat is noted with its source time and never sent; PING is skipped", "[sink][translator]") {
  Translated t;
  CommandTranslator tr({}, facts_of(70015), t.stats, [] { return 0LL; });
  Command hb{"SET", "ferry:heartbeat:t1", "1234567", "PX", "5000"}, ping{"PING"};
  auto emit = [&](int db, Command c) { t.out.emplace_back(db, std::move(c)); };
  tr.translate(hb, emit);
  tr.translate(ping, emit);
  CHECK(t.out.empty());
  CHECK(tr.take_heartbeat() == 1234567);
  CHECK(!tr.take_heartbeat());  // taken once
  CHECK(t.stats.skipped == 2);
}

TEST_CASE("block-flush turns a flush into a stop naming it", "[sink][translator]") {
  StreamOptions o;
  o.block_flush = true;
  CHECK_THROWS_WITH(translate({{"FLUSHDB"}}, o), Catch::Contains("FLUSHDB"));
}
