// RapidCheck properties: values of every type, written in a randomly chosen encoding by the
// test-only writer, come out of the parser unchanged; and importing such a file through ferry gives
// the same DEBUG DIGEST as redis-server loading it itself. RapidCheck prints the seed of a failing
// case: RC_PARAMS="seed=N" reproduces it.
#include "rdb/rdb_test_writer.h"
#include "support.h"

#include "io/byte_source.h"
#include "sink/key_sink.h"
#include "rdb/rdb_parser.h"

#include <rapidcheck.h>
#include <rapidcheck/catch.h>

#include <map>
#include <set>

using namespace ferry;
using ferry::test::RdbTestWriter;

namespace {

// What a key holds, in a form that compares equal whatever the encoding.
struct Value {
  std::string type;
  std::string str;
  std::vector<std::string> list;
  std::multiset<std::string> set;
  std::map<std::string, double> zset;
  std::map<std::string, std::string> hash;
  bool operator==(const Value&) const = default;
};

struct Collector : rdb::RdbVisitor {
  std::map<std::string, Value> keys;
  Value* current = nullptr;
  size_t on_key_begin(const KeyInfo& key) override {
    current = &keys[key.key];
    current->type = key_type_name(key.type);
    return 0;
  }
  void on_string_chunk(std::string_view c) override { current->str.append(c); }
  void on_list_items(std::vector<std::string>& v) override { current->list.insert(current->list.end(), v.begin(), v.end()); }
  void on_set_members(std::vector<std::string>& v) override { current->set.insert(v.begin(), v.end()); }
  void on_zset_members(std::vector<std::pair<std::string, double>>& v) override {
    for (auto& [m, s] : v) current->zset[m] = s;
  }
  void on_hash_fields(std::vector<FieldValue>& v) override {
    for (auto& [f, x] : v) current->hash[f] = x;
  }
};

// Strings that exercise the encodings: short, long, binary, integer-looking.
rc::Gen<std::string> element() {
  return rc::gen::oneOf(
      rc::gen::container<std::string>(rc::gen::arbitrary<char>()),
      rc::gen::map(rc::gen::arbitrary<int64_t>(), [](int64_t v) { return std::to_string(v); }),
      rc::gen::map(rc::gen::inRange(0, 20), [](int v) { return std::to_string(v); }),
      rc::gen::map(rc::gen::inRange<size_t>(0, 20000), [](size_t n) { return std::string(n, 'x'); }));
}

rc::Gen<double> score() {
  return rc::gen::oneOf(rc::gen::map(rc::gen::arbitrary<int32_t>(), [](int32_t v) { return v / 8.0; }),
                        rc::gen::element<double>(HUGE_VAL, -HUGE_VAL, 0.0, 1e300, -1e-300, 0.1));
}

// Writes one key of a random type in a random encoding, and returns what it must read back as.
Value write_random_key(RdbTestWriter& w, const std::string& key, bool loadable_by_7_0) {
  Value v;
  int kind = *rc::gen::inRange(0, 5);
  if (kind == 0) {
    v.type = "string";
    auto as_int = *rc::gen::arbitrary<bool>();
    if (as_int) {
      int64_t n = *rc::gen::arbitrary<int64_t>();
      w.string_int(key, n);
      v.str = std::to_string(n);
    } else {
      v.str = *element();
      if (*rc::gen::arbitrary<bool>()) w.string_lzf(key, v.str);
      else w.string_raw(key, v.str);
    }
  } else if (kind == 1) {
    v.type = "list";
    v.list = *rc::gen::nonEmpty(rc::gen::container<std::vector<std::string>>(element()));
    switch (*rc::gen::inRange(0, 4)) {
      case 0: w.list_plain(key, v.list); break;
      case 1: w.list_ziplist(key, v.list); break;
      case 2: w.list_quicklist_ziplist(key, v.list, *rc::gen::inRange<size_t>(1, 8)); break;
      default: {
        bool any_empty = false;
        for (auto& e : v.list) any_empty |= e.empty();
        // A plain node may not be empty (7.0 refuses it): only big values get plain nodes.
        w.list_quicklist2(key, v.list, *rc::gen::inRange<size_t>(1, 8), any_empty ? SIZE_MAX : 4096);
      }
    }
  } else if (kind == 2) {
    v.type = "set";
    if (*rc::gen::arbitrary<bool>()) {
      auto ints = *rc::gen::nonEmpty(rc::gen::container<std::set<int64_t>>(rc::gen::arbitrary<int64_t>()));
      for (auto i : ints) v.set.insert(std::to_string(i));
      w.set_intset(key, std::vector<int64_t>(ints.begin(), ints.end()));
    } else {
      auto members = *rc::gen::nonEmpty(rc::gen::container<std::set<std::string>>(element()));
      v.set.insert(members.begin(), members.end());
      std::vector<std::string> list(members.begin(), members.end());
      if (!loadable_by_7_0 && *rc::gen::arbitrary<bool>()) w.set_listpack(key, list);
      else w.set_plain(key, list);
    }
  } else if (kind == 3) {
    v.type = "zset";
    auto members = *rc::gen::nonEmpty(rc::gen::container<std::map<std::string, double>>(element(), score()));
    v.zset = members;
    test::ScoredMembers entries(members.begin(), members.end());
    switch (*rc::gen::inRange(0, 4)) {
      case 0: w.zset_plain(key, entries); break;
      case 1: w.zset_2(key, entries); break;
      case 2: w.zset_ziplist(key, entries); break;
      default: w.zset_listpack(key, entries);
    }
  } else {
    v.type = "hash";
    auto fields = *rc::gen::nonEmpty(rc::gen::container<std::map<std::string, std::string>>(element(), element()));
    v.hash = fields;
    test::FieldValues pairs(fields.begin(), fields.end());
    switch (*rc::gen::inRange(0, 4)) {
      case 0: w.hash_plain(key, pairs); break;
      case 1: w.hash_zipmap(key, pairs, static_cast<uint8_t>(*rc::gen::inRange(0, 4))); break;
      case 2: w.hash_ziplist(key, pairs); break;
      default: w.hash_listpack(key, pairs);
    }
  }
  return v;
}

void random_forms(RdbTestWriter& w) {
  w.length_form(*rc::gen::element(test::LengthForm::Smallest, test::LengthForm::AtLeast32Bit, test::LengthForm::Always64Bit));
  w.string_form(*rc::gen::element(test::StringForm::Raw, test::StringForm::Auto));
  w.lzf_blobs(*rc::gen::arbitrary<bool>());
}

}  // namespace

TEST_CASE("parse(write(value, any encoding)) == value", "[rdb][property]") {
  rc::prop("every type and encoding round-trips through the parser", [] {
    RdbTestWriter w(*rc::gen::element(9, 10, 11));
    random_forms(w);
    std::map<std::string, Value> expected;
    int n = *rc::gen::inRange(1, 6);
    for (int i = 0; i < n; ++i) {
      std::string key = "k" + std::to_string(i) + *rc::gen::container<std::string>(rc::gen::arbitrary<char>());
      if (expected.count(key)) continue;
      expected[key] = write_random_key(w, key, false);
    }
    std::string file = w.end(*rc::gen::arbitrary<bool>());
    io::MemorySource source(file);
    Collector got;
    rdb::RdbParser parser(source, got);
    parser.parse();
    RC_ASSERT(got.keys == expected);
  });
}

TEST_CASE("importing a generated RDB gives the digest redis-server gets loading it", "[rdb][property][server]") {
  rc::prop("ferry's import equals redis-server's own load", [] {
    RdbTestWriter w(10);
    random_forms(w);
    int n = *rc::gen::inRange(1, 8);
    std::set<std::string> keys;
    for (int i = 0; i < n; ++i) {
      std::string key = "key:" + std::to_string(i);
      keys.insert(key);
      write_random_key(w, key, true);
    }
    std::string path = "/tmp/ferry-property-" + std::to_string(::getpid()) + ".rdb";
    w.end();
    w.write_file(path);

    sim::RedisServerOptions loaded_options;
    loaded_options.rdb_file = path;
    sim::RedisServer loaded(loaded_options);
    sim::RedisServerOptions target_options;
    target_options.config = {{"sanitize-dump-payload", "yes"}};
    sim::RedisServer target(target_options);
    auto conn = test::connect(target);

    KeySinkOptions options;
    options.copy.write_mode = *rc::gen::element(WriteMode::Auto, WriteMode::Commands);
    options.copy.big_key_bytes = *rc::gen::element<size_t>(64, 4 << 20);  // tiny: force the chunked path
    MigrationReport report;
    {
      StandaloneTarget sink_target(test::connect(target), PipelineLimits{});
      KeySink sink(sink_target, options, report);
      io::FileSource file(path);
      rdb::RdbParser parser(file, sink);
      parser.parse();
      sink.finish();
    }
    ::unlink(path.c_str());
    RC_ASSERT(report.failed == 0u);
    RC_ASSERT(report.copied == keys.size());
    RC_ASSERT(conn->checked({"DEBUG", "DIGEST"}).str == test::connect(loaded)->checked({"DEBUG", "DIGEST"}).str);
  });
}
