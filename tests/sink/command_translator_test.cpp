// The command translator without a server: what a stream command becomes for a target of given
// capabilities, with a fixed clock. (The in-process applier property and the sync tests check the
// same rules against the writer and real servers.)
#include "sink/command_translator.h"
#include "target/cluster_slots.h"

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <utility>
#include <vector>

using namespace ferry;

namespace {

using Command = std::vector<std::string>;

TargetFacts facts_of(int version, bool cluster = false) {
  TargetFacts f;
  f.version = version;
  f.version_string = std::to_string(version);
  f.cluster = cluster;
  return f;
}

struct Translated {
  std::vector<std::pair<int, Command>> out;
  StreamStats stats;
};

// Runs the commands through one translator (state carries over, as in a stream).
Translated translate(std::vector<Command> commands, StreamOptions options = {}, int target_version = 70015,
                     bool cluster = false) {
  Translated t;
  CommandTranslator tr(options, facts_of(target_version, cluster), t.stats, [] { return 1'000'000LL; });
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

TEST_CASE("a cluster target: per-key commands split per slot, others across slots stop naming the keys", "[sink][translator][cluster]") {
  // "a" is in slot 15495, "b" in 3300; "{a}x" shares "a"'s slot.
  REQUIRE(key_slot("a") != key_slot("b"));
  REQUIRE(key_slot("{a}x") == key_slot("a"));
  auto t = translate({{"DEL", "a", "b", "{a}x"}, {"MSET", "a", "1", "b", "2"}, {"MSETNX", "a", "1", "b", "2"},
                      {"DEL", "a", "{a}x"}, {"SET", "a", "v"}},
                     {}, 70015, true);
  REQUIRE(t.out.size() == 8);
  CHECK(t.out[0].second == Command{"DEL", "a", "{a}x"});  // slots in the order they first appear
  CHECK(t.out[1].second == Command{"DEL", "b"});
  CHECK(t.out[2].second == Command{"MSET", "a", "1"});
  CHECK(t.out[3].second == Command{"MSET", "b", "2"});
  CHECK(t.out[4].second == Command{"MSETNX", "a", "1"});
  CHECK(t.out[5].second == Command{"MSETNX", "b", "2"});
  CHECK(t.out[6].second == Command{"DEL", "a", "{a}x"});  // one slot: as it is
  CHECK(t.out[7].second == Command{"SET", "a", "v"});
  CHECK(t.stats.split == 3);
  REQUIRE(t.stats.notes.size() == 1);
  CHECK(t.stats.notes[0].find("MSETNX") != std::string::npos);
  CHECK(t.stats.notes[0].find("not atomic") != std::string::npos);

  try {
    translate({{"RENAME", "a", "b"}}, {}, 70015, true);
    FAIL("a RENAME across slots was translated");
  } catch (const FerryError& e) {
    std::string m = e.what();
    CHECK(m.find("RENAME a b") != std::string::npos);
    CHECK(m.find(fmt::format("slot {}", key_slot("b"))) != std::string::npos);
  }
  CHECK_THROWS_WITH(translate({{"EVAL", "return 1", "2", "a", "b"}}, {}, 70015, true),
                    Catch::Contains("a script runs on one node"));
  // Within one slot they pass.
  CHECK(translate({{"RENAME", "{u}a", "{u}b"}}, {}, 70015, true).out.size() == 1);
  // One DB: SWAPDB and MOVE into the migrated DB stop; MOVE out of it is a DEL there.
  StreamOptions db0;
  db0.dbs = {0};
  CHECK_THROWS_WITH(translate({{"SWAPDB", "0", "1"}}, db0, 70015, true), Catch::Contains("DB 0 only"));
  CHECK_THROWS_WITH(translate({{"SELECT", "3"}, {"MOVE", "k", "0"}}, db0, 70015, true), Catch::Contains("DB 0 only"));
  auto moved_out = translate({{"MOVE", "k", "3"}}, db0, 70015, true);
  REQUIRE(moved_out.out.size() == 1);
  CHECK(moved_out.out[0].second == Command{"DEL", "k"});
}

TEST_CASE("hash slots as Redis computes them", "[cluster]") {
  CHECK(crc16("123456789") == 0x31C3);  // the CRC16-CCITT check value (Redis' crc16.c)
  CHECK(key_slot("foo") == 12182);
  CHECK(key_slot("{user1000}.following") == key_slot("{user1000}.followers"));
  CHECK(key_slot("foo{}{bar}") == key_slot("foo{}{bar}"));
  CHECK(hash_tag("foo{}{bar}") == "foo{}{bar}");  // an empty tag: the whole key
  CHECK(hash_tag("foo{{bar}}zap") == "{bar");
  CHECK(hash_tag("foo{bar}{zap}") == "bar");
  for (int slot : {0, 1, 5460, 5461, 12182, 16383}) CHECK(key_slot("{" + tag_for_slot(slot) + "}tmp") == slot);
  for (int slot = 0; slot < kClusterSlots; ++slot)
    if (key_slot(tag_for_slot(slot)) != slot) FAIL("tag_for_slot(" << slot << ") hashes elsewhere");
}
