// Connections against real servers: authentication forms, fast clear failures, bounded pipelining.
#include "support.h"

#include <chrono>
#include <signal.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <set>
#include <thread>

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

namespace {

// A loopback listener that is not a Redis server: it accepts, reads, and answers `reply` to the
// first bytes it gets (nothing at all when `reply` is empty).
class NotRedis {
 public:
  explicit NotRedis(std::string reply) : reply_(std::move(reply)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    REQUIRE(::listen(fd_, 16) == 0);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] {
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      char buf[4096];
      if (::recv(c, buf, sizeof buf, 0) > 0 && !reply_.empty()) ::send(c, reply_.data(), reply_.size(), MSG_NOSIGNAL);
      while (!done_ && ::recv(c, buf, sizeof buf, MSG_DONTWAIT) != 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));
      ::close(c);
    });
  }
  ~NotRedis() {
    done_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }
  int port() const { return port_; }

 private:
  std::string reply_;
  int fd_ = -1, port_ = 0;
  std::atomic<bool> done_{false};
  std::thread thread_;
};

}  // namespace

TEST_CASE("a listener that accepts and never answers fails within the connect timeout, not the read timeout",
          "[connection][dialer]") {
  NotRedis silent("");
  Endpoint ep;
  ep.role = "source";
  ep.port = silent.port();
  auto start = std::chrono::steady_clock::now();
  try {
    Connection::open(ep, Timeouts{std::chrono::milliseconds(500), std::chrono::milliseconds(60000)});
    FAIL("connected to a silent listener");
  } catch (const FerryError& e) {
    CHECK(e.code() == ExitCode::Connection);
    CHECK_THAT(e.what(), Catch::Contains("did not answer within the connect timeout"));
    CHECK_THAT(e.what(), Catch::Contains("source 127.0.0.1:" + std::to_string(silent.port())));
  }
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(30));  // not the 60 s read timeout

  // The same through the CLI: exit 4, the message names the server.
  NotRedis silent_too("");
  RedisServer target;
  auto r = test::run_ferry({"migrate", "--mode", "sync", "--source", "redis://127.0.0.1:" + std::to_string(silent_too.port()),
                            "--target", target.uri(), "--connect-timeout", "1"});
  CHECK(r.exit_code == 4);
  CHECK_THAT(r.err, Catch::Contains("did not answer"));
}

TEST_CASE("something that is not Redis is named so", "[connection][dialer]") {
  NotRedis http("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
  Endpoint ep;
  ep.role = "target";
  ep.port = http.port();
  std::string message;
  CHECK(open_error(ep, &message) == ExitCode::Connection);
  CHECK_THAT(message, Catch::Contains("not a Redis server"));
  CHECK_THAT(message, Catch::Contains("target 127.0.0.1:" + std::to_string(http.port())));
}

TEST_CASE("every connection of a task carries its name in CLIENT LIST", "[connection][dialer]") {
  RedisServer src, dst;
  auto s = test::connect(src);
  s->checked({"SET", "k", "v"});
  test::BackgroundFerry ferry({"migrate", "--mode", "sync", "--source", src.uri(), "--target", dst.uri(), "--task-id",
                               "t42"});
  test::wait_for_replica(*s, 20);
  auto names = [](Connection& c) {
    std::string list = c.checked({"CLIENT", "LIST"}).str;
    std::set<std::string> out;
    for (size_t at = list.find("name="); at != std::string::npos; at = list.find("name=", at + 1))
      out.insert(list.substr(at + 5, list.find(' ', at) - at - 5));
    return out;
  };
  auto d = test::connect(dst);
  auto on_source = names(*s), on_target = names(*d);
  CHECK(on_source.count("ferry-t42-source"));
  CHECK(on_source.count("ferry-t42-replica"));
  CHECK(on_target.count("ferry-t42-target"));
  CHECK(ferry.stop().exit_code == 0);
}
