#include "verify/validator.h"

#include "cluster/server_group.h"
#include "core/error.h"
#include "core/log.h"
#include "redis/keyspace.h"
#include "task/disk_key_set.h"
#include "task/progress.h"
#include "verify/cutover_watch.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <chrono>
#include <set>
#include <thread>

namespace ferry {
namespace {

const std::string kHeartbeatPrefix = "ferry:heartbeat:";

const char* level_name(CompareLevel l) {
  return l == CompareLevel::Full ? "full" : l == CompareLevel::Length ? "length" : "outline";
}

// Runs the rounds; one per object so the state shared by the steps stays in one place. Either side
// may be a cluster: each key is compared between the nodes that hold it on each side.
class Verifier {
 public:
  Verifier(ServerGroup& source, ServerGroup& target, const VerifyOptions& o, VerifyReport& report, const CutoverWatch* watch)
      : source_(source), target_(target), o_(o), report_(report), watch_(watch) {}

  void run() {
    std::vector<int> dbs = choose_dbs();
    report_.dbs = dbs;
    for (size_t i = 0; i < source_.size(); ++i) total_ += keys_in(source_.node(i), dbs);

    auto pending = std::make_unique<DiskKeySet>(o_.work_dir);
    last_round_ = o_.rounds <= 1;
    for (int db : dbs) first_round_db(db, *pending);
    if (o_.progress) o_.progress->done();
    report_.differing_per_round.push_back(last_round_ ? report_.divergences : pending->size());

    for (int round = 2; round <= o_.rounds && pending->size() > 0; ++round) {
      log::info("round {}: rechecking {} keys in {:.1f} s", round, pending->size(), o_.interval_seconds);
      std::this_thread::sleep_for(std::chrono::duration<double>(o_.interval_seconds));
      last_round_ = round == o_.rounds;
      auto next = std::make_unique<DiskKeySet>(o_.work_dir);
      std::map<int, std::vector<std::string>> batches;
      DiskKeySet::for_each_not_in(*pending, {}, [&](int db, const std::string& key) {
        auto& batch = batches[db];
        batch.push_back(key);
        if (batch.size() >= o_.batch) {
          compare_batch(db, batch, *next);
          batch.clear();
        }
      });
      for (auto& [db, batch] : batches)
        if (!batch.empty()) compare_batch(db, batch, *next);
      report_.differing_per_round.push_back(last_round_ ? report_.divergences : next->size());
      pending = std::move(next);
    }
    // Keys that differed up to the round limit ended before it when nothing was left: they are all
    // explained already (last_round_ was set when recorded).
    for (auto& [nodes, pair] : pairs_) {
      report_.not_reproducible += pair.comparator->not_reproducible;
      for (const auto& sample : pair.comparator->not_reproducible_samples)
        if (report_.not_reproducible_samples.size() < 20) report_.not_reproducible_samples.push_back(sample);
    }
  }

 private:
  // Every DB non-empty on either side (a target DB counts through --db-map's inverse).
  std::vector<int> choose_dbs() {
    if (!o_.dbs.empty()) return o_.dbs;
    std::set<int> out;
    for (size_t i = 0; i < source_.size(); ++i)
      for (const auto& [db, n] : keyspace(source_.node(i))) out.insert(db);
    for (size_t i = 0; i < target_.size(); ++i)
      for (const auto& [tdb, n] : keyspace(target_.node(i))) {
        int source_db = -1;
        for (const auto& [s, t] : o_.db_map.pairs())
          if (t == tdb) source_db = s;
        if (source_db < 0 && !o_.db_map.pairs().count(tdb)) source_db = tdb;
        if (source_db >= 0) out.insert(source_db);
      }
    return {out.begin(), out.end()};
  }

  void select(int db) {
    source_.select(db);
    target_.select(o_.db_map.target(db));
  }

  // The comparator (and explainer) of a source node and a target node.
  struct NodePair {
    std::unique_ptr<KeyComparator> comparator;
    std::unique_ptr<DivergenceExplainer> explainer;
  };
  NodePair& pair(size_t s, size_t t) {
    NodePair& p = pairs_[{s, t}];
    if (!p.comparator) p.comparator = std::make_unique<KeyComparator>(source_.node(s), target_.node(t), o_.compare);
    return p;
  }

  // Keys the task copies: not ferry's heartbeat, and what its filters select (a key they leave out
  // is no divergence; counted once, on the source side).
  bool wanted(int db, const std::string& key, bool count = true) {
    if (key.rfind(kHeartbeatPrefix, 0) == 0) return false;
    if (o_.task.selects(db, key)) return true;
    if (count) ++report_.filtered;
    return false;
  }

  void first_round_db(int db, DiskKeySet& pending) {
    select(db);
    // Source keys, node by node.
    for (size_t node = 0; node < source_.size(); ++node) {
      Connection& source = source_.node(node);
      std::string cursor = "0";
      do {
        Reply r = source.checked({"SCAN", cursor, "COUNT", std::to_string(o_.scan_count)});
        cursor = r.elements[0].str;
        std::vector<std::string> keys;
        for (auto& k : r.elements[1].elements)
          if (wanted(db, k.str)) keys.push_back(std::move(k.str));
        for (size_t at = 0; at < keys.size(); at += o_.batch) {
          std::vector<std::string> batch(keys.begin() + static_cast<long>(at),
                                         keys.begin() + static_cast<long>(std::min(keys.size(), at + o_.batch)));
          report_.keys_compared += batch.size();
          compare_batch(db, batch, pending);
          if (o_.progress)
            o_.progress->update(PartStatus::copy("verify", report_.keys_compared, total_, "keys", 0));
        }
      } while (cursor != "0");
    }
    // Target keys the source does not have.
    for (size_t node = 0; node < target_.size(); ++node) {
      Connection& target = target_.node(node);
      std::string cursor = "0";
      do {
        Reply r = target.checked({"SCAN", cursor, "COUNT", std::to_string(o_.scan_count)});
        cursor = r.elements[0].str;
        std::vector<std::string> keys;
        for (auto& k : r.elements[1].elements)
          if (wanted(db, k.str, false)) keys.push_back(std::move(k.str));
        std::vector<Reply> exists(keys.size());
        {
          std::vector<std::unique_ptr<Pipeline>> pipes(source_.size());
          for (size_t i = 0; i < keys.size(); ++i) {
            const size_t s = source_.node_of(keys[i]);
            if (!pipes[s]) pipes[s] = std::make_unique<Pipeline>(source_.node(s), o_.compare.pipeline);
            pipes[s]->send({"EXISTS", keys[i]}, [&exists, i](Reply&& e) { exists[i] = std::move(e); });
          }
          for (auto& p : pipes)
            if (p) p->drain();
        }
        std::vector<std::string> extra;
        for (size_t i = 0; i < keys.size(); ++i)
          if (exists[i].is_integer() && exists[i].integer == 0) extra.push_back(std::move(keys[i]));
        report_.keys_compared += extra.size();
        if (!extra.empty()) compare_batch(db, extra, pending);
      } while (cursor != "0");
    }
  }

  void compare_batch(int db, const std::vector<std::string>& keys, DiskKeySet& next) {
    select(db);
    std::map<std::pair<size_t, size_t>, std::vector<std::string>> by_nodes;
    for (const auto& k : keys) by_nodes[{source_.node_of(k), target_.node_of(k)}].push_back(k);
    for (const auto& [nodes, group] : by_nodes) {
      NodePair& p = pair(nodes.first, nodes.second);
      for (auto& v : p.comparator->compare(db, group)) {
        if (v.difference == Difference::None) continue;
        if (!last_round_) {
          next.add(db, v.key);
          continue;
        }
        if (!p.explainer)
          p.explainer = std::make_unique<DivergenceExplainer>(source_.node(nodes.first), target_.node(nodes.second), o_.task,
                                                              o_.compare.ttl_tolerance_ms, o_.compare.window, watch_);
        select(db);
        Divergence d = p.explainer->explain(v);
        ++report_.divergences;
        ++report_.by_cause[cause_name(d.cause)];
        if (report_.samples.size() < o_.max_samples) report_.samples.push_back(std::move(d));
      }
    }
  }

  ServerGroup& source_;
  ServerGroup& target_;
  const VerifyOptions& o_;
  VerifyReport& report_;
  std::map<std::pair<size_t, size_t>, NodePair> pairs_;
  const CutoverWatch* watch_;
  uint64_t total_ = 0;
  bool last_round_ = false;
};

}  // namespace

uint64_t VerifyReport::unexplained() const {
  auto it = by_cause.find("unexplained");
  return it == by_cause.end() ? 0 : it->second;
}

int VerifyReport::exit_code() const {
  if (unexplained() > 0 || (strict && divergences > 0)) return static_cast<int>(ExitCode::Failed);
  return static_cast<int>(ExitCode::Ok);
}

nlohmann::json VerifyReport::to_json() const {
  nlohmann::json causes = nlohmann::json::object();
  for (Cause c : all_causes()) causes[cause_name(c)] = by_cause.count(cause_name(c)) ? by_cause.at(cause_name(c)) : 0;
  nlohmann::json j{{"summary",
                    {{"keys_compared", keys_compared},
                     {"filtered", filtered},
                     {"divergences", divergences},
                     {"by_cause", causes},
                     {"unexplained", unexplained()},
                     {"rounds", differing_per_round.size()},
                     {"differing_per_round", differing_per_round},
                     {"not_reproducible", not_reproducible},
                     {"after_cutover", {{"watched", cutover_watched}, {"offset", cutover_offset}, {"keys_written", cutover_keys},
                                        {"not_watched", cutover_not_watched}}},
                     {"compare", compare_level},
                     {"strict", strict},
                     {"seconds", seconds}}},
                   {"source", source},
                   {"target", target},
                   {"dbs", dbs},
                   {"divergences", nlohmann::json::array()},
                   {"not_reproducible", not_reproducible_samples}};
  for (const auto& d : samples) j["divergences"].push_back(d.to_json());
  return j;
}

std::string VerifyReport::to_table() const {
  std::string out = fmt::format("ferry verify ({}): {} -> {}, DBs [{}]\n", compare_level, source, target, fmt::join(dbs, ","));
  out += fmt::format("  keys compared     {}\n", keys_compared);
  if (filtered) out += fmt::format("  keys filtered     {} (the task's filters leave them out: not compared)\n", filtered);
  if (cutover_watched)
    out += fmt::format("  after cutover     {} keys written on the source since offset {} (watched as a replica)\n",
                       cutover_keys, cutover_offset);
  else if (!cutover_not_watched.empty()) out += fmt::format("  after cutover     not watched: {}\n", cutover_not_watched);
  out += fmt::format("  rounds            {} (keys differing after each: {})\n", differing_per_round.size(),
                     fmt::join(differing_per_round, ", "));
  out += fmt::format("  divergences       {}\n", divergences);
  for (Cause c : all_causes()) {
    auto it = by_cause.find(cause_name(c));
    if (it != by_cause.end() && it->second) out += fmt::format("    {:<16} {}\n", cause_name(c), it->second);
  }
  if (not_reproducible)
    out += fmt::format("  not reproducible  {} (consumer-group entries-read: not a divergence)\n", not_reproducible);
  size_t shown = 0;
  for (const auto& d : samples) {
    if (shown++ == 20) {
      out += fmt::format("  ... {} more in the JSON report (--report)\n", samples.size() - 20);
      break;
    }
    out += fmt::format("  {:<16} DB {} '{}' ({}): {}\n", cause_name(d.cause), d.db, d.key, d.type, d.detail);
  }
  out += fmt::format("  time              {:.2f} s\n", seconds);
  out += fmt::format("verify: {}\n", divergences == 0         ? "identical"
                                     : unexplained() == 0    ? (strict ? "FAILED (--strict: explained divergences)" : "every divergence explained")
                                                             : "FAILED: unexplained divergences");
  return out;
}

VerifyReport run_verify(const Endpoint& source_ep, const Endpoint& target_ep, const VerifyOptions& options) {
  auto started = std::chrono::steady_clock::now();
  auto source = ServerGroup::open(source_ep, options.timeouts);
  auto target = ServerGroup::open(target_ep, options.timeouts);
  VerifyReport report;
  report.source = source.describe();
  report.target = target.describe();
  report.compare_level = level_name(options.compare.level);
  report.strict = options.strict;
  // After a cutover: the keys the source takes from the task's end offset on are told apart.
  std::unique_ptr<CutoverWatch> watch;
  if (!options.task.replid.empty() && options.task.applied_offset >= 0) {
    CutoverWatch::Position at{options.task.replid, options.task.applied_offset, options.task.stream_db};
    watch = CutoverWatch::start(Dialer(options.timeouts, "verify"), source_ep, at, report.cutover_not_watched);
    if (!watch) log::warn("{}", report.cutover_not_watched);
    report.cutover_watched = watch != nullptr;
    report.cutover_offset = options.task.applied_offset;
  }
  Verifier(source, target, options, report, watch.get()).run();
  if (watch) report.cutover_keys = watch->keys();
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return report;
}

}  // namespace ferry
