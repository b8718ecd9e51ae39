// TLS against real TLS-only redis-servers with certificates made per run: a sync with mutual TLS on
// the target and tls-replication on the source, through the fault proxy (TLS bytes untouched) with
// a link reset under the write load; a cluster over TLS (CLUSTER SHARDS' tls-port); every refusal
// in words with exit 4 (unknown CA, name mismatch, expired, missing or refused client
// certificate, plain text on a TLS port and back); unusable files exit 3; passwords and key
// material never printed.
#include "process/tls_files.h"
#include "proxy/fault_proxy.h"
#include "support.h"
#include "topology/topology.h"
#include "workload/command_workload.h"
#include "workload/mixed_dataset.h"

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

using namespace ferry;
using ferry::sim::RedisServer;
using ferry::sim::RedisServerOptions;
using ferry::test::BackgroundFerry;

namespace {

// The base64 body of a PEM key file: none of it may appear in what ferry prints or writes.
std::string key_body(const std::string& key_file) {
  std::string pem = test::read_file(key_file);
  auto start = pem.find('\n') + 1;
  return pem.substr(start, 40);
}

RedisServerOptions tls_server(const sim::TlsFiles& files, const std::string& auth_clients, const std::string& password = {}) {
  RedisServerOptions o;
  o.tls = sim::server_tls(files, auth_clients);
  if (!password.empty()) o.requirepass = password;
  return o;
}

void check_secret_free(const std::string& text, const sim::TlsFiles& files, const std::string& password) {
  CHECK(text.find(password) == std::string::npos);
  CHECK(text.find(key_body(files.client.key)) == std::string::npos);
  CHECK(text.find("PRIVATE KEY") == std::string::npos);
}

}  // namespace

TEST_CASE("sync over TLS: mutual TLS target, tls-replication source, a link reset under the write load", "[tls]") {
  const sim::TlsFiles files = sim::make_tls_files();
  const std::string password = "tls-Pa55-word";
  // The source has a native replica over TLS (tls-replication): a second ground truth.
  sim::TopologySpec spec;
  spec.master = tls_server(files, "optional", password);
  spec.replicas = 1;
  sim::Topology source(spec);
  RedisServer& src = source.master();
  RedisServer dst(tls_server(files, "yes", password));
  auto s = test::connect(src);
  sim::MixedDatasetOptions data;
  data.seed = 23;
  data.keys_per_db = 3000;
  data.dbs = {0, 3};
  sim::fill_mixed_dataset(*s, data);

  // Through the proxy: the certificate is still checked against 127.0.0.1.
  sim::FaultProxy proxy("127.0.0.1", src.port());
  // The TLS stream cut inside the snapshot (the proxy cannot read PSYNC in TLS bytes: a byte count
  // on the connection that carries the snapshot).
  proxy.add("reset:after-bytes=300000,dir=down");
  const std::string dir = dst.dir();
  const std::string report = dir + "/r.json", log = dir + "/ferry.log", task = dir + "/task.toml";
  // The target's TLS comes from the task file, the source's from flags; the passwords from the
  // environment.
  std::ofstream(task) << fmt::format("[target]\nuri = \"redis://127.0.0.1:{}\"\ntls = true\ntls-ca = \"{}\"\n"
                                     "tls-cert = \"{}\"\ntls-key = \"{}\"\n",
                                     dst.port(), files.ca, files.client.cert, files.client.key);
  std::vector<std::string> args{"migrate", "--config", task, "--mode", "sync", "--source",
                                fmt::format("rediss://127.0.0.1:{}", proxy.port()), "--no-heartbeat", "--report", report,
                                "--log-file", log, "--log-level", "debug"};
  for (const auto& f : src.tls_flags("source")) args.push_back(f);
  ::setenv("FERRY_SOURCE_PASSWORD", password.c_str(), 1);
  ::setenv("FERRY_TARGET_PASSWORD", password.c_str(), 1);
  BackgroundFerry ferry(args);
  ::unsetenv("FERRY_SOURCE_PASSWORD");
  ::unsetenv("FERRY_TARGET_PASSWORD");
  test::wait_for_replica(*s, 60, 2);  // the native replica, and ferry
  CHECK(proxy.stats().resets == 1);

  sim::CommandWorkload load(*s, 41);
  for (int i = 0; i < 3; ++i) load.round();
  proxy.add("reset");  // mid-stream: ferry resumes by partial resync, over a new TLS session
  for (int i = 0; i < 3; ++i) load.round();
  proxy.add("reset:after-bytes=3000,dir=down");  // inside a TLS record
  for (int i = 0; i < 3; ++i) load.round();

  auto d = test::connect(dst);
  test::check_converges(*s, *d, 60);
  test::check_converges(*test::connect(source.replica(0)), *d, 60);
  CHECK(proxy.stats().resets >= 3);
  auto r = ferry.stop();
  INFO(r.err);
  CHECK(r.exit_code == 0);
  auto j = test::read_json(report);
  CHECK(j["partial_resyncs"].get<long long>() >= 1);
  CHECK(j["stream"]["errors"] == 0);
  // ferry's connections on the target are TLS ones: the server has no plain port at all.
  CHECK(d->checked({"CONFIG", "GET", "port"}).elements.at(1).str == "0");
  for (const auto& text : {r.out, r.err, test::read_file(report), test::read_file(log)}) check_secret_free(text, files, password);
  CHECK(test::read_file(log).find("(TLS)") != std::string::npos);
}

TEST_CASE("each TLS failure is refused in words with exit 4, unusable files with exit 3", "[tls]") {
  const sim::TlsFiles files = sim::make_tls_files();
  RedisServer plain, mutual(tls_server(files, "yes")), open_tls(tls_server(files, "no"));
  // An expired server certificate, signed by a CA of its own that ferry is given.
  sim::CertAuthority expired_ca(files.dir, "expired-ca");
  RedisServerOptions expired_options = tls_server(files, "no");
  expired_options.tls->ca = expired_ca.cert_file();
  expired_options.tls->cert = expired_ca.issue("expired", {"expired", {"localhost"}, {"127.0.0.1"}, -2 * 86400, -86400});
  RedisServer expired(expired_options);
  sim::CertAuthority stranger(files.dir, "stranger-ca");
  const sim::CertFiles stranger_client = stranger.issue("stranger-client", {"stranger", {}, {}});

  auto migrate = [&](const RedisServer& target, std::vector<std::string> target_flags, const std::string& scheme = "rediss") {
    std::vector<std::string> args{"migrate", "--mode", "scan", "--source", plain.uri(), "--target",
                                  fmt::format("{}://127.0.0.1:{}", scheme, target.port()), "--connect-timeout", "2"};
    args.insert(args.end(), target_flags.begin(), target_flags.end());
    return test::run_ferry(args);
  };
  struct Case {
    const char* name;
    const RedisServer* server;
    std::vector<std::string> flags;
    std::vector<std::string> says;  // in the message, in order of appearance not required
    int exit_code = 4;
    std::string scheme = "rediss";
  };
  const std::vector<Case> cases{
      {"no CA given: the system store does not know the test CA", &open_tls, {}, {"not signed by a CA ferry trusts", "--target-tls-ca"}},
      {"the wrong CA", &open_tls, {"--target-tls-ca", stranger.cert_file()}, {"unknown CA", "--target-tls-ca"}},
      {"the wrong name", &open_tls, {"--target-tls-ca", files.ca, "--target-tls-server-name", "redis.example.com"},
       {"not for 'redis.example.com'", "name mismatch", "127.0.0.1", "--target-tls-server-name"}},
      {"an expired certificate", &expired, {"--target-tls-ca", expired_ca.cert_file()}, {"has expired", "valid until"}},
      {"no client certificate for a server that asks", &mutual, {"--target-tls-ca", files.ca},
       {"asks for a client certificate", "--target-tls-cert", "--target-tls-key"}},
      {"a client certificate the server does not trust", &mutual,
       {"--target-tls-ca", files.ca, "--target-tls-cert", stranger_client.cert, "--target-tls-key", stranger_client.key},
       {"accept", "ferry's client certificate"}},
      {"plain text to a TLS port", &open_tls, {}, {"rediss://", "--target-tls"}, 4, "redis"},
      {"TLS to a plain port", &plain, {"--target-tls-ca", files.ca}, {"does not speak TLS", "redis://"}},
      {"a key that is not the certificate's", &mutual,
       {"--target-tls-ca", files.ca, "--target-tls-cert", files.client.cert, "--target-tls-key", files.server.key},
       {"does not belong to the certificate"}, 3},
      {"a CA file that is not there", &open_tls, {"--target-tls-ca", files.dir + "/nothing.crt"}, {"cannot be read", "nothing.crt"}, 3},
      {"a certificate without its key", &mutual, {"--target-tls-ca", files.ca, "--target-tls-cert", files.client.cert},
       {"--target-tls-cert and --target-tls-key go together"}, 3},
  };
  for (const auto& c : cases) {
    INFO(c.name);
    auto r = migrate(*c.server, c.flags, c.scheme);
    INFO(r.err);
    CHECK(r.exit_code == c.exit_code);
    for (const auto& s : c.says) CHECK(r.err.find(s) != std::string::npos);
    CHECK(r.err.find("reset by peer") == std::string::npos);
    check_secret_free(r.out + r.err, files, "no password here");
    CHECK(r.err.find(key_body(stranger_client.key)) == std::string::npos);
  }
  // And with the checks off (--target-tls-insecure) the expired one is used: encrypted, unchecked.
  auto s = test::connect(plain);
  s->checked({"SET", "k", "v"});
  auto r = migrate(expired, {"--target-tls-insecure"});
  INFO(r.err);
  CHECK(r.exit_code == 0);
  Endpoint unchecked = expired.endpoint();
  unchecked.tls.insecure = true;
  CHECK(Connection::open(unchecked)->command({"GET", "k"}).str == "v");
}

TEST_CASE("a TLS cluster to a TLS cluster: nodes found by their TLS ports, snapshot and verify over TLS", "[tls][cluster]") {
  const sim::TlsFiles files = sim::make_tls_files();
  sim::TopologySpec spec;
  spec.master.tls = sim::server_tls(files, "yes");
  spec.cluster_masters = 2;
  sim::Topology source(spec), target(spec);
  sim::MixedDatasetOptions data;
  data.seed = 5;
  data.dbs = {0};
  data.keys_per_db = 4000;
  const Dialer dialer;
  {
    auto writer = open_target(dialer, source.master(0).endpoint("source"), PipelineLimits{});
    sim::fill_mixed_dataset(*writer, data);
  }
  std::vector<std::string> args{"migrate", "--mode", "snapshot", "--source", source.master(1).uri(), "--target",
                                target.master(0).uri(), "--no-heartbeat"};
  for (const auto& f : source.master(0).tls_flags("source")) args.push_back(f);
  for (const auto& f : target.master(0).tls_flags("target")) args.push_back(f);
  auto r = test::run_ferry(args);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  auto source_group = test::group_of(source.master(0));
  auto target_group = test::group_of(target.master(0));
  test::require_identical(source_group, target_group);

  args[0] = "verify";
  args.erase(args.begin() + 1, args.begin() + 3);  // --mode snapshot
  args.erase(std::find(args.begin(), args.end(), "--no-heartbeat"));
  auto v = test::run_ferry(args);
  INFO(v.err);
  CHECK(v.exit_code == 0);
  CHECK(v.out.find("identical") != std::string::npos);
}

TEST_CASE("ferry sim fill reaches a TLS server with the migrate options; precheck over TLS", "[tls]") {
  const sim::TlsFiles files = sim::make_tls_files();
  RedisServer server(tls_server(files, "yes"));
  std::vector<std::string> args{"sim", "fill", "--target", server.uri(), "--keys", "500", "--seed", "3"};
  for (const auto& f : server.tls_flags("target")) args.push_back(f);
  auto r = test::run_ferry(args);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(test::connect(server)->command({"DBSIZE"}).integer >= 500);
  // Without the client certificate the same fill is refused, exit 4, in words.
  auto refused = test::run_ferry({"sim", "fill", "--target", server.uri(), "--keys", "5", "--target-tls-ca", files.ca});
  CHECK(refused.exit_code == 4);
  CHECK(refused.err.find("asks for a client certificate") != std::string::npos);
  // The precheck names the side's TLS options when it cannot connect.
  auto pre = test::run_ferry({"precheck", "--source", server.uri(), "--target", server.uri(), "--source-tls-ca", files.ca,
                              "--target-tls-ca", files.ca});
  CHECK(pre.exit_code == 4);
  CHECK(pre.out.find("--source-tls-*") != std::string::npos);
}

TEST_CASE("tls in-process: pipelined megabytes both ways, and a reader thread beside a writer", "[tls]") {
  const sim::TlsFiles files = sim::make_tls_files();
  RedisServer server(tls_server(files, "yes"));
  auto conn = test::connect(server);
  REQUIRE(conn->endpoint().tls.enabled);
  // 4,000 values of 5,000 bytes each way: many TLS records per read, partial writes.
  {
    Pipeline pipe(*conn);
    for (int i = 0; i < 4000; ++i) pipe.send({"SET", "k" + std::to_string(i), std::string(5000, static_cast<char>('a' + i % 26))});
  }
  {
    Pipeline pipe(*conn);
    int bad = 0;
    for (int i = 0; i < 4000; ++i)
      pipe.send({"GET", "k" + std::to_string(i)}, [&, i](Reply&& r) { bad += r.str != std::string(5000, static_cast<char>('a' + i % 26)); });
    pipe.drain();
    CHECK(bad == 0);
  }
  // One socket, one thread reading while another writes (as the replication link's spool thread and
  // its acks do): 3,000 PINGs written, their 3,000 "+PONG\r\n" read at the same time.
  std::string unread;
  auto socket = conn->release_socket(unread);
  REQUIRE(unread.empty());
  std::atomic<size_t> received{0};
  std::thread reader([&] {
    char buf[65536];
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (received < 3000 * 7 && std::chrono::steady_clock::now() < until)
      received += socket->read(buf, sizeof buf, std::chrono::milliseconds(500));
  });
  for (int i = 0; i < 3000; ++i) socket->write_all(encode_command({"PING"}), std::chrono::milliseconds(5000));  // +PONG\r\n
  reader.join();
  CHECK(received == 3000 * 7);
}
