// Connections against real servers: authentication forms, fast clear failures, bounded pipelining.
#include "support.h"

#include <chrono>
#include <signal.h>

using namespace ferry;
using ferry::sim::RedisServer;
using ferry::sim::RedisServerOptions;

namespace {
Endpoint endpoint_of(const RedisServer& s, std::string user, std::optional<std::string> password) {
  Endpoint ep = s.endpoint("source");
  ep.user = std::move(user);
  ep.password = std::move(password);
  return ep;
}

ExitCode open_error(const Endpoint& ep, std::string* message = nullptr) {
  try {
    Connection::open(ep, Timeouts{std::chrono::milliseconds(1000), std::chrono::milliseconds(2000)});
  } catch (const FerryError& e) {
    if (message) *message = e.what();
    return e.code();
  }
  return ExitCode::Ok;
}
}  // namespace

TEST_CASE("requirepass: right, wrong and missing password", "[connection]") {
  RedisServerOptions o;
  o.requirepass = "s3cret-pw";
  RedisServer server(o);

  auto conn = Connection::open(endpoint_of(server, "", "s3cret-pw"));
  CHECK(conn->command({"PING"}).str == "PONG");

  std::string message;
  CHECK(open_error(endpoint_of(server, "", "wrong-pw"), &message) == ExitCode::Connection);
  CHECK(message.find("wrong user name or password") != std::string::npos);
  CHECK(message.find("wrong-pw") == std::string::npos);
  CHECK(message.find(std::to_string(server.port())) != std::string::npos);

  CHECK(open_error(endpoint_of(server, "", std::nullopt), &message) == ExitCode::Connection);
  CHECK(message.find("NOAUTH") != std::string::npos);
}

TEST_CASE("ACL user:password in the URI form and in the cloud console form", "[connection]") {
  RedisServerOptions o;
  o.acl_users = {"alice on >alice-pw ~* &* +@all"};
  RedisServer server(o);

  auto a = Connection::open(endpoint_of(server, "alice", "alice-pw"));
  CHECK(a->command({"ACL", "WHOAMI"}).str == "alice");

  // "alice:alice-pw" given as the password, as cloud consoles print it.
  auto b = Connection::open(endpoint_of(server, "", "alice:alice-pw"));
  CHECK(b->command({"ACL", "WHOAMI"}).str == "alice");

  std::string message;
  CHECK(open_error(endpoint_of(server, "alice", "nope"), &message) == ExitCode::Connection);
  CHECK(message.find("nope") == std::string::npos);
}

TEST_CASE("a refused connection fails fast with exit code 4", "[connection]") {
  int port = sim::free_loopback_port();  // nothing listens there
  Endpoint ep;
  ep.role = "target";
  ep.port = port;
  auto start = std::chrono::steady_clock::now();
  std::string message;
  CHECK(open_error(ep, &message) == ExitCode::Connection);
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(5));
  CHECK(message.find("target 127.0.0.1:" + std::to_string(port)) != std::string::npos);
}

TEST_CASE("the pipeline keeps at most max_commands in flight and delivers replies in order", "[connection]") {
  RedisServer server;
  auto conn = test::connect(server);
  Pipeline pipe(*conn, PipelineLimits{7, 1 << 20});
  std::vector<long long> got;
  size_t max_in_flight = 0;
  for (int i = 0; i < 100; ++i) {
    pipe.send({"INCR", "counter"}, [&got](Reply&& r) { got.push_back(r.integer); });
    max_in_flight = std::max(max_in_flight, pipe.in_flight());
  }
  pipe.drain();
  CHECK(max_in_flight <= 7);
  REQUIRE(got.size() == 100);
  for (int i = 0; i < 100; ++i) CHECK(got[i] == i + 1);
  CHECK(conn->command({"GET", "counter"}).str == "100");
}

TEST_CASE("an error reply nobody handles is not dropped", "[connection]") {
  RedisServer server;
  auto conn = test::connect(server);
  conn->command({"SET", "s", "x"});
  Pipeline pipe(*conn);
  pipe.send({"LPUSH", "s", "y"});  // WRONGTYPE
  CHECK_THROWS_AS(pipe.drain(), CommandError);
}

TEST_CASE("the fixture stops its server by PID", "[connection][fixture]") {
  int pid = 0;
  {
    RedisServer server;
    pid = server.pid();
    REQUIRE(::kill(pid, 0) == 0);
  }
  CHECK(::kill(pid, 0) != 0);  // gone (and reaped)
}
