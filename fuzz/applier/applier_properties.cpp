#include "applier/applier_properties.h"

#include "applier/recording_target.h"
#include "applier/stream_model.h"
#include "core/clock.h"
#include "core/log.h"
#include "sink/command_sink.h"
#include "process/child_process.h"
#include "process/redis_server.h"
#include "topology/topology.h"
#include "verify/dataset_comparison.h"
#include "workload/load_generator.h"

#include <fmt/format.h>
#include <rapidcheck.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <cstdlib>
#include <sstream>
#include <thread>

namespace ferry::fuzz {
namespace {

// Runs one RapidCheck property with this run's seed and budget.
template <typename Property>
PropertyOutcome check(const std::string& name, const PropertyRun& run, Property&& property) {
  rc::detail::TestParams params;
  params.seed = run.seed;
  params.maxSuccess = run.cases;
  params.maxSize = run.max_size;
  // RapidCheck reads RC_PARAMS once and prints it: make it say this run's parameters, unless the
  // caller set it (RC_PARAMS="reproduce=..." from a failure replays the shrunk case at once).
  if (!std::getenv("RC_PARAMS"))
    ::setenv("RC_PARAMS", fmt::format("seed={} max_success={} max_size={}", run.seed, run.cases, run.max_size).c_str(), 1);
  rc::detail::TestMetadata metadata{name, name};
  auto started = std::chrono::steady_clock::now();
  const rc::detail::TestResult result = rc::detail::checkProperty(rc::detail::toProperty(std::forward<Property>(property)), metadata, params);
  PropertyOutcome out;
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::ostringstream message;
  rc::detail::printResultMessage(result, message);
  out.message = message.str();
  if (result.is<rc::detail::SuccessResult>()) {
    out.passed = true;
    out.cases = result.get<rc::detail::SuccessResult>().numSuccess;
  } else if (result.is<rc::detail::FailureResult>()) {
    out.cases = result.get<rc::detail::FailureResult>().numSuccess;
    out.message += "\nreproduce with: " + run.reproduce + "\n";
  }
  return out;
}

// ---- in process -------------------------------------------------------------------------------

std::string show_stream(const std::vector<Command>& stream) {
  std::string out;
  for (size_t i = 0; i < stream.size(); ++i) out += fmt::format("  {:>3} (offset {:>5}) {}\n", i, end_offset(i), show(stream[i]));
  return out.empty() ? "  (empty)\n" : out;
}

std::vector<TargetUnit> held_before(const Expected& expected, long long offset) {
  std::vector<TargetUnit> held;
  for (const auto& u : expected.units)
    if (end_offset(u.completed_at) <= offset) held.push_back(u);
  return held;
}

std::vector<std::pair<int, Command>> as_pairs(const std::vector<ReceivedCommand>& received) {
  std::vector<std::pair<int, Command>> out;
  for (const auto& r : received) out.emplace_back(r.connection, r.args);
  return out;
}

// The command sink over a StandaloneTarget, as ReplicaSync runs it, remembering the last heartbeat.
struct InProcessApplier {
  InProcessApplier(const Endpoint& endpoint, const StreamOptions& options)
      : target(Connection::open(endpoint), PipelineLimits{}), sink(target, options, report, stats) {}
  void apply(std::vector<std::string>& args, long long end_offset) {
    sink.apply(args, end_offset);
    if (auto hb = sink.take_heartbeat()) last_heartbeat = hb->source_ms;
  }
  void set_start_offset(long long offset) { sink.set_start_offset(offset); }
  void set_stream_db(int db) { sink.set_stream_db(db); }
  void discard_open_transaction() { sink.discard_open_transaction(); }
  long long flush() { return sink.flush(); }
  int stream_db() const { return sink.stream_db(); }

  StandaloneTarget target;
  MigrationReport report;
  StreamStats stats;
  CommandSink sink;
  std::optional<long long> last_heartbeat;
};

void in_process_case(RecordingTarget& target) {
  using namespace rc;
  const auto tokens = *gen::container<std::vector<StreamToken>>(
      gen::tuple(gen::inRange(0, kOperations), gen::inRange(0, 4), gen::inRange(0, 4), gen::inRange(0, 4), gen::inRange(0, 1000)));
  const auto option_token = *gen::tuple(gen::inRange(0, 4), gen::inRange(0, 4), gen::inRange(0, 5), gen::inRange(0, 3),
                                        gen::arbitrary<bool>(), gen::inRange(0, 3));
  // Where the applier stops: after how many stream commands, and whether ferry restarts there from
  // its state file (true) or only the replication link breaks (false).
  auto cuts = *gen::container<std::vector<std::pair<int, bool>>>(
      gen::pair(gen::inRange(0, 1000), gen::arbitrary<bool>()));
  if (cuts.size() > 3) cuts.resize(3);

  const auto stream = decode_stream(tokens);
  const auto options = decode_options(option_token);
  for (auto& c : cuts) c.first %= static_cast<int>(stream.size() + 1);
  std::sort(cuts.begin(), cuts.end());
  const Expected expected = expected_target(stream, options);

  std::string story = fmt::format("options: {}\nstream:\n{}", describe_options(options), show_stream(stream));
  auto fail = [&](const std::string& what) { RC_FAIL(story + what); };

  target.clear();
  target.set_version(version_text(options.target_version));  // its capabilities change what is sent
  const long long now_lo = unix_ms();
  auto applier = std::make_unique<InProcessApplier>(target.endpoint(), options.stream);
  applier->set_start_offset(0);
  size_t pos = 0;
  size_t instance_from = 0;  // where the current applier (one ferry process) was first fed from
  auto feed = [&](size_t until) {
    for (; pos < until; ++pos) {
      auto args = stream[pos];
      applier->apply(args, end_offset(pos));
    }
  };
  for (const auto& [at, restart] : cuts) {
    feed(static_cast<size_t>(at));
    applier->discard_open_transaction();
    const long long offset = applier->flush();
    story += fmt::format("{} after stream command {}: the applier holds offset {}, stream DB {}\n",
                         restart ? "ferry restarts from its state file" : "the link breaks", at, offset,
                         applier->stream_db());
    if (offset != expected_applied_offset(stream, static_cast<size_t>(at)))
      fail(fmt::format("the applied offset is {}, expected {}", offset, expected_applied_offset(stream, static_cast<size_t>(at))));
    std::string why;
    if (!same_units(held_before(expected, offset), target_view(as_pairs(target.received())), now_lo, unix_ms(), &why))
      fail("at that point the target does not hold exactly the stream up to the offset: " + why);
    if (restart) {  // the state file holds the offset and the stream DB
      const int stream_db = applier->stream_db();
      applier.reset();
      applier = std::make_unique<InProcessApplier>(target.endpoint(), options.stream);
      applier->set_start_offset(offset);
      applier->set_stream_db(stream_db);
      instance_from = static_cast<size_t>(offset / 100);
    }
    pos = static_cast<size_t>(offset / 100);  // the source resends from the offset the applier holds
  }
  feed(stream.size());
  applier->discard_open_transaction();
  applier->flush();
  const long long now_hi = unix_ms();
  std::string why;
  if (!same_units(expected.units, target_view(as_pairs(target.received())), now_lo, now_hi, &why))
    fail("at the end: " + why);
  // Counters restart with ferry and count replayed commands again: checked uncut.
  if (cuts.empty() && applier->stats.unapplied != expected.unapplied)
    fail(fmt::format("unapplied commands counted {}, expected {}", applier->stats.unapplied, expected.unapplied));
  // The heartbeat the last ferry process saw, across link cuts and under filters.
  auto heartbeat = last_heartbeat(stream, instance_from, stream.size(), options.stream.heartbeat_prefix);
  if (applier->last_heartbeat != heartbeat)
    fail(fmt::format("last heartbeat seen {}, expected {}", applier->last_heartbeat.value_or(-1), heartbeat.value_or(-1)));
  RC_TAG(cuts.size());
}

// ---- with servers -----------------------------------------------------------------------------

sim::LoadOptions load_options(uint64_t seed) {
  sim::LoadOptions o;
  o.seed = seed;
  o.base_ms = 1'900'000'000'000;
  o.dbs = {0, 1};
  o.keyspace = 20;
  o.weights["big"] = 0.5;  // big values, and the DB commands (SWAPDB, FLUSHDB, SELECT inside MULTI)
  o.weights["db"] = 2;
  return o;
}

// A case's load: steps of the load generator (every replicated write command, MULTI/EXEC, scripts,
// expiries, two DBs) picked by index from the steps its seed generates, so that RapidCheck shrinks
// a failure to a few steps.
constexpr int kStepPool = 400;

std::vector<sim::LoadGenerator::Step> step_pool(uint64_t seed, const std::string& sha) {
  sim::LoadGenerator g(load_options(seed));
  std::vector<sim::LoadGenerator::Step> pool;
  for (int i = 0; i < kStepPool; ++i) {
    pool.push_back(g.next());
    for (auto& cmd : pool.back().commands)
      if (cmd[0] == "EVALSHA") cmd[1] = sha;
  }
  return pool;
}

// The steps as a script redis-cli can replay (`redis-cli < script`).
std::string as_script(const std::vector<sim::LoadGenerator::Step>& pool, const std::vector<int>& picks) {
  std::ostringstream out;
  for (int p : picks) {
    out << "SELECT " << pool[p].db << "\n";
    for (const auto& cmd : pool[p].commands) {
      for (size_t a = 0; a < cmd.size(); ++a) out << (a ? " " : "") << '"' << log::printable(cmd[a], 1 << 22) << '"';
      out << "\n";
    }
  }
  return out.str();
}

void send_steps(Connection& conn, const std::vector<sim::LoadGenerator::Step>& pool, const std::vector<int>& picks, size_t from,
                size_t to) {
  for (size_t i = from; i < to && i < picks.size(); ++i) {
    const auto& step = pool[picks[i]];
    conn.select(step.db);
    for (const auto& cmd : step.commands) conn.command(cmd);  // error replies are part of the load
  }
  conn.select(0);
}

// Waits until the source's replica (ferry) acknowledges everything the source has sent: WAIT asks
// it (REPLCONF GETACK), and ferry answers with the offset the target holds.
bool caught_up(Connection& source, double seconds) {
  auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < until) {
    Reply r = source.command({"WAIT", "1", "200"});
    if (!r.is_error() && r.integer >= 1) return true;
  }
  return false;
}

// One source, and a target of each version at hand (the system's 7.0; 6.0 and 8.0 when fetched):
// each case draws the one it writes to, so what a target's capabilities change is covered.
struct Servers {
  sim::RedisServer source;
  std::unique_ptr<Connection> s = Connection::open(source.endpoint("source"));
  std::vector<std::unique_ptr<sim::RedisServer>> targets;
  Servers() {
    for (const char* version : {"system", "redis-6.0", "redis-8.0"}) {
      auto binary = sim::server_binary(version);
      if (!binary) continue;
      sim::RedisServerOptions o;
      o.binary = *binary;
      targets.push_back(std::make_unique<sim::RedisServer>(o));
    }
  }
};

constexpr const char* kScript = "redis.call('SET', KEYS[1], ARGV[1]); redis.call('RPUSH', KEYS[2], ARGV[1]); return 1";

// Gives some of the source's keys other values on the target: what --on-conflict replace overwrites.
void plant_conflicts(Connection& source, Connection& target, int count) {
  Reply scan = source.checked({"SCAN", "0", "COUNT", "50"});
  int planted = 0;
  for (const auto& k : scan.elements[1].elements) {
    if (planted++ == count) break;
    target.checked({"DEL", k.str});
    target.checked({"SET", k.str, "on the target before the task"});
  }
}

// The source's replica (ferry) is back after a cut and holds everything sent so far.
void wait_resumed(Connection& source, sim::ChildProcess& ferry) {
  auto by = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!sim::replica_online(source) && std::chrono::steady_clock::now() < by && ferry.running())
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  caught_up(source, 10);
}

void server_case(Servers& servers, const PropertyRun& run, const std::string& work_dir) {
  using namespace rc;
  const auto seed = *gen::inRange<uint64_t>(1, 1'000'000);
  const auto picks = *gen::container<std::vector<int>>(gen::inRange(0, kStepPool));  // the load, in order
  const auto snapshot_at = *gen::inRange<size_t>(0, picks.size() + 1);  // steps sent before ferry starts
  auto cuts = *gen::container<std::vector<size_t>>(*gen::inRange<size_t>(0, 4), gen::inRange<size_t>(0, picks.size() + 1));
  // The task's options and target: what changes the write path.
  const auto target_index = *gen::inRange<size_t>(0, servers.targets.size());
  const bool commands_mode = *gen::arbitrary<bool>();  // --write-mode commands: every key written natively
  const bool small_big_keys = *gen::arbitrary<bool>();  // --big-key-threshold 2K: big values through the chunked writer
  const bool conflicts = *gen::arbitrary<bool>();       // --on-conflict replace over keys the target holds already
  const bool heartbeat = *gen::arbitrary<bool>();
  for (auto& c : cuts) c = std::max(c, snapshot_at);
  std::sort(cuts.begin(), cuts.end());
  cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());  // writes between every two resumes

  Connection& s = *servers.s;
  sim::RedisServer& target = *servers.targets[target_index];
  auto t_conn = Connection::open(target.endpoint("target"));
  Connection& t = *t_conn;
  s.checked({"FLUSHALL"});
  t.checked({"FLUSHALL"});
  const std::string sha = s.checked({"SCRIPT", "LOAD", kScript}).str;
  const auto pool = step_pool(seed, sha);
  send_steps(s, pool, picks, 0, snapshot_at);
  if (conflicts) plant_conflicts(s, t, 5);
  std::vector<std::string> args{run.ferry_binary, "migrate", "--mode", "sync", "--source", servers.source.uri(),
                                "--target", target.uri(), "--accept-warnings", "--log-level", "warn"};
  if (!heartbeat) args.push_back("--no-heartbeat");
  if (commands_mode) args.insert(args.end(), {"--write-mode", "commands"});
  if (small_big_keys) args.insert(args.end(), {"--big-key-threshold", "2K"});
  if (conflicts) args.insert(args.end(), {"--on-conflict", "replace"});
  sim::ChildProcess ferry(args, work_dir + "/ferry.out", work_dir + "/ferry.err");
  wait_resumed(s, ferry);
  size_t sent = snapshot_at;
  for (size_t c : cuts) {
    send_steps(s, pool, picks, sent, c);
    sent = c;
    s.command({"CLIENT", "KILL", "TYPE", "replica"});
    wait_resumed(s, ferry);
  }
  send_steps(s, pool, picks, sent, picks.size());
  const bool level = caught_up(s, 30);
  const bool same_version = target.version() / 100 == servers.source.version() / 100;
  ComparisonOptions cmp;
  cmp.group_entries_read = false;
  cmp.stream_v7_fields = target.version() >= 70000;
  // A target before 6.2 takes no absolute expiry (SET ... PXAT): the time left is sent, and the
  // moment it arrives sets the expiry, a few ms later.
  if (target.version() < 60200) cmp.ttl_tolerance_ms = 1000;
  ComparisonResult eq = compare_datasets(s, t, cmp);
  ferry.signal(SIGTERM);
  const auto exit_code = ferry.wait(30);
  // The whole-server digest: with no heartbeat key on the source, between servers that digest alike.
  const bool same = eq.equal() && (heartbeat || !same_version || eq.source_digest == eq.target_digest);
  if (!level || !same || exit_code != 0) {
    std::string cut_list;
    for (size_t c : cuts) cut_list += " " + std::to_string(c);
    RC_FAIL(fmt::format("load seed {}: {} steps, ferry's snapshot after {}, the replication link cut after steps:{}\n"
                        "a Redis {} target{}{}{}{}\n{}{}\nferry exit {} (its output: {}/ferry.err)\n"
                        "the steps as a redis-cli script (first: SCRIPT LOAD \"{}\"):\n{}",
                        seed, picks.size(), snapshot_at, cut_list.empty() ? " none" : cut_list, target.version(),
                        commands_mode ? ", --write-mode commands" : "", small_big_keys ? ", --big-key-threshold 2K" : "",
                        conflicts ? ", --on-conflict replace over 5 keys the target held" : "",
                        heartbeat ? ", the heartbeat on" : "", level ? "" : "ferry did not catch up within 30 s\n",
                        eq.summary(), exit_code ? std::to_string(*exit_code) : "none (killed)", work_dir, kScript,
                        as_script(pool, picks)));
  }
  RC_TAG(cuts.size());
}

}  // namespace

PropertyOutcome check_applier_in_process(const PropertyRun& run) {
  RecordingTarget target;
  return check("the applier sends what its rules say, across cuts and restarts", run, [&] { in_process_case(target); });
}

PropertyOutcome check_applier_with_servers(const PropertyRun& run) {
  std::string tmpl = "/tmp/ferry-fuzz-XXXXXX";
  const std::string work_dir = ::mkdtemp(tmpl.data());
  Servers servers;
  auto outcome = check("after catch-up the target equals the source", run, [&] { server_case(servers, run, work_dir); });
  if (outcome.passed) std::filesystem::remove_all(work_dir);  // a failure keeps ferry's output there
  return outcome;
}

}  // namespace ferry::fuzz
