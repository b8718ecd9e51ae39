// Big keys go through the chunked native writer: a list of over a million elements, a string of
// tens of MB, and every aggregate type past a lowered threshold.
#include "support.h"

#include <nlohmann/json.hpp>

#include <fstream>

using namespace ferry;
using ferry::sim::RedisServer;
using ferry::test::run_ferry;

TEST_CASE("a 1.2-million-element list and a 40 MB string are copied in chunks", "[bigkey]") {
  RedisServer src, dst;
  auto s = test::connect(src), d = test::connect(dst);
  {
    Pipeline pipe(*s);
    for (int i = 0; i < 1200; ++i) {
      Args push{"RPUSH", "huge:list"};
      for (int j = 0; j < 1000; ++j) push.push_back("item:" + std::to_string(i * 1000 + j));
      pipe.send(push);
    }
    for (int i = 0; i < 40; ++i) pipe.send({"APPEND", "huge:string", std::string(1 << 20, static_cast<char>('a' + i % 26))});
    pipe.send({"PEXPIREAT", "huge:string", std::to_string(test::now_ms() + 86400000)});
    pipe.send({"SET", "small", "v"});
  }
  REQUIRE(s->checked({"LLEN", "huge:list"}).integer == 1200000);
  std::string report = dst.dir() + "/report.json";
  REQUIRE(run_ferry({"migrate", "--source", src.uri(), "--target", dst.uri(), "--report", report}).exit_code == 0);
  auto j = test::read_json(report);
  CHECK(j["copied"] == 3);
  CHECK(j["copied_chunked"] == 2);
  test::require_identical(*s, *d);
  CHECK(d->checked({"LINDEX", "huge:list", "1199999"}).str == "item:1199999");
  CHECK(d->checked({"STRLEN", "huge:string"}).integer == 40 << 20);
}

TEST_CASE("hash, set, zset and stream with groups past the threshold keep their state", "[bigkey]") {
  RedisServer src, dst;
  auto s = test::connect(src), d = test::connect(dst);
  {
    Pipeline pipe(*s);
    for (int i = 0; i < 50; ++i) {
      Args h{"HSET", "big:hash"}, st{"SADD", "big:set"}, z{"ZADD", "big:zset"};
      for (int j = 0; j < 1000; ++j) {
        int n = i * 1000 + j;
        h.insert(h.end(), {"field:" + std::to_string(n), "value:" + std::to_string(n)});
        st.push_back("member:" + std::to_string(n));
        z.insert(z.end(), {std::to_string(n / 7.0), "m" + std::to_string(n)});
      }
      pipe.send(h);
      pipe.send(st);
      pipe.send(z);
    }
    pipe.send({"ZADD", "big:zset", "inf", "plus-inf", "-inf", "minus-inf"});
    for (int i = 1; i <= 5000; ++i) pipe.send({"XADD", "big:stream", std::to_string(i) + "-0", "n", std::to_string(i)});
    pipe.send({"XGROUP", "CREATE", "big:stream", "workers", "0"});
    pipe.send({"XGROUP", "CREATE", "big:stream", "idle", "$"});
    pipe.send({"XREADGROUP", "GROUP", "workers", "w1", "COUNT", "2500", "STREAMS", "big:stream", ">"});
    pipe.send({"XREADGROUP", "GROUP", "workers", "w2", "COUNT", "1000", "STREAMS", "big:stream", ">"});
    pipe.send({"XACK", "big:stream", "workers", "1-0", "2-0", "3-0"});
    pipe.send({"XGROUP", "CREATECONSUMER", "big:stream", "workers", "w3"});
    pipe.send({"XDEL", "big:stream", "4999-0"});
    pipe.send({"PEXPIREAT", "big:hash", std::to_string(test::now_ms() + 5000000)});
  }
  std::string report = dst.dir() + "/report.json";
  auto r = run_ferry({"migrate", "--source", src.uri(), "--target", dst.uri(), "--big-key-threshold", "64K", "--report", report});
  REQUIRE(r.exit_code == 0);
  CHECK(test::read_json(report)["copied_chunked"] == 4);
  test::require_identical(*s, *d);
  CHECK(d->checked({"XPENDING", "big:stream", "workers"}).elements[0].integer == 3497);
}

TEST_CASE("a big hash with per-field expiry keeps it through the chunked writer; an older target refuses it",
          "[bigkey][versions]") {
  auto binary = test::other_server("redis-8.0");
  if (!binary) {
    WARN("skipped: redis-8.0 not fetched (run tools/fetch-servers)");
    return;
  }
  sim::RedisServerOptions v8;
  v8.binary = *binary;
  RedisServer src(v8);
  auto s = test::connect(src);
  const long long at = test::now_ms() + 3'600'000;
  {
    Pipeline pipe(*s);
    for (int i = 0; i < 3000; ++i) pipe.send({"HSET", "big:hash", "f" + std::to_string(i), "v" + std::to_string(i)});
    for (int i = 0; i < 3000; i += 7) pipe.send({"HPEXPIREAT", "big:hash", std::to_string(at + i), "FIELDS", "1", "f" + std::to_string(i)});
    pipe.send({"SET", "plain", "v"});
  }
  SECTION("8.0 -> 8.0: every field's expiry arrives, to the millisecond") {
    RedisServer dst(v8);
    auto d = test::connect(dst);
    std::string report = dst.dir() + "/report.json";
    REQUIRE(run_ferry({"migrate", "--source", src.uri(), "--target", dst.uri(), "--big-key-threshold", "1000", "--report",
                       report}).exit_code == 0);
    CHECK(test::read_json(report)["copied_chunked"] == 1);
    CHECK(d->checked({"HLEN", "big:hash"}).integer == 3000);
    for (int i = 0; i < 3000; i += 1) {
      Reply e = d->checked({"HPEXPIRETIME", "big:hash", "FIELDS", "1", "f" + std::to_string(i)});
      INFO("field f" << i);
      REQUIRE(e.elements.at(0).integer == (i % 7 == 0 ? at + i : -1));
    }
    CHECK(s->checked({"DEBUG", "DIGEST"}).str == d->checked({"DEBUG", "DIGEST"}).str);
  }
  SECTION("8.0 -> 7.0: refused by name, or skipped, counted and listed with --skip-unsupported") {
    RedisServer dst;
    auto d = test::connect(dst);
    auto refused = run_ferry({"migrate", "--source", src.uri(), "--target", dst.uri(), "--big-key-threshold", "1000",
                              "--accept-warnings"});
    CHECK(refused.exit_code == 1);
    CHECK(refused.err.find("per-field expiry") != std::string::npos);
    CHECK(d->checked({"DBSIZE"}).integer == 0);
    std::string report = dst.dir() + "/report.json";
    auto skipped = run_ferry({"migrate", "--source", src.uri(), "--target", dst.uri(), "--big-key-threshold", "1000",
                              "--accept-warnings", "--skip-unsupported", "--report", report});
    CHECK(skipped.exit_code == 0);
    auto j = test::read_json(report);
    CHECK(j["skipped_unsupported"] == 1);
    REQUIRE(j["unsupported"].size() == 1);
    CHECK(j["unsupported"][0]["key"] == "big:hash");
    CHECK(j["unsupported"][0]["why"].get<std::string>().find("per-field expiry") != std::string::npos);
    CHECK(d->checked({"EXISTS", "big:hash"}).integer == 0);
    CHECK(d->checked({"GET", "plain"}).str == "v");
  }
}
