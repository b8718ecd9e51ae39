// URI parsing and password sources: no server needed.
#include "core/error.h"
#include "redis/endpoint.h"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>

using namespace ferry;

TEST_CASE("URI with host and port only", "[endpoint]") {
  Endpoint ep = parse_redis_uri("redis://10.1.2.3:7000", "source");
  CHECK(ep.host == "10.1.2.3");
  CHECK(ep.port == 7000);
  CHECK(ep.user.empty());
  CHECK_FALSE(ep.password);
  CHECK_FALSE(ep.db);
  CHECK(ep.describe() == "source 10.1.2.3:7000");
}

TEST_CASE("URI password-only, ACL user:password, db and %-escapes", "[endpoint]") {
  Endpoint a = parse_redis_uri("redis://:s3cret@localhost:6380/5", "target");
  CHECK(a.user.empty());
  CHECK(*a.password == "s3cret");
  CHECK(*a.db == 5);

  Endpoint b = parse_redis_uri("redis://alice:p%40ss%3Aword@h:1", "source");
  CHECK(b.user == "alice");
  CHECK(*b.password == "p@ss:word");
  CHECK(b.describe() == "source h:1 (user alice)");
  CHECK(b.describe().find("p@ss") == std::string::npos);

  Endpoint c = parse_redis_uri("redis://[::1]:6379/0", "source");
  CHECK(c.host == "::1");
  CHECK(c.port == 6379);
  CHECK(*c.db == 0);

  Endpoint d = parse_redis_uri("redis://u:pa@ss@h:2", "source");  // raw '@' in the password
  CHECK(*d.password == "pa@ss");
  CHECK(d.host == "h");
}

TEST_CASE("rediss:// means TLS, named in messages; the password still never is", "[endpoint]") {
  Endpoint ep = parse_redis_uri("rediss://alice:s3cret@db.example.com:6380/2", "target");
  CHECK(ep.tls.enabled);
  CHECK(ep.host == "db.example.com");
  CHECK(ep.port == 6380);
  CHECK(*ep.db == 2);
  CHECK(ep.describe() == "target db.example.com:6380 (user alice, TLS)");
  CHECK_FALSE(parse_redis_uri("redis://h:1", "source").tls.enabled);
  CHECK(parse_redis_uri("rediss://h:1", "source").describe() == "source h:1 (TLS)");
}

TEST_CASE("bad URIs are usage errors that never echo the password", "[endpoint]") {
  for (const char* bad : {"http://h:1", "redis+tls://h:1", "rediss:/h:1", "redis://h:notaport", "redis://h:70000", "redis://h:1/256", "redis://h:1/x",
                          "redis://:topsecret@:1", "redis://u:p%zz@h:1"}) {
    INFO(bad);
    try {
      parse_redis_uri(bad, "source");
      FAIL("accepted");
    } catch (const FerryError& e) {
      CHECK(e.code() == ExitCode::Usage);
      CHECK(std::string(e.what()).find("topsecret") == std::string::npos);
    }
  }
}

TEST_CASE("password from file beats the environment, which beats the URI", "[endpoint]") {
  Endpoint ep = parse_redis_uri("redis://:fromuri@h:1", "source");
  ::setenv("FERRY_TEST_PW", "fromenv", 1);
  resolve_password(ep, "", "FERRY_TEST_PW");
  CHECK(*ep.password == "fromenv");
  std::string path = "/tmp/ferry-endpoint-test-pw";
  std::ofstream(path) << "fromfile\n";
  resolve_password(ep, path, "FERRY_TEST_PW");
  CHECK(*ep.password == "fromfile");
  ::unsetenv("FERRY_TEST_PW");
  CHECK_THROWS_AS(resolve_password(ep, "/nonexistent/pw", nullptr), FerryError);
}
