// Corrupt and truncated RDB input: every prefix of small files and seeded random byte flips in
// larger ones must end in a clean RdbError (exit 5 in the CLI), never a crash, a hang, an
// out-of-bounds read (the sanitizer build runs this too) or a huge allocation.
#include "support.h"
#include "io/byte_source.h"
#include "rdb/rdb_parser.h"
#include "workload/mixed_dataset.h"

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

using namespace ferry;
using ferry::sim::RedisServer;
using ferry::sim::RedisServerOptions;

namespace {

using test::read_file;

// A visitor that touches everything it is given, so the sanitizer sees every byte handed over.
struct TouchAll : rdb::RdbVisitor {
  uint64_t sum = 0;
  void touch(std::string_view s) {
    for (char c : s) sum += static_cast<unsigned char>(c);
  }
  void on_string_chunk(std::string_view c) override { touch(c); }
  void on_list_items(std::vector<std::string>& v) override { for (auto& s : v) touch(s); }
  void on_set_members(std::vector<std::string>& v) override { for (auto& s : v) touch(s); }
  void on_hash_fields(std::vector<FieldValue>& v) override { for (auto& [f, x] : v) { touch(f); touch(x); } }
  void on_zset_members(std::vector<std::pair<std::string, double>>& v) override { for (auto& [m, _] : v) touch(m); }
  void on_stream_entries(std::vector<StreamEntry>& v) override { for (auto& e : v) for (auto& f : e.fields_values) touch(f); }
};

enum class Outcome { Parsed, Truncated, Corrupt };

Outcome parse(std::string_view bytes) {
  io::MemorySource source(bytes, "test input");
  TouchAll visitor;
  rdb::RdbParser parser(source, visitor);
  try {
    parser.parse();
    return Outcome::Parsed;
  } catch (const rdb::RdbError& e) {
    std::string message = e.what();
    CHECK(message.find("offset") != std::string::npos);
    CHECK(e.code() == ExitCode::CorruptInput);
    return e.kind() == rdb::RdbError::Kind::Truncated ? Outcome::Truncated : Outcome::Corrupt;
  }
}

// An RDB of every type written by the installed server, small enough to cut at every offset.
std::string small_server_rdb(bool checksum) {
  RedisServerOptions o;
  if (!checksum) o.config = {{"rdbchecksum", "no"}};
  RedisServer server(o);
  auto c = test::connect(server);
  c->checked({"SET", "str", "hello"});
  c->checked({"SET", "int", "123456"});
  c->checked({"SET", "lzf", std::string(300, 'z')});
  c->checked({"RPUSH", "list", "a", "1", "bb"});
  c->checked({"SADD", "intset", "1", "2", "300000"});
  c->checked({"SADD", "set", "x", "y"});
  c->checked({"ZADD", "zset", "1.5", "a", "inf", "b"});
  c->checked({"HSET", "hash", "f", "v", "n", "7"});
  c->checked({"XADD", "stream", "1-1", "f", "v"});
  c->checked({"XADD", "stream", "2-1", "f", "w", "g", "x"});
  c->checked({"XGROUP", "CREATE", "stream", "grp", "0"});
  c->checked({"XREADGROUP", "GROUP", "grp", "alice", "COUNT", "1", "STREAMS", "stream", ">"});
  c->checked({"PEXPIRE", "str", "100000000"});
  c->checked({"FUNCTION", "LOAD", "#!lua name=l\nredis.register_function('f', function() return 1 end)"});
  c->checked({"SAVE"});
  return read_file(server.dir() + "/dump.rdb");
}

}  // namespace

TEST_CASE("every prefix of a small RDB is reported as truncated", "[rdb][corrupt]") {
  std::vector<std::pair<std::string, std::string>> files{{"server RDB", small_server_rdb(true)}};
  std::string corpus = std::string(FERRY_SHARED_DIR) + "/rdb-corpus";
  if (std::filesystem::exists(corpus)) {
    for (const auto& entry : std::filesystem::directory_iterator(corpus))
      if (entry.path().extension() == ".rdb") files.emplace_back(entry.path().filename(), read_file(entry.path()));
  } else {
    WARN("corpus part skipped: " << corpus << " is absent");
  }
  for (const auto& [name, bytes] : files) {
    INFO(name << " (" << bytes.size() << " bytes)");
    REQUIRE(bytes.size() <= 16 * 1024);
    REQUIRE(parse(bytes) == Outcome::Parsed);
    size_t truncated = 0;
    for (size_t cut = 0; cut < bytes.size(); ++cut) {
      INFO("cut at " << cut);
      Outcome o = parse(std::string_view(bytes).substr(0, cut));
      CHECK(o != Outcome::Parsed);
      truncated += o == Outcome::Truncated;
    }
    // Old files without a checksum can end in a way that reads as a bad structure, but cuts are
    // overwhelmingly recognised as truncation.
    CHECK(truncated * 10 >= bytes.size() * 9);
  }
}

TEST_CASE("random byte flips give a clean error, every time with a checksum", "[rdb][corrupt]") {
  uint64_t seed = std::getenv("FERRY_SEED") ? std::strtoull(std::getenv("FERRY_SEED"), nullptr, 10) : 20261124;
  INFO("reproduce with FERRY_SEED=" << seed << " build/rdb_corrupt_test \"random byte flips*\"");
  std::mt19937_64 rng(seed);

  // A larger file: the mixed dataset.
  RedisServer server;
  auto c = test::connect(server);
  sim::MixedDatasetOptions fill;
  fill.seed = seed;
  fill.keys_per_db = 300;
  sim::fill_mixed_dataset(*c, fill);
  c->checked({"SAVE"});
  std::string with_crc = read_file(server.dir() + "/dump.rdb");
  RedisServerOptions no_crc;  // the same data, saved by a server with checksums off
  no_crc.rdb_file = server.dir() + "/dump.rdb";
  no_crc.config = {{"rdbchecksum", "no"}};
  RedisServer plain(no_crc);
  test::connect(plain)->checked({"SAVE"});
  std::string without_crc = read_file(plain.dir() + "/dump.rdb");
  REQUIRE(parse(with_crc) == Outcome::Parsed);
  REQUIRE(parse(without_crc) == Outcome::Parsed);

  // Under AddressSanitizer (the test command's second pass) a parse is ~30x slower: fewer rounds
  // there keep the test command within its budget; the plain build runs them all.
#if defined(__SANITIZE_ADDRESS__)
  constexpr int kRounds = 100;
#else
  constexpr int kRounds = 300;
#endif
  for (int round = 0; round < kRounds; ++round) {
    for (bool checksum : {true, false}) {
      std::string bytes = checksum ? with_crc : without_crc;
      int flips = 1 + static_cast<int>(rng() % 4);
      std::string where;
      for (int f = 0; f < flips; ++f) {
        size_t at = rng() % bytes.size();
        auto mask = static_cast<unsigned char>(1 + rng() % 255);
        bytes[at] = static_cast<char>(bytes[at] ^ mask);
        where += std::to_string(at) + " ";
      }
      INFO("round " << round << (checksum ? " with" : " without") << " checksum, flipped at " << where);
      Outcome o = parse(bytes);
      if (checksum) CHECK(o != Outcome::Parsed);
    }
  }
}

TEST_CASE("lengths that announce more than the file holds fail before allocating", "[rdb][corrupt]") {
  // "REDIS0010", a string key whose value claims 2^62 bytes (64-bit length form).
  std::string bytes = "REDIS0010";
  bytes += '\0';                       // type: string
  bytes += "\x01k";                    // key "k"
  bytes += "\x81";                     // 64-bit length follows
  bytes += std::string("\x40\0\0\0\0\0\0\0", 8);
  CHECK(parse(bytes) == Outcome::Truncated);
  // A list claiming 2^32-1 elements in a few bytes.
  std::string list = "REDIS0006";
  list += '\x01';
  list += "\x01k";
  list += "\x80\xff\xff\xff\xff";
  list += "\x01x";
  CHECK(parse(list) == Outcome::Truncated);
}
