// The fault proxy in front of a real redis-server, observed from a raw socket: latency measured,
// bandwidth limited, writes sliced, bytes cut exactly where asked, a reset seen as ECONNRESET, a
// blackhole that holds then delivers, refused connections, and a reset in the middle of a real
// replica's snapshot.
#include "proxy/fault_proxy.h"
#include "support.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <random>
#include <thread>

using namespace ferry;
using namespace ferry::sim;

namespace {

// A plain TCP client on 127.0.0.1, closed with the object.
struct RawClient {
  int fd = -1;
  int connect_errno = 0;
  explicit RawClient(int port) {
    fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) connect_errno = errno;
  }
  ~RawClient() {
    if (fd >= 0) ::close(fd);
  }
  void send(const std::string& s) const { REQUIRE(::send(fd, s.data(), s.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(s.size())); }
  // Reads until `want` bytes, EOF, an error or the timeout. `reads` counts the recv calls that got data.
  struct Result {
    std::string data;
    bool eof = false;
    int error = 0;
    int reads = 0;
  };
  Result read(size_t want, int timeout_ms = 5000) const {
    Result r;
    auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    char buf[65536];
    while (r.data.size() < want) {
      int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now()).count());
      if (left <= 0) break;
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, left) <= 0) break;
      ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n == 0) {
        r.eof = true;
        break;
      }
      if (n < 0) {
        r.error = errno;
        break;
      }
      ++r.reads;
      r.data.append(buf, static_cast<size_t>(n));
    }
    return r;
  }
};

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

const std::string kPing = "*1\r\n$4\r\nPING\r\n";

}  // namespace

TEST_CASE("fault specs parse, and bad ones are named", "[proxy]") {
  FaultSpec f = parse_fault_spec("latency:ms=100,jitter=20,dir=up,at=50,for=1000");
  CHECK(f.kind == FaultKind::Latency);
  CHECK(f.ms == 100);
  CHECK(f.jitter_ms == 20);
  CHECK(f.dir == Direction::Up);
  CHECK(f.at_ms == 50);
  CHECK(f.for_ms == 1000);
  FaultSpec r = parse_fault_spec("reset:after-psync-bytes=3M");
  CHECK(r.after_psync_bytes == 3u * 1024 * 1024);
  CHECK(r.dir == Direction::Down);
  CHECK(parse_fault_spec("bandwidth:rate=64K").rate == 64 * 1024);
  for (const char* bad : {"jitterbug", "latency", "latency:ms=x", "bandwidth", "reset:after-bytes=-1", "slicer:rate=1",
                          "latency:ms=10,dir=sideways", "close:at"}) {
    INFO(bad);
    CHECK_THROWS_AS(parse_fault_spec(bad), FerryError);
  }
}

TEST_CASE("latency, bandwidth and slicing are observable through the proxy", "[proxy]") {
  RedisServer server;
  FaultProxy proxy("127.0.0.1", server.port());
  RawClient c(proxy.port());
  REQUIRE(c.connect_errno == 0);
  c.send(kPing);
  CHECK(c.read(7).data == "+PONG\r\n");

  SECTION("latency one way, then both ways") {
    int up = proxy.add("latency:ms=150,dir=up");
    auto t0 = std::chrono::steady_clock::now();
    c.send(kPing);
    CHECK(c.read(7).data == "+PONG\r\n");
    double one_way = seconds_since(t0);
    proxy.add("latency:ms=150,dir=down");
    t0 = std::chrono::steady_clock::now();
    c.send(kPing);
    CHECK(c.read(7).data == "+PONG\r\n");
    double both = seconds_since(t0);
    proxy.remove(up);
    WARN("round trip with 150 ms up: " << one_way << " s; with 150 ms each way: " << both << " s");
    CHECK(one_way >= 0.15);
    CHECK(both >= 0.30);
  }
  SECTION("bandwidth") {
    test::connect(server)->checked({"SET", "big", std::string(400000, 'x')});
    proxy.add("bandwidth:rate=1M,dir=down");
    auto t0 = std::chrono::steady_clock::now();
    c.send("*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n");
    auto r = c.read(400000 + 11, 10000);
    double took = seconds_since(t0);
    CHECK(r.data.size() == 400000 + 11);
    WARN("400 KB at 1 MB/s took " << took << " s");
    CHECK(took >= 0.3);
  }
  SECTION("slicer") {
    test::connect(server)->checked({"SET", "v", std::string(200, 'y')});
    proxy.add("slicer:size=10,delay-us=2000,dir=down");
    c.send("*2\r\n$3\r\nGET\r\n$1\r\nv\r\n");
    auto r = c.read(200 + 8);
    CHECK(r.data.size() == 208);
    CHECK(r.reads >= 10);  // 21 pieces of 10 bytes, 2 ms apart: many separate reads
  }
}

TEST_CASE("close and reset cut exactly where asked; a reset is ECONNRESET to the client", "[proxy]") {
  RedisServer server;
  test::connect(server)->checked({"SET", "big", std::string(100000, 'z')});
  FaultProxy proxy("127.0.0.1", server.port());
  const std::string get = "*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n";
  SECTION("close after N bytes") {
    proxy.add("close:after-bytes=5000,dir=down");
    RawClient c(proxy.port());
    c.send(get);
    auto r = c.read(200000);
    CHECK(r.data.size() == 5000);
    CHECK(r.eof);
    CHECK(proxy.stats().closes == 1);
  }
  SECTION("reset after N bytes") {
    proxy.add("reset:after-bytes=3000,dir=down");
    RawClient c(proxy.port());
    c.send(get);
    auto r = c.read(200000);
    CHECK(r.data.size() <= 3000);  // a reset may also drop what was in flight
    CHECK(r.error == ECONNRESET);
    CHECK(proxy.stats().resets == 1);
    RawClient again(proxy.port());  // fired once: the next connection is left alone
    again.send(get);
    CHECK(again.read(100000 + 11).data.size() == 100011);
  }
  SECTION("reset now, at a time") {
    RawClient c(proxy.port());
    c.send(kPing);
    CHECK(c.read(7).data == "+PONG\r\n");
    proxy.add("reset:at=200");
    auto r = c.read(1, 3000);
    CHECK(r.error == ECONNRESET);
  }
}

TEST_CASE("a blackhole holds the connection open; refuse refuses new connections", "[proxy]") {
  RedisServer server;
  FaultProxy proxy("127.0.0.1", server.port());
  SECTION("blackhole") {
    RawClient c(proxy.port());
    proxy.add("blackhole:for=600");
    auto t0 = std::chrono::steady_clock::now();
    c.send(kPing);
    auto early = c.read(7, 300);
    CHECK(early.data.empty());
    CHECK_FALSE(early.eof);
    auto late = c.read(7, 3000);
    CHECK(late.data == "+PONG\r\n");
    CHECK(seconds_since(t0) >= 0.5);
  }
  SECTION("refuse") {
    proxy.add("refuse:for=500");
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    RawClient refused(proxy.port());
    CHECK(refused.connect_errno == ECONNREFUSED);
    std::this_thread::sleep_for(std::chrono::milliseconds(600));
    RawClient ok(proxy.port());
    CHECK(ok.connect_errno == 0);
    ok.send(kPing);
    CHECK(ok.read(7).data == "+PONG\r\n");
    CHECK(proxy.stats().refusals == 1);
  }
}

TEST_CASE("reset after N snapshot bytes hits a real replica mid-snapshot, whatever connected first", "[proxy][repl]") {
  RedisServer master, replica;
  auto m = test::connect(master);
  {
    std::mt19937_64 rng(7);  // values LZF cannot shrink: the snapshot is about 3 MB
    Pipeline pipe(*m);
    for (int i = 0; i < 3000; ++i) {
      std::string v(1000, ' ');
      for (auto& ch : v) ch = static_cast<char>('!' + rng() % 90);
      pipe.send({"SET", "k" + std::to_string(i), v});
    }
  }
  FaultProxy proxy("127.0.0.1", master.port());
  proxy.add("reset:after-psync-bytes=1000000");
  // A plain client moves more than a megabyte first: not a sync, so not counted.
  RawClient plain(proxy.port());
  for (int i = 0; i < 2000; ++i) plain.send("*2\r\n$3\r\nGET\r\n$2\r\nk1\r\n");
  CHECK(plain.read(2000 * 1009).data.size() == 2000 * 1009);
  CHECK(proxy.stats().resets == 0);

  auto r = test::connect(replica);
  r->checked({"REPLICAOF", "127.0.0.1", std::to_string(proxy.port())});
  for (int i = 0; i < 300 && !(proxy.stats().resets == 1 && r->info("replication")["master_link_status"] == "up"); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  CHECK(proxy.stats().resets == 1);
  CHECK(r->info("replication")["master_link_status"] == "up");  // the second sync went through
  CHECK(r->checked({"DBSIZE"}).integer == 3000);
  CHECK(master.log_tail(20000).find("Connection with replica") != std::string::npos);
}
