// The test RDB writer, checked against the real thing: every encoding is written into a file that
// a real redis-server 7.0 loads (with sanitize-dump-payload yes, so every ziplist, listpack and
// intset is validated entry by entry), and the values are read back key by key. Listpack, intset
// and string bytes are also compared with what Redis 7.0 itself writes (DUMP).
#include "rdb/rdb_test_writer.h"

#include "rdb/crc64.h"
#include "support.h"

#include <fmt/format.h>
#include <lzf.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>

#include <unistd.h>

using namespace ferry;
using ferry::sim::RedisServer;
using ferry::sim::RedisServerOptions;
using ferry::test::Elements;
using ferry::test::FieldValues;
using ferry::test::LengthForm;
using ferry::test::RdbTestWriter;
using ferry::test::ScoredMembers;
using ferry::test::StringForm;
namespace fs = std::filesystem;

namespace {

// ---- Values that reach every encoding boundary ----

std::vector<int64_t> boundary_integers() {
  return {0, 1, 12, 13, -1, 127, 128, -128, -129, 255, 4095, 4096, -4096, -4097, 32767, 32768, -32768, -32769,
          8388607, 8388608, -8388608, -8388609, 2147483647LL, 2147483648LL, -2147483648LL, -2147483649LL,
          INT64_MAX, INT64_MIN, INT64_MAX - 1, INT64_MIN + 1};
}

std::string bytes_of(size_t n, uint32_t seed) {  // hardly compressible
  std::string s(n, '\0');
  for (auto& c : s) {
    seed = seed * 1103515245u + 12345u;
    c = static_cast<char>(seed >> 16);
  }
  return s;
}

// Integers as text, strings that look like integers but are not canonical, binary bytes, and
// strings of every length class (6/12/14-bit and 32-bit lengths, 1- and 5-byte ziplist prevlens).
Elements sample_values() {
  Elements v;
  for (int64_t i : boundary_integers()) v.push_back(std::to_string(i));
  for (const char* s : {"", "a", "hello world", "007", "-0", "+5", " 1", "1 ", "1.5", "1e3",
                        "9223372036854775808", "-9223372036854775809", "12345678901234567890"})
    v.emplace_back(s);
  v.push_back(std::string("bin\0ary\r\n\xff\x00" "end", 14));  // "end" apart: \x00e would be one escape
  for (size_t n : {63, 64, 250, 251, 253, 254, 4095, 4096, 16383, 16384}) v.push_back(std::string(n, static_cast<char>('a' + n % 26)));
  v.push_back(bytes_of(20000, 7));  // > 16 KB, does not compress
  std::string big;
  while (big.size() < 100000) big += "compressible text " + std::to_string(big.size() % 97) + "\r\n";
  v.push_back(big);
  return v;
}

// Many small values, so that ziplist/listpack headers hold 65535 ("count them").
Elements many_values(size_t n) {
  Elements v;
  for (size_t i = 0; i < n; ++i) v.push_back(i % 3 ? "e" + std::to_string(i) : std::to_string(i * 37 - 1000));
  return v;
}

FieldValues sample_pairs() {
  Elements v = sample_values();
  FieldValues pairs;
  for (size_t i = 0; i < v.size(); ++i) pairs.emplace_back(v[i], v[v.size() - 1 - i]);
  return pairs;
}

ScoredMembers sample_zset() {
  const double inf = std::numeric_limits<double>::infinity();
  const std::vector<double> scores = {0, 1, -1, 1.5, -2.25, 0.1, 1e300, -1e-300, inf, -inf, 4503599627370496.0,
                                      4611686018427387904.0, 9223372036854775808.0, 123456789, -0.5, 1, 1};
  Elements members = sample_values();
  ScoredMembers z;
  for (size_t i = 0; i < members.size(); ++i) z.emplace_back(members[i], scores[i % scores.size()]);
  return z;
}

// ---- Writer variants: each load test runs once per variant ----

struct Variant {
  const char* name;
  StringForm strings;
  bool lzf_blobs;
  LengthForm lengths;
};
const Variant kVariants[] = {
    {"raw strings, smallest lengths", StringForm::Raw, false, LengthForm::Smallest},
    {"strings as Redis writes them, LZF blobs", StringForm::Auto, true, LengthForm::Smallest},
    {"32-bit lengths", StringForm::Raw, false, LengthForm::AtLeast32Bit},
    {"64-bit lengths, strings as Redis writes them, LZF blobs", StringForm::Auto, true, LengthForm::Always64Bit},
};

RdbTestWriter writer_for(const Variant& v) {
  RdbTestWriter w;
  w.string_form(v.strings).lzf_blobs(v.lzf_blobs).length_form(v.lengths);
  return w;
}

// ---- Loading into a real server ----

// Starts redis-server on the file. sanitize-dump-payload yes makes the load walk every listpack
// and intset entry by entry (by default only their headers are checked; ziplists and zipmaps are
// always walked, since Redis 7.0 converts them to listpacks as it loads them).
std::unique_ptr<RedisServer> start_on(const std::string& file, RedisServerOptions options = {}) {
  static std::atomic<int> counter{0};
  fs::path path = fs::temp_directory_path() /
                  ("ferry-rdb-writer-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + ".rdb");
  std::ofstream(path, std::ios::binary).write(file.data(), static_cast<std::streamsize>(file.size()));
  struct Remove { fs::path p; ~Remove() { std::error_code ec; fs::remove(p, ec); } } remove{path};  // once copied
  options.rdb_file = path.string();
  options.config.push_back({"sanitize-dump-payload", "yes"});
  return std::make_unique<RedisServer>(options);
}

// A server on the file, a connection to it, and a check that it holds that many keys.
struct Loaded {
  std::unique_ptr<RedisServer> server;
  std::unique_ptr<Connection> c;
};
Loaded load(const std::string& file, long long keys) {
  Loaded l{start_on(file), nullptr};
  l.c = test::connect(*l.server);
  CHECK(l.c->checked({"DBSIZE"}).integer == keys);
  return l;
}

// The message a refused file produced (the fixture's exception carries the server's log tail).
std::string refusal(const std::string& file) {
  try {
    start_on(file);
  } catch (const std::exception& e) {
    return e.what();
  }
  return "(the server started)";
}

std::string shorten(const std::string& s) {
  std::string out;
  for (unsigned char c : s.substr(0, 40)) {
    if (c >= 32 && c < 127) out += static_cast<char>(c);
    else out += fmt::format("\\x{:02x}", c);
  }
  return fmt::format("\"{}{}\" ({} bytes)", out, s.size() > 40 ? "..." : "", s.size());
}

// Compares element by element, naming the first difference without printing 100 KB strings.
void require_same(const Elements& got, const Elements& want) {
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    if (got[i] == want[i]) continue;
    FAIL("element " << i << ": got " << shorten(got[i]) << ", want " << shorten(want[i]));
  }
}

Elements strings_of(const Reply& r) {
  Elements out;
  for (const auto& e : r.elements) out.push_back(e.str);
  return out;
}

Elements lrange(Connection& c, const std::string& key) { return strings_of(c.checked({"LRANGE", key, "0", "-1"})); }

Elements sorted(Elements v) {
  std::sort(v.begin(), v.end());
  return v;
}

Elements smembers(Connection& c, const std::string& key) { return sorted(strings_of(c.checked({"SMEMBERS", key}))); }

// ZRANGE WITHSCORES flattened; scores re-printed so that "1e+300" and "1.0000000000000001e+300" agree.
Elements zrange(Connection& c, const std::string& key) {
  Elements flat = strings_of(c.checked({"ZRANGE", key, "0", "-1", "WITHSCORES"}));
  for (size_t i = 1; i < flat.size(); i += 2) flat[i] = RdbTestWriter::score_text(std::stod(flat[i]));
  return flat;
}

Elements zset_expected(ScoredMembers z) {
  std::sort(z.begin(), z.end(),
            [](const auto& a, const auto& b) { return a.second != b.second ? a.second < b.second : a.first < b.first; });
  Elements flat;
  for (const auto& [m, s] : z) flat.insert(flat.end(), {m, RdbTestWriter::score_text(s)});
  return flat;
}

// Field, value, field, value ... sorted by field: how hashes are compared.
Elements hash_expected(FieldValues pairs) {
  std::sort(pairs.begin(), pairs.end());
  Elements out;
  for (auto& [f, v] : pairs) out.insert(out.end(), {f, v});
  return out;
}

Elements hgetall(Connection& c, const std::string& key) {
  Elements flat = strings_of(c.checked({"HGETALL", key}));
  FieldValues pairs;
  for (size_t i = 0; i + 1 < flat.size(); i += 2) pairs.emplace_back(flat[i], flat[i + 1]);
  return hash_expected(pairs);
}

std::string hex(std::string_view spaced) {  // "0a ff" -> "\x0a\xff"
  std::string out;
  for (size_t i = 0; i + 1 < spaced.size(); i += 3) out.push_back(static_cast<char>(std::stoi(std::string(spaced.substr(i, 2)), nullptr, 16)));
  return out;
}

// Reads an RDB length at pos (any of the four forms) and moves past it.
uint64_t read_length(const std::string& s, size_t& pos) {
  auto byte = [&](size_t i) { return static_cast<uint8_t>(s.at(i)); };
  uint8_t first = byte(pos);
  uint64_t v = 0;
  if ((first >> 6) == 0) {
    v = first & 0x3F;
    pos += 1;
  } else if ((first >> 6) == 1) {
    v = (uint64_t(first & 0x3F) << 8) | byte(pos + 1);
    pos += 2;
  } else {
    int n = first == 0x80 ? 4 : 8;
    for (int i = 1; i <= n; ++i) v = (v << 8) | byte(pos + i);
    pos += 1 + n;
  }
  return v;
}

uint64_t little_endian(const std::string& s, size_t pos, int bytes) {
  uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(s.at(pos + i));
  return v;
}

// One value, compared without printing 100 KB on a mismatch.
void check_same(const std::string& what, const std::string& got, const std::string& want) {
  if (got == want) return;
  size_t i = 0;
  while (i < got.size() && i < want.size() && got[i] == want[i]) ++i;
  FAIL_CHECK(what << ": differs at byte " << i << ": got " << shorten(got.substr(i)) << ", want "
                  << shorten(want.substr(i)));
}

std::string get(Connection& c, const std::string& key) { return c.checked({"GET", key}).str; }

}  // namespace

// ---------------------------------------------------------------------------------------------
// Bytes, without a server

TEST_CASE("frame: header, opcodes, the four length forms and the checksum", "[rdb][writer]") {
  SECTION("a minimal file, byte by byte") {
    RdbTestWriter w;
    CHECK(w.string_raw("k", "v").end(false) == "REDIS0010" + hex("00 01 6b 01 76 ff") + std::string(8, '\0'));
    CHECK_THROWS_AS(w.string_raw("late", "x"), std::logic_error);
  }
  SECTION("the checksum is the CRC-64 of everything before it, little-endian") {
    RdbTestWriter w;
    const std::string& f = w.aux("redis-ver", "7.0.15").string_raw("k", "v").end();
    CHECK(static_cast<uint8_t>(f[f.size() - 9]) == 0xFF);
    CHECK(little_endian(f, f.size() - 8, 8) == rdb::crc64(0, f.data(), f.size() - 8));
  }
  SECTION("versions: the header names it; before version 5 there is no checksum") {
    CHECK(RdbTestWriter(9).bytes() == "REDIS0009");
    CHECK(RdbTestWriter(4).end() == "REDIS0004" + hex("ff"));
  }
  SECTION("opcodes") {
    RdbTestWriter w;
    w.select_db(3).resize_db(100, 2).expire_ms(0x0102030405060708).expire_s(0x01020304).idle(1000).freq(200).aux("a", "b");
    CHECK(w.bytes().substr(9) == hex("fe 03 fb 40 64 02 fc 08 07 06 05 04 03 02 01 fd 04 03 02 01 f8 43 e8 f9 c8 "
                                     "fa 01 61 01 62"));
  }
  SECTION("lengths: 6-bit, 14-bit, 32-bit, 64-bit") {
    auto after_key = [](LengthForm form, size_t n) {
      RdbTestWriter w;
      w.length_form(form).string_raw("k", std::string(n, 'x'));
      return w.bytes().substr(10, w.bytes().size() - 10 - n);  // key length, key, value length
    };
    CHECK(after_key(LengthForm::Smallest, 5) == hex("01 6b 05"));
    CHECK(after_key(LengthForm::Smallest, 63) == hex("01 6b 3f"));
    CHECK(after_key(LengthForm::Smallest, 64) == hex("01 6b 40 40"));
    CHECK(after_key(LengthForm::Smallest, 16383) == hex("01 6b 7f ff"));
    CHECK(after_key(LengthForm::Smallest, 16384) == hex("01 6b 80 00 00 40 00"));
    CHECK(after_key(LengthForm::AtLeast32Bit, 5) == hex("80 00 00 00 01 6b 80 00 00 00 05"));
    CHECK(after_key(LengthForm::Always64Bit, 5) == hex("81 00 00 00 00 00 00 00 01 6b 81 00 00 00 00 00 00 00 05"));
  }
  SECTION("string encodings: RDB_ENC_INT8/16/32, LZF, raw") {
    auto value_of = [](auto write) {
      RdbTestWriter w;
      write(w);
      return w.bytes().substr(12);  // "REDIS0010", type 0, key "k"
    };
    CHECK(value_of([](auto& w) { w.string_int("k", 5); }) == hex("c0 05"));
    CHECK(value_of([](auto& w) { w.string_int("k", -129); }) == hex("c1 7f ff"));
    CHECK(value_of([](auto& w) { w.string_int("k", 40000); }) == hex("c2 40 9c 00 00"));
    CHECK(value_of([](auto& w) { w.string_int("k", INT32_MIN); }) == hex("c2 00 00 00 80"));
    CHECK(value_of([](auto& w) { w.string_int("k", 2147483648LL); }) == "\x0a" "2147483648");
    CHECK(value_of([](auto& w) { w.string_lzf("k", "ab"); }) == hex("02 61 62"));  // does not compress
    std::string text(1000, 'a');
    std::string lzf = value_of([&](auto& w) { w.string_lzf("k", text); });
    REQUIRE(static_cast<uint8_t>(lzf[0]) == 0xC3);
    size_t pos = 1;
    uint64_t packed = read_length(lzf, pos);
    CHECK(read_length(lzf, pos) == 1000);
    CHECK(pos + packed == lzf.size());
    std::string back(1000, '\0');
    CHECK(lzf_decompress(lzf.data() + pos, static_cast<unsigned>(packed), back.data(), 1000) == 1000);
    CHECK(back == text);
  }
  SECTION("Redis-like strings: integer key names and elements, LZF for long ones, raw otherwise") {
    RdbTestWriter w;
    w.string_form(StringForm::Auto).list_plain("123", {"-7", "007", std::string(100, 'z')});
    std::string b = w.bytes().substr(9);
    CHECK(b.substr(0, 6) == hex("01 c0 7b 03 c0 f9"));  // type 1, key 123, 3 elements, -7
    CHECK(b.substr(6, 4) == hex("03 30 30 37"));        // "007" is not canonical: raw
    CHECK(static_cast<uint8_t>(b[10]) == 0xC3);
  }
}

TEST_CASE("ziplist, listpack, intset and zipmap blobs, byte by byte", "[rdb][writer]") {
  SECTION("ziplist integers: immediate, 8/16/24/32/64 bits") {
    CHECK(RdbTestWriter::ziplist_blob({"0", "12", "13", "-1", "300", "100000", "70000000", "2147483648", "a"}) ==
          hex("31 00 00 00 2d 00 00 00 09 00 00 f1 02 fd 02 fe 0d 03 fe ff 03 c0 2c 01 04 f0 a0 86 01 05 d0 80 1d 2c "
              "04 06 e0 00 00 00 80 00 00 00 00 0a 01 61 ff"));
    CHECK(RdbTestWriter::ziplist_blob({"-8388608", "-32768", "-2147483649"}) ==
          hex("1e 00 00 00 13 00 00 00 03 00 00 f0 00 00 80 05 c0 00 80 04 e0 ff ff ff 7f ff ff ff ff ff"));
    CHECK(RdbTestWriter::ziplist_blob({}) == hex("0b 00 00 00 0a 00 00 00 00 00 ff"));
  }
  SECTION("ziplist strings: 14- and 32-bit lengths, 5-byte prevlen") {
    std::string zl = RdbTestWriter::ziplist_blob({std::string(300, 'x'), "1", std::string(16384, 'y'), "z"});
    CHECK(zl.substr(0, 13) == hex("4d 41 00 00 45 41 00 00 04 00 00 41 2c"));  // 16717 bytes, tail 16709
    CHECK(zl.substr(313, 12) == hex("fe 2f 01 00 00 f2 06 80 00 00 40 00"));   // prevlen 303; prevlen 6, 32-bit len
    CHECK(zl.substr(zl.size() - 8) == hex("fe 06 40 00 00 01 7a ff"));          // prevlen 16390
  }
  SECTION("listpack: 7-bit, 13-bit, strings, and the element count") {
    CHECK(RdbTestWriter::listpack_blob({"0", "127", "128", "-4096", "a"}) ==
          hex("14 00 00 00 05 00 00 01 7f 01 c0 80 02 d0 00 02 81 61 02 ff"));
    std::string big = RdbTestWriter::listpack_blob(many_values(70000));
    CHECK(little_endian(big, 0, 4) == big.size());
    CHECK(little_endian(big, 4, 2) == 65535);  // too many to count in the header
  }
  SECTION("intset: the entry width follows the values") {
    CHECK(RdbTestWriter::intset_blob({3, 1, 2}) == hex("02 00 00 00 03 00 00 00 01 00 02 00 03 00"));
    CHECK(RdbTestWriter::intset_blob({1, 40000})[0] == 4);
    CHECK(RdbTestWriter::intset_blob({-32769})[0] == 4);
    CHECK(RdbTestWriter::intset_blob({1, INT64_MIN})[0] == 8);
  }
  SECTION("zipmap, as drawn in zipmap.c") {
    CHECK(RdbTestWriter::zipmap_blob({{"foo", "bar"}, {"hello", "world"}}) ==
          std::string("\x02\x03" "foo" "\x03\x00" "bar" "\x05" "hello" "\x05\x00" "world" "\xff", 24));
    CHECK(RdbTestWriter::zipmap_blob({{"f", std::string(300, 'v')}}, 2).substr(0, 10) == hex("01 01 66 fe 2c 01 00 00 02 76"));
  }
  SECTION("zset scores as Redis' d2string writes them") {
    CHECK(RdbTestWriter::score_text(1) == "1");
    CHECK(RdbTestWriter::score_text(-0.0) == "0");
    CHECK(RdbTestWriter::score_text(1.5) == "1.5");
    CHECK(RdbTestWriter::score_text(0.1) == "0.10000000000000001");
    CHECK(RdbTestWriter::score_text(std::numeric_limits<double>::infinity()) == "inf");
    CHECK(RdbTestWriter::score_text(-std::numeric_limits<double>::infinity()) == "-inf");
    CHECK(RdbTestWriter::score_text(9223372036854775808.0) == "9.2233720368547758e+18");
  }
}

TEST_CASE("listpack, intset and string bytes equal what Redis 7.0 writes (DUMP)", "[rdb][writer][redis]") {
  RedisServerOptions options;
  options.config = {{"rdbcompression", "no"},           {"list-max-listpack-size", "-5"},
                    {"hash-max-listpack-value", "100000"}, {"hash-max-listpack-entries", "1000"},
                    {"zset-max-listpack-value", "100000"}, {"zset-max-listpack-entries", "1000"},
                    {"set-max-intset-entries", "1000"}};
  RedisServer server(options);
  auto c = test::connect(server);
  // A DUMP payload is <type> <value> <2-byte RDB version> <CRC>; our file is "REDIS0010" <type> <key> <value>.
  auto same_as_dump = [&](const std::string& key, auto write) {
    RdbTestWriter w;
    write(w, key);
    std::string dump = c->checked({"DUMP", key}).str;
    REQUIRE(dump.size() > 11);
    std::string framing = "REDIS0010" + dump.substr(0, 1) + static_cast<char>(key.size()) + key;
    REQUIRE(w.bytes().substr(0, framing.size()) == framing);
    check_same(key, w.bytes().substr(framing.size()), dump.substr(1, dump.size() - 11));
  };

  Elements values;
  for (int64_t i : boundary_integers()) values.push_back(std::to_string(i));
  for (size_t n : {0, 1, 63, 64, 4095, 4096}) values.push_back(std::string(n, 'q'));
  values.push_back(std::string("bin\0\r\n", 6));
  values.push_back(bytes_of(20000, 3));  // 32-bit string length, 3-byte backlen

  Args rpush{"RPUSH", "list"}, hset{"HSET", "hash"}, zadd{"ZADD", "zset"}, sadd{"SADD", "intset"};
  FieldValues pairs;
  ScoredMembers scored;
  const double inf = std::numeric_limits<double>::infinity();
  const std::vector<double> scores = {0, -1, 1.5, 0.1, 1e300, inf, -inf, 4503599627370496.0, 123456789, -4097};
  for (size_t i = 0; i < values.size(); ++i) {
    rpush.push_back(values[i]);
    pairs.emplace_back(values[i], values[values.size() - 1 - i]);
    hset.insert(hset.end(), {values[i], values[values.size() - 1 - i]});
    scored.emplace_back(values[i], scores[i % scores.size()]);
    zadd.insert(zadd.end(), {RdbTestWriter::score_text(scores[i % scores.size()]), values[i]});
  }
  std::vector<int64_t> ints = boundary_integers();
  for (int64_t i : ints) sadd.push_back(std::to_string(i));
  for (const auto& cmd : {rpush, hset, zadd, sadd}) c->checked(cmd);
  c->checked({"SADD", "intset16", "7", "-32768", "5"});
  c->checked({"SADD", "intset32", "7", "-32769", "5"});
  c->checked({"SET", "small", "12345"});
  c->checked({"SET", "negative", "-129"});
  c->checked({"SET", "wide", "2147483648"});
  c->checked({"SET", "text", "007"});
  c->checked({"SET", "long", bytes_of(20000, 9)});

  same_as_dump("list", [&](auto& w, auto& k) { w.list_quicklist2(k, values, 1000); });
  same_as_dump("hash", [&](auto& w, auto& k) { w.hash_listpack(k, pairs); });
  same_as_dump("zset", [&](auto& w, auto& k) { w.zset_listpack(k, scored); });
  same_as_dump("intset", [&](auto& w, auto& k) { w.set_intset(k, ints); });
  same_as_dump("intset16", [&](auto& w, auto& k) { w.set_intset(k, {7, -32768, 5}); });
  same_as_dump("intset32", [&](auto& w, auto& k) { w.set_intset(k, {7, -32769, 5}); });
  same_as_dump("small", [&](auto& w, auto& k) { w.string_int(k, 12345); });
  same_as_dump("negative", [&](auto& w, auto& k) { w.string_int(k, -129); });
  same_as_dump("wide", [&](auto& w, auto& k) { w.string_int(k, 2147483648LL); });
  same_as_dump("text", [&](auto& w, auto& k) { w.string_raw(k, "007"); });
  same_as_dump("long", [&](auto& w, auto& k) { w.string_raw(k, bytes_of(20000, 9)); });
}

// ---------------------------------------------------------------------------------------------
// Files loaded by a real redis-server 7.0, once per writer variant

TEST_CASE("strings in every encoding load into Redis 7.0", "[rdb][writer][redis]") {
  const Variant& v = kVariants[GENERATE(range(0, 4))];
  INFO(v.name);
  Elements values = sample_values();
  std::vector<int64_t> ints = boundary_integers();
  RdbTestWriter w = writer_for(v);
  w.aux("redis-ver", "7.0.15").aux("redis-bits", "64").select_db(0);
  for (size_t i = 0; i < values.size(); ++i) {
    w.string_raw("raw:" + std::to_string(i), values[i]);
    w.string_lzf("lzf:" + std::to_string(i), values[i]);
  }
  for (size_t i = 0; i < ints.size(); ++i) w.string_int("int:" + std::to_string(i), ints[i]);
  w.string_raw("12345", "an integer key name").string_raw("-7", "").string_raw("", "the empty key name");

  auto [server, c] = load(w.end(), static_cast<long long>(2 * values.size() + ints.size() + 3));
  for (size_t i = 0; i < values.size(); ++i) {
    check_same("raw:" + std::to_string(i), get(*c, "raw:" + std::to_string(i)), values[i]);
    check_same("lzf:" + std::to_string(i), get(*c, "lzf:" + std::to_string(i)), values[i]);
  }
  for (size_t i = 0; i < ints.size(); ++i) CHECK(get(*c, "int:" + std::to_string(i)) == std::to_string(ints[i]));
  CHECK(get(*c, "12345") == "an integer key name");
  CHECK(c->checked({"GET", "-7"}).is_string());
  CHECK(get(*c, "") == "the empty key name");
}

TEST_CASE("lists in every encoding load into Redis 7.0", "[rdb][writer][redis]") {
  const Variant& v = kVariants[GENERATE(range(0, 4))];
  INFO(v.name);
  Elements values = sample_values(), many = many_values(70000);
  RdbTestWriter w = writer_for(v);
  w.list_plain("plain", values)
      .list_ziplist("ziplist", values)
      .list_quicklist_ziplist("quicklist:1", values, 1)
      .list_quicklist_ziplist("quicklist:3", values, 3)
      .list_quicklist_ziplist("quicklist:all", values, 1000)
      .list_quicklist2("quicklist2:4", values, 4, 1000)  // values of 1000+ bytes in plain nodes
      .list_quicklist2("quicklist2:all", values, 1000)
      .list_quicklist2("quicklist2:plain", values, 1, 1)  // every non-empty value in a plain node
      .list_ziplist("ziplist:70000", many)               // header count 65535: "count them"
      // A quicklist node counts its entries in 16 bits: one listpack of 70000 would load as 4464.
      .list_quicklist2("quicklist2:70000", many, 65535)
      .list_plain("one", {"x"})
      .list_ziplist("one:ziplist", {"7"});

  auto [server, c] = load(w.end(), 12);
  for (const char* key : {"plain", "ziplist", "quicklist:1", "quicklist:3", "quicklist:all", "quicklist2:4",
                          "quicklist2:all", "quicklist2:plain"}) {
    INFO(key);
    require_same(lrange(*c, key), values);
  }
  for (const char* key : {"ziplist:70000", "quicklist2:70000"}) {
    INFO(key);
    require_same(lrange(*c, key), many);
  }
  require_same(lrange(*c, "one"), {"x"});
  require_same(lrange(*c, "one:ziplist"), {"7"});
}

TEST_CASE("sets in every encoding Redis 7.0 knows load into it", "[rdb][writer][redis]") {
  const Variant& v = kVariants[GENERATE(range(0, 4))];
  INFO(v.name);
  Elements values = sample_values();
  std::vector<int64_t> ints = boundary_integers(), wide;
  for (int i = 0; i < 600; ++i) wide.push_back(i * 1000LL - 300000);  // past set-max-intset-entries
  auto text = [](const std::vector<int64_t>& v) {
    Elements out;
    for (int64_t i : v) out.push_back(std::to_string(i));
    return sorted(out);
  };
  RdbTestWriter w = writer_for(v);
  w.set_plain("plain", values)
      .set_plain("plain:ints", text(ints))
      .set_intset("intset:16", {5, -3, 1, 32767, -32768})
      .set_intset("intset:32", {32768, -32769, 0, INT32_MAX, INT32_MIN})
      .set_intset("intset:64", ints)
      .set_intset("intset:600", wide)
      .set_intset("intset:one", {INT64_MIN});

  auto [server, c] = load(w.end(), 7);
  require_same(smembers(*c, "plain"), sorted(values));
  require_same(smembers(*c, "plain:ints"), text(ints));
  require_same(smembers(*c, "intset:16"), text({5, -3, 1, 32767, -32768}));
  require_same(smembers(*c, "intset:32"), text({32768, -32769, 0, INT32_MAX, INT32_MIN}));
  require_same(smembers(*c, "intset:64"), text(ints));
  require_same(smembers(*c, "intset:600"), text(wide));
  require_same(smembers(*c, "intset:one"), text({INT64_MIN}));
}

TEST_CASE("sorted sets in every encoding load into Redis 7.0", "[rdb][writer][redis]") {
  const Variant& v = kVariants[GENERATE(range(0, 4))];
  INFO(v.name);
  ScoredMembers z = sample_zset(), ties = {{"b", 1}, {"a", 1}, {"c", 0}, {"", 1}}, many;
  for (int i = 0; i < 200; ++i) many.emplace_back("m" + std::to_string(i), (i * 7919) % 200 / 4.0);  // > 128 entries
  RdbTestWriter w = writer_for(v);
  w.zset_plain("plain", z)
      .zset_2("zset2", z)
      .zset_ziplist("ziplist", z)
      .zset_listpack("listpack", z)
      .zset_ziplist("ziplist:ties", ties)
      .zset_listpack("listpack:ties", ties)
      .zset_ziplist("ziplist:200", many)
      .zset_listpack("listpack:200", many);

  auto [server, c] = load(w.end(), 8);
  for (const char* key : {"plain", "zset2", "ziplist", "listpack"}) {
    INFO(key);
    require_same(zrange(*c, key), zset_expected(z));
  }
  require_same(zrange(*c, "ziplist:ties"), zset_expected(ties));
  require_same(zrange(*c, "listpack:ties"), zset_expected(ties));
  require_same(zrange(*c, "ziplist:200"), zset_expected(many));
  require_same(zrange(*c, "listpack:200"), zset_expected(many));
}

TEST_CASE("hashes in every encoding load into Redis 7.0", "[rdb][writer][redis]") {
  const Variant& v = kVariants[GENERATE(range(0, 4))];
  INFO(v.name);
  FieldValues pairs = sample_pairs(), many;
  for (int i = 0; i < 300; ++i) many.emplace_back("f" + std::to_string(i), std::to_string(i * 1000003LL));
  RdbTestWriter w = writer_for(v);
  w.hash_plain("plain", pairs)
      .hash_zipmap("zipmap", pairs)
      .hash_zipmap("zipmap:free", pairs, 3)  // unused bytes after every value
      .hash_zipmap("zipmap:300", many)       // count byte 254: "count them"
      .hash_ziplist("ziplist", pairs)
      .hash_listpack("listpack", pairs)
      .hash_ziplist("ziplist:300", many)
      .hash_listpack("listpack:one", {{"f", "1"}});

  auto [server, c] = load(w.end(), 8);
  for (const char* key : {"plain", "zipmap", "zipmap:free", "ziplist", "listpack"}) {
    INFO(key);
    require_same(hgetall(*c, key), hash_expected(pairs));
  }
  require_same(hgetall(*c, "zipmap:300"), hash_expected(many));
  require_same(hgetall(*c, "ziplist:300"), hash_expected(many));
  require_same(hgetall(*c, "listpack:one"), {"f", "1"});
}

TEST_CASE("expiry, idle time, aux fields and databases load into Redis 7.0", "[rdb][writer][redis]") {
  const Variant& v = kVariants[GENERATE(range(0, 4))];
  INFO(v.name);
  long long now = test::now_ms();
  int32_t in_two_hours = static_cast<int32_t>((now + 7200000) / 1000);
  RdbTestWriter w = writer_for(v);
  w.aux("ctime", std::to_string(now / 1000)).aux("ferry-test", "an aux field Redis does not know");
  w.select_db(0).resize_db(5, 3);
  w.expire_ms(now + 3600000).string_raw("ttl:ms", "a");
  w.expire_ms(now - 3600000).string_raw("ttl:past", "b");  // already expired: not loaded
  w.expire_s(in_two_hours).string_raw("ttl:s", "c");
  w.idle(1000).string_raw("idle", "d");
  w.expire_ms(now + 60000).idle(50).list_ziplist("ttl:list", {"1", "2"});
  w.select_db(3).resize_db(1, 0).string_raw("db3", "e");
  w.select_db(15).hash_listpack("db15", {{"f", "v"}});

  auto [server, c] = load(w.end(), 4);
  CHECK(c->checked({"PEXPIRETIME", "ttl:ms"}).integer == now + 3600000);
  CHECK(c->checked({"EXISTS", "ttl:past"}).integer == 0);
  CHECK(c->checked({"PEXPIRETIME", "ttl:s"}).integer == in_two_hours * 1000LL);
  CHECK(c->checked({"PEXPIRETIME", "ttl:list"}).integer == now + 60000);
  CHECK(c->checked({"PEXPIRETIME", "idle"}).integer == -1);
  long long idle = c->checked({"OBJECT", "IDLETIME", "idle"}).integer;
  CHECK(idle >= 1000);
  CHECK(idle < 1100);
  c->select(3);
  CHECK(get(*c, "db3") == "e");
  c->select(15);
  require_same(hgetall(*c, "db15"), {"f", "v"});
}

TEST_CASE("the LFU frequency byte reaches OBJECT FREQ", "[rdb][writer][redis]") {
  RdbTestWriter w;
  w.freq(200).string_raw("hot", "x").freq(0).string_raw("cold", "y");
  RedisServerOptions options;
  options.maxmemory_policy = "allkeys-lfu";
  auto server = start_on(w.end(), options);
  auto c = test::connect(*server);
  CHECK(c->checked({"OBJECT", "FREQ", "hot"}).integer == 200);
  CHECK(c->checked({"OBJECT", "FREQ", "cold"}).integer == 0);
}

// ---------------------------------------------------------------------------------------------
// What Redis 7.0 refuses

TEST_CASE("Redis 7.0 refuses a wrong checksum and accepts a zero one", "[rdb][writer][redis]") {
  auto file = [](bool checksum) {
    RdbTestWriter w;
    w.string_raw("k", "v").list_ziplist("l", {"1", "two"});
    return w.end(checksum);
  };
  std::string good = file(true);
  {
    auto server = start_on(good);
    CHECK(get(*test::connect(*server), "k") == "v");
  }
  std::string zero = file(false);
  CHECK(zero.substr(zero.size() - 8) == std::string(8, '\0'));
  {
    auto server = start_on(zero);
    require_same(lrange(*test::connect(*server), "l"), {"1", "two"});
  }
  std::string bad_crc = good;
  bad_crc.back() = static_cast<char>(bad_crc.back() ^ 1);
  CHECK_THAT(refusal(bad_crc), Catch::Contains("Wrong RDB checksum"));
  std::string bad_value = good;
  bad_value[good.find(hex("01 6b 01 76")) + 3] = 'w';  // the value of "k", CRC unchanged
  CHECK_THAT(refusal(bad_value), Catch::Contains("Wrong RDB checksum"));
}

TEST_CASE("Redis 7.0 refuses what it cannot load", "[rdb][writer][redis]") {
  SECTION("RDB version 11") {
    RdbTestWriter w(11);
    CHECK_THAT(refusal(w.string_raw("k", "v").end()), Catch::Contains("Can't handle RDB format version 11"));
  }
  SECTION("a NaN score") {
    RdbTestWriter w;
    w.zset_plain("z", {{"a", 1}, {"b", std::nan("")}});
    CHECK_THAT(refusal(w.end()), Catch::Contains("Zset with NAN score"));
  }
  SECTION("a listpack with a wrong backlen: proves the deep validation the load tests rely on") {
    std::string lp = RdbTestWriter::listpack_blob({"a", "b"});
    lp[lp.size() - 2] = static_cast<char>(lp[lp.size() - 2] + 1);
    RdbTestWriter w;
    w.raw(hex("10 01 6b")).raw(std::string(1, static_cast<char>(lp.size()))).raw(lp);
    CHECK_THAT(refusal(w.end()), Catch::Contains("listpack integrity check failed"));
  }
}

TEST_CASE("type 20 (set listpack, Redis 7.2+) is well formed", "[rdb][writer][redis]") {
  Elements members = sample_values();
  // The same listpack as a type 18 list node: <node count 1> <container 2> <blob>.
  RdbTestWriter as_set, as_list;
  as_set.set_listpack("s", members);
  as_list.list_quicklist2("s", members, 1000);
  std::string set_body = as_set.bytes().substr(9), list_body = as_list.bytes().substr(9);
  REQUIRE(set_body.substr(0, 3) == hex("14 01 73"));
  REQUIRE(list_body.substr(0, 5) == hex("12 01 73 01 02"));
  check_same("listpack", set_body.substr(3), list_body.substr(5));
  size_t pos = 3;
  uint64_t len = read_length(set_body, pos);
  REQUIRE(pos + len == set_body.size());
  CHECK(little_endian(set_body, pos, 4) == len);
  CHECK(little_endian(set_body, pos + 4, 2) == members.size());
  CHECK(static_cast<uint8_t>(set_body.back()) == 0xFF);
  // Redis 7.0 validates that listpack entry by entry when it is a list node.
  auto server = start_on(as_list.end());
  require_same(lrange(*test::connect(*server), "s"), members);
  // It cannot load type 20 itself (7.2 can).
  CHECK_THAT(refusal(as_set.end()), Catch::Contains("Unknown RDB encoding type 20"));
  WARN("redis-server 7.0 cannot load type 20 (set listpack): its listpack was checked as a list node instead");
}
