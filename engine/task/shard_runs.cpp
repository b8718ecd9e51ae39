#include "task/shard_runs.h"

#include "core/log.h"
#include "core/retry.h"
#include "rdb/rdb_parser.h"
#include "scan/scan_reader.h"
#include "sink/key_sink.h"
#include "sink/slot_moves.h"
#include "target/target_keys.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <exception>
#include <filesystem>
#include <functional>
#include <mutex>
#include <thread>

namespace ferry {
namespace {

// Runs body(i) for every shard on its own thread. A shard that throws, or whose body says it
// failed, sets `stop_all` (the others stop cleanly), as does a stop asked of the task. The first
// exception is thrown again once every thread has ended, naming its shard.
void fan_out(const std::vector<SourceShard>& shards, const std::atomic<bool>* outer_stop, std::atomic<bool>& stop_all,
             const std::function<bool(size_t)>& body) {
  std::vector<std::exception_ptr> errors(shards.size());
  std::vector<std::atomic<bool>> done(shards.size());
  std::atomic<bool> failed{false};
  std::vector<std::thread> threads;
  for (size_t i = 0; i < shards.size(); ++i)
    threads.emplace_back([&, i] {
      try {
        if (body(i)) failed = true;
      } catch (...) {
        errors[i] = std::current_exception();
        failed = true;
      }
      done[i] = true;
    });
  for (;;) {
    bool all = true;
    for (auto& d : done) all = all && d.load();
    if (all) break;
    if (failed || stop_requested(outer_stop)) stop_all = true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  for (auto& t : threads) t.join();
  for (size_t i = 0; i < shards.size(); ++i) {
    if (!errors[i]) continue;
    try {
      std::rethrow_exception(errors[i]);
    } catch (const rdb::RdbError&) {
      throw;
    } catch (const FerryError& e) {
      throw FerryError(e.code(), fmt::format("source {}: {}", shards[i].describe(), e.what()));
    }
  }
}

std::string cluster_name(const TaskConfig& config, size_t shards) {
  return fmt::format("source cluster {} ({} shard{})", config.source_endpoint().address(), shards, shards == 1 ? "" : "s");
}

}  // namespace

nlohmann::json ShardResult::to_json() const {
  nlohmann::json j = sync ? sync->to_json() : report.to_json();
  j["shard"] = shard;
  return j;
}

ShardedRun run_sharded_sync(const TaskConfig& config, const Dialer& dialer, const std::vector<SourceShard>& shards,
                            const repl::SyncOptions& base, TaskMonitor& monitor) {
  const SourceRead read = parse_source_read(config.source_read);
  const Endpoint seed = config.source_endpoint();
  std::array<int, kClusterSlots> owner;
  owner.fill(-1);
  size_t count = 0;
  for (const auto& s : shards) {
    count = std::max(count, s.index + 1);
    for (int slot = 0; slot < kClusterSlots; ++slot)
      if (s.owns[static_cast<size_t>(slot)]) owner[static_cast<size_t>(slot)] = static_cast<int>(s.index);
  }
  SlotMoves moves(dialer, owner, count);
  auto state = base.state_file.empty() || base.snapshot_only ? nullptr : std::make_shared<repl::StateFile>(base.state_file);
  std::atomic<bool> stop_all{false};
  std::vector<std::unique_ptr<ShardLocator>> locators;
  std::vector<std::unique_ptr<Target>> targets;
  for (const auto& s : shards) {
    locators.push_back(std::make_unique<ShardLocator>(dialer, seed, s, read));
    targets.push_back(open_target(dialer, config.target_endpoint(), config.pipeline(), std::chrono::seconds(config.retry_other)));
  }
  // The conflict check once, before any shard writes (a resumed task's keys are its own).
  if (!state || !std::filesystem::exists(base.state_file)) check_target_empty(*targets.front(), base.copy, base.copy.dbs);
  ShardedRun out;
  out.shards.resize(shards.size());
  log::info("{}: {} shard(s) synced side by side, reading {}", cluster_name(config, shards.size()), shards.size(),
            source_read_name(read));
  fan_out(shards, base.stop, stop_all, [&](size_t i) {
    repl::SyncOptions o = base;
    o.locator = locators[i].get();
    o.shared_state = state;
    o.slot_moves = shards.size() > 1 ? &moves : nullptr;
    o.stop = &stop_all;
    o.progress = monitor.part(i);
    o.target_checked = true;
    repl::ReplicaSync sync(seed, *targets[i], dialer, o);
    out.shards[i].shard = shards[i].describe();
    out.shards[i].sync = sync.run();
    targets[i]->count_routing(out.shards[i].sync->report);
    return !out.shards[i].sync->report.stopped_because.empty();
  });

  repl::SyncResult total;
  total.report.mode = base.snapshot_only ? "snapshot" : "sync";
  total.report.source = cluster_name(config, shards.size());
  total.report.target = targets.front()->describe();
  base.copy.describe_into(total.report);
  total.caught_up = true;
  for (const auto& s : out.shards) {
    const repl::SyncResult& r = *s.sync;
    total.report.merge(r.report, s.shard);
    total.stream.merge(r.stream);
    if (r.lag_ms) total.lag_ms = std::max(total.lag_ms.value_or(0), *r.lag_ms);
    total.caught_up = total.caught_up && r.caught_up;
    total.snapshot_seconds = std::max(total.snapshot_seconds, r.snapshot_seconds);
    total.source_write_bytes_per_s += r.source_write_bytes_per_s;
    if (!r.writes_continue.empty()) total.writes_continue += (total.writes_continue.empty() ? "" : "; ") + r.writes_continue;
    total.partial_resyncs += r.partial_resyncs;
    total.retries += r.retries;
    total.full_resyncs += r.full_resyncs;
    total.resync_deleted_keys += r.resync_deleted_keys;
    total.resumed_from_state = total.resumed_from_state || r.resumed_from_state;
    total.spooled = total.spooled || r.spooled;
  }
  total.report.complete = total.report.is_complete(total.stream.errors + total.stream.unapplied);
  auto c = moves.counts();
  if (c.ordered || c.waited_out)
    log::info("slots moved on the source: {} slot(s) changed shards; {} write(s) waited for the old owner's stream to "
              "reach the move, {} went ahead after waiting {} s",
              c.slots, c.ordered, c.waited_out, 10);
  out.sync = std::move(total);
  return out;
}

ShardedRun run_sharded_scan(const TaskConfig& config, const Dialer& dialer, const std::vector<SourceShard>& shards,
                            const std::atomic<bool>* stop, TaskMonitor& monitor) {
  const SourceRead read = parse_source_read(config.source_read);
  const Endpoint seed = config.source_endpoint();
  CopyOptions copy = config.copy_options();
  std::atomic<bool> stop_all{false};
  ShardedRun out;
  out.shards.resize(shards.size());
  std::vector<std::unique_ptr<Target>> targets;
  for (size_t i = 0; i < shards.size(); ++i)
    targets.push_back(open_target(dialer, config.target_endpoint(), config.pipeline(), std::chrono::seconds(config.retry_other)));
  check_target_empty(*targets.front(), copy, {0});
  const auto started = std::chrono::steady_clock::now();
  fan_out(shards, stop, stop_all, [&](size_t i) {
    ShardLocator locator(dialer, seed, shards[i], read);
    ShardLocator::Nodes nodes = locator.locate();
    auto source = dialer.connect(nodes.read);
    if (nodes.replica) source->checked({"READONLY"});  // a cluster replica serves reads only when asked so
    MigrationReport& report = out.shards[i].report;
    out.shards[i].shard = shards[i].describe();
    report.mode = "scan";
    report.source = fmt::format("source {} {}", shards[i].describe(), source->describe());
    report.target = targets[i]->describe();
    Throttle throttle(config.max_ops, config.max_bytes);
    KeySinkOptions o;
    o.copy = copy;
    o.throttle = &throttle;
    KeySink sink(*targets[i], o, report);
    ScanReader reader(*source, sink, copy, report, monitor.part(i));
    const std::vector<int> dbs{0};  // a cluster has DB 0 only
    report.keys_total = reader.count_keys(dbs);
    log::info("source {}: scanning {} ({}, {} keys)", shards[i].describe(), nodes.read.address(),
              nodes.replica ? "a replica" : "the master", report.keys_total);
    try {
      reader.run(dbs);
    } catch (const FerryError& e) {
      report.stopped_because = e.what();
    }
    sink.finish();
    monitor.part(i)->done();
    targets[i]->count_routing(report);
    if (!report.stopped_because.empty())
      report.not_attempted = report.keys_total > report.handled() ? report.keys_total - report.handled() : 0;
    return !report.stopped_because.empty() || stop_all.load();
  });
  out.report.mode = "scan";
  out.report.source = cluster_name(config, shards.size());
  out.report.target = targets.front()->describe();
  copy.describe_into(out.report);
  out.report.dbs = {0};
  for (const auto& s : out.shards) out.report.merge(s.report, s.shard);
  out.report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return out;
}

}  // namespace ferry
