// Key patterns, DB maps and the key positions of stream commands. The glob is checked against a
// real server's SCAN MATCH on random patterns and keys, so `--include` means what Redis means.
#include "redis/command_keys.h"
#include "support.h"
#include "task/key_selection.h"

#include <random>
#include <set>

using namespace ferry;

TEST_CASE("glob: Redis's rules for *, ?, classes and escapes", "[filter]") {
  struct Case {
    const char* pattern;
    std::string key;
    bool match;
  };
  const std::vector<Case> cases{
      {"*", "", true},          {"user:*", "user:1", true},     {"user:*", "users:1", false},
      {"u?er", "user", true},   {"u?er", "uer", false},         {"a*b*c", "axxbyyc", true},
      {"a*b*c", "axxbyy", false}, {"*x", "aaax", true},         {"[abc]x", "bx", true},
      {"[^abc]x", "bx", false}, {"[^abc]x", "dx", true},        {"[a-c]", "b", true},
      {"[c-a]", "b", true},     {"[a-c]", "d", false},          {"\\*", "*", true},
      {"\\*", "a", false},      {"[\\]]", "]", true},           {"k\\?", "k?", true},
      {"**a", "ba", true},      {"a?c", std::string("a\0c", 3), true}, {"*:*:*", "a:b:c", true},
      {"[b-]", "a", true},      {"x\\", "x\\", true},  // "[b-]" is the range ']'..'b' (as Redis reads it)
  };
  for (const auto& c : cases) {
    INFO("pattern '" << c.pattern << "' key '" << c.key << "'");
    CHECK(glob_match(c.pattern, c.key) == c.match);
  }
}

TEST_CASE("glob: agrees with the server's SCAN MATCH on random patterns", "[filter][redis]") {
  const uint64_t seed = 20261124;
  INFO("seed " << seed << " (fixed; the keys and patterns below come from it)");
  std::mt19937_64 rng(seed);
  const std::string alphabet = "ab:*?[]^-\\";
  auto random_string = [&](const std::string& chars, size_t max_len) {
    std::string out;
    size_t len = rng() % (max_len + 1);
    for (size_t i = 0; i < len; ++i) out.push_back(chars[rng() % chars.size()]);
    return out;
  };
  sim::RedisServer server;
  auto conn = test::connect(server);
  std::set<std::string> keys;
  for (int i = 0; i < 400; ++i) keys.insert(random_string("ab:[]-^*?\\", 6));
  keys.erase("");
  for (const auto& k : keys) conn->checked({"SET", k, "1"});
  int compared = 0;
  for (int i = 0; i < 300; ++i) {
    std::string pattern = random_string(alphabet, 7);
    std::set<std::string> server_says;
    std::string cursor = "0";
    do {
      Reply r = conn->checked({"SCAN", cursor, "MATCH", pattern, "COUNT", "1000"});
      cursor = r.elements[0].str;
      for (const auto& k : r.elements[1].elements) server_says.insert(k.str);
    } while (cursor != "0");
    std::set<std::string> ferry_says;
    for (const auto& k : keys)
      if (glob_match(pattern, k)) ferry_says.insert(k);
    INFO("pattern '" << pattern << "'");
    CHECK(ferry_says == server_says);
    ++compared;
  }
  CHECK(compared == 300);
}

TEST_CASE("regular expressions, and the include/exclude rule", "[filter]") {
  KeyPattern re("re:^user:\\d+$");
  CHECK(re.matches("user:12"));
  CHECK_FALSE(re.matches("user:12x"));
  CHECK(KeyPattern("re:tmp").matches("a:tmp:b"));  // unanchored: a search
  CHECK(KeyPattern("re:a\\x00b").matches(std::string("a\0b", 3)));
  CHECK_THROWS_AS(KeyPattern("re:[a"), FerryError);

  KeyFilter none;
  CHECK(none.selects("anything"));
  KeyFilter f({"user:*", "order:*"}, {"*:tmp", "re:^order:9"});
  CHECK(f.selects("user:1"));
  CHECK(f.selects("order:1"));
  CHECK_FALSE(f.selects("user:tmp"));
  CHECK_FALSE(f.selects("order:99"));
  CHECK_FALSE(f.selects("cart:1"));
  KeyFilter only_exclude({}, {"session:*"});
  CHECK(only_exclude.selects("user:1"));
  CHECK_FALSE(only_exclude.selects("session:1"));
}

TEST_CASE("db-map parses pairs, refuses two DBs into one", "[filter]") {
  DbMap m = DbMap::parse("0:1,5:6");
  CHECK(m.target(0) == 1);
  CHECK(m.target(5) == 6);
  CHECK(m.target(3) == 3);
  CHECK(m.describe() == "0:1,5:6");
  CHECK(DbMap::parse("").empty());
  CHECK_THROWS_AS(DbMap::parse("0:1,2:1"), FerryError);
  CHECK_THROWS_AS(DbMap::parse("0:1,0:2"), FerryError);
  CHECK_THROWS_AS(DbMap::parse("0:256"), FerryError);
  CHECK_THROWS_AS(DbMap::parse("a:b"), FerryError);
  CHECK_NOTHROW(m.check({0, 5}));
  CHECK_THROWS_AS(m.check({0, 1}), FerryError);  // DB 1 stays 1, where DB 0 goes
  CHECK_THROWS_AS(m.check({}), FerryError);      // every DB: the same
  CHECK_NOTHROW(DbMap::parse("0:1,1:0").check({}));
}

TEST_CASE("command keys: written and read positions of stream commands", "[filter]") {
  auto keys = [](std::vector<std::string> args) {
    CommandKeys k = command_keys(ascii_upper(args[0]), args);
    std::vector<std::string> w, r;
    for (size_t i : k.written) w.push_back(args[i]);
    for (size_t i : k.read) r.push_back(args[i]);
    return std::pair{w, r};
  };
  using V = std::vector<std::string>;
  CHECK(keys({"set", "k", "v"}) == std::pair{V{"k"}, V{}});
  CHECK(keys({"MSET", "a", "1", "b", "2"}) == std::pair{V{"a", "b"}, V{}});
  CHECK(keys({"DEL", "a", "b", "c"}) == std::pair{V{"a", "b", "c"}, V{}});
  CHECK(keys({"RENAME", "a", "b"}) == std::pair{V{"a", "b"}, V{}});
  CHECK(keys({"COPY", "a", "b", "DB", "3"}) == std::pair{V{"b"}, V{"a"}});
  CHECK(keys({"SUNIONSTORE", "d", "a", "b"}) == std::pair{V{"d"}, V{"a", "b"}});
  CHECK(keys({"ZUNIONSTORE", "d", "2", "a", "b", "WEIGHTS", "1", "2"}) == std::pair{V{"d"}, V{"a", "b"}});
  CHECK(keys({"BITOP", "AND", "d", "a", "b"}) == std::pair{V{"d"}, V{"a", "b"}});
  CHECK(keys({"SORT", "a", "BY", "w", "STORE", "d"}) == std::pair{V{"d"}, V{"a"}});
  CHECK(keys({"SORT", "a"}) == std::pair{V{"a"}, V{}});
  CHECK(keys({"EVAL", "return 1", "2", "k1", "k2", "arg"}) == std::pair{V{"k1", "k2"}, V{}});
  CHECK(keys({"LMPOP", "2", "a", "b", "LEFT"}) == std::pair{V{"a", "b"}, V{}});
  CHECK(keys({"XGROUP", "CREATE", "s", "g", "$"}) == std::pair{V{"s"}, V{}});
  CHECK(keys({"ZRANGESTORE", "d", "a", "0", "-1"}) == std::pair{V{"d"}, V{"a"}});
  CHECK(command_keys("FLUSHALL", {"FLUSHALL"}).keyless());
  CHECK(command_keys("PUBLISH", {"PUBLISH", "ch", "msg"}).keyless());
  CHECK(command_keys("FUNCTION", {"FUNCTION", "LOAD", "code"}).keyless());
}
