#include "support.h"

#include "redis/dialer.h"
#include "target/target.h"
#include "topology/topology.h"

#include <boost/process.hpp>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <iostream>
#include <sstream>
#include <thread>
#include <utility>

namespace bp = boost::process;

namespace ferry::test {

RunResult run_ferry(const std::vector<std::string>& args, const std::map<std::string, std::string>& env) {
  RunResult result;
  // The extra variables are set in this process around the spawn (Boost.Process's environment
  // lookup reads past the end of shorter names: AddressSanitizer reports it).
  std::map<std::string, std::optional<std::string>> saved;
  for (const auto& [k, v] : env) {
    const char* old = std::getenv(k.c_str());
    saved[k] = old ? std::optional<std::string>(old) : std::nullopt;
    ::setenv(k.c_str(), v.c_str(), 1);
  }
  std::future<std::string> out, err;
  boost::asio::io_context io;
  auto start = std::chrono::steady_clock::now();
  bp::child c(bp::exe = FERRY_BINARY, bp::args = args, bp::std_out > out, bp::std_err > err, bp::std_in < bp::null,
              io);
  for (const auto& [k, v] : saved) {
    if (v) ::setenv(k.c_str(), v->c_str(), 1);
    else ::unsetenv(k.c_str());
  }
  io.run();
  c.wait();
  result.exit_code = c.exit_code();
  result.out = out.get();
  result.err = err.get();
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  // ctest --output-on-failure shows this for a failed test: the command and what it printed.
  std::string command = "build/ferry";
  for (const auto& a : args) command += " '" + a + "'";
  std::cerr << "$ " << command << "\nexit " << result.exit_code << "\n--- stdout\n"
            << result.out << "--- stderr\n" << result.err << "---\n";
  return result;
}

struct BackgroundFerry::Impl {
  std::string dir, command;
  bp::child child;
  std::chrono::steady_clock::time_point start;
};

BackgroundFerry::BackgroundFerry(const std::vector<std::string>& args) : impl_(std::make_unique<Impl>()) {
  std::string tmpl = "/tmp/ferry-run-XXXXXX";
  impl_->dir = ::mkdtemp(tmpl.data());
  impl_->command = "build/ferry";
  for (const auto& a : args) impl_->command += " '" + a + "'";
  impl_->start = std::chrono::steady_clock::now();
  impl_->child = bp::child(bp::exe = FERRY_BINARY, bp::args = args, bp::std_out > impl_->dir + "/out",
                           bp::std_err > impl_->dir + "/err", bp::std_in < bp::null);
}

BackgroundFerry::~BackgroundFerry() {
  if (impl_->child.running()) {
    ::kill(impl_->child.id(), SIGKILL);
    impl_->child.wait();
  }
  std::error_code ec;
  std::filesystem::remove_all(impl_->dir, ec);
}

bool BackgroundFerry::running() { return impl_->child.running(); }

int BackgroundFerry::pid() const { return impl_->child.id(); }

RunResult BackgroundFerry::collect() {
  RunResult r;
  r.exit_code = impl_->child.exit_code();
  auto slurp = [](const std::string& path) {
    std::ifstream in(path);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  };
  r.out = slurp(impl_->dir + "/out");
  r.err = slurp(impl_->dir + "/err");
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - impl_->start).count();
  std::cerr << "$ " << impl_->command << "\nexit " << r.exit_code << "\n--- stdout\n" << r.out << "--- stderr\n" << r.err << "---\n";
  return r;
}

RunResult BackgroundFerry::stop() {
  if (impl_->child.running()) ::kill(impl_->child.id(), SIGTERM);
  impl_->child.wait();
  return collect();
}

RunResult BackgroundFerry::wait(double seconds) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (impl_->child.running() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  if (impl_->child.running()) {
    ::kill(impl_->child.id(), SIGKILL);
    impl_->child.wait();
    FAIL("ferry did not exit within " << seconds << " s: " << impl_->command);
  }
  impl_->child.wait();
  return collect();
}

struct BackgroundLoad::Impl {
  const Dialer dialer;  // outlives the target, which dials the nodes it is redirected to
  std::unique_ptr<Target> target;
  std::atomic<bool> stop{false};
  std::thread thread;
  sim::LoadStats stats;
  std::string error;
};

BackgroundLoad::BackgroundLoad(const sim::RedisServer& server, uint64_t seed, double rate) : impl_(std::make_unique<Impl>()) {
  sim::LoadOptions o;
  o.seed = seed;
  o.rate = rate;
  o.duration_s = 0;
  o.dbs = {0};
  o.hash_tags = 64;
  impl_->target = open_target(impl_->dialer, server.endpoint("load"), PipelineLimits{o.pipeline, 64 << 20});
  impl_->thread = std::thread([impl = impl_.get(), o] {
    try {
      sim::LoadGenerator generator(o);
      impl->stats = generator.run(*impl->target, &impl->stop);
    } catch (const std::exception& e) {
      impl->error = e.what();
    }
  });
}

BackgroundLoad::~BackgroundLoad() {
  impl_->stop = true;
  if (impl_->thread.joinable()) impl_->thread.join();
}

sim::LoadStats BackgroundLoad::stop() {
  impl_->stop = true;
  if (impl_->thread.joinable()) impl_->thread.join();
  INFO(impl_->error);
  CHECK(impl_->error.empty());
  return impl_->stats;
}

std::unique_ptr<Connection> connect(const sim::RedisServer& server, const std::string& role) {
  return Connection::open(server.endpoint(role));
}

void require_identical(Connection& source, Connection& target, const ComparisonOptions& options, bool server_digest) {
  // A key that expires between the two sides' reads (workloads write keys living 300 ms) can make
  // a single comparison differ for a moment: compare again for up to 3 s before failing.
  ComparisonResult r;
  for (int attempt = 0; attempt < 15; ++attempt) {
    r = compare_datasets(source, target, options);
    bool digests = !options.dbs.empty() || !server_digest || r.source_digest == r.target_digest;
    if (r.equal() && digests) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  INFO(r.summary());
  CHECK(r.keys_checked > 0);
  REQUIRE(r.equal());
  if (options.dbs.empty() && server_digest) REQUIRE(r.source_digest == r.target_digest);
}

std::optional<std::string> other_server(const std::string& name) { return sim::server_binary(name); }

void require_identical(ServerGroup& source, ServerGroup& target, const ComparisonOptions& options) {
  ComparisonResult r;
  for (int attempt = 0; attempt < 15; ++attempt) {  // keys expiring between the reads, as above
    r = compare_datasets(source, target, options);
    if (r.equal()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  INFO(r.summary());
  CHECK(r.keys_checked > 0);
  REQUIRE(r.equal());
}

ServerGroup group_of(const sim::RedisServer& server) {
  Timeouts timeouts;
  return ServerGroup(connect(server), timeouts);
}

ComparisonResult wait_until_equal(Connection& source, Connection& target, const ComparisonOptions& options, double seconds) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  ComparisonResult r;
  do {
    r = compare_datasets(source, target, options);
    if (r.equal() && r.source_digest == r.target_digest) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  } while (std::chrono::steady_clock::now() < deadline);
  return r;
}

void check_converges(Connection& source, Connection& replica, double seconds) {
  ComparisonOptions cmp;
  cmp.group_entries_read = false;
  ComparisonResult eq = wait_until_equal(source, replica, cmp, seconds);
  INFO(eq.summary());
  CHECK(eq.equal());
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  REQUIRE(in.good());
  return nlohmann::json::parse(in);
}

long long now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void wait_for_replica(Connection& source, double seconds, int replicas) {
  auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  auto online = [&] {
    int n = 0;
    for (const auto& [name, value] : source.info("replication"))
      n += name.rfind("slave", 0) == 0 && value.find("state=online") != std::string::npos;
    return n;
  };
  while (std::chrono::steady_clock::now() < until) {
    if (online() >= replicas) {
      // "online" once the source has sent the snapshot; ferry acknowledges once it has applied it
      // (slow builds take a while). A PUBLISH moves the stream past the snapshot without touching
      // the data, and WAIT returns once ferry has acknowledged it from its stream loop.
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now()).count();
      source.command({"PUBLISH", "ferry-test-wait", "1"});
      source.command({"WAIT", std::to_string(replicas), std::to_string(std::max<long long>(left, 1))});
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  FAIL("no replica came online on " << source.describe() << " within " << seconds << " s");
}

}  // namespace ferry::test
