#include "verify/divergence.h"

#include "core/clock.h"
#include "core/error.h"
#include "core/log.h"

#include <fmt/format.h>

#include <algorithm>
#include <fstream>

#include "verify/cutover_watch.h"

namespace ferry {

const char* cause_name(Cause c) {
  switch (c) {
    case Cause::Filtered: return "filtered";
    case Cause::AfterCutover: return "after-cutover";
    case Cause::Expired: return "expired";
    case Cause::TtlExtended: return "ttl-extended";
    case Cause::OomRejected: return "oom-rejected";
    case Cause::Unsupported: return "unsupported";
    case Cause::LuaUnconfirmed: return "lua-unconfirmed";
    case Cause::Evicted: return "evicted";
    case Cause::ListDuplicates: return "list-duplicates";
    case Cause::StaleExtra: return "stale-extra";
    case Cause::Unexplained: return "unexplained";
  }
  return "?";
}

const std::vector<Cause>& all_causes() {
  static const std::vector<Cause> causes{Cause::AfterCutover, Cause::Expired, Cause::TtlExtended, Cause::ListDuplicates,
                                         Cause::StaleExtra,  Cause::LuaUnconfirmed, Cause::Evicted,
                                         Cause::OomRejected, Cause::Unsupported, Cause::Filtered,
                                         Cause::Unexplained};
  return causes;
}

TaskContext TaskContext::from_report_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw FerryError(ExitCode::CorruptInput, fmt::format("task report '{}' cannot be read", path));
  nlohmann::json j;
  try {
    in >> j;
  } catch (const nlohmann::json::exception& e) {
    throw FerryError(ExitCode::CorruptInput, fmt::format("task report '{}' is not JSON: {}", path, e.what()));
  }
  TaskContext t;
  t.present = true;
  try {
    if (j.contains("dbs")) t.dbs = j["dbs"].get<std::vector<int>>();
    if (j.contains("db_map")) t.db_map = DbMap::parse(j["db_map"].get<std::string>());
    std::vector<std::string> include, exclude;
    if (j.contains("include")) include = j["include"].get<std::vector<std::string>>();
    if (j.contains("exclude")) exclude = j["exclude"].get<std::vector<std::string>>();
    t.filter = KeyFilter(include, exclude);
    t.ttl_extend_ms = j.value("ttl_extend_ms", 0LL);
    auto keys = [](const nlohmann::json& list, std::set<std::pair<int, std::string>>& into) {
      for (const auto& k : list) into.emplace(k.at("db").get<int>(), k.at("key").get<std::string>());
    };
    if (j.contains("oom_rejected")) keys(j["oom_rejected"], t.oom_rejected);
    if (j.contains("unsupported"))
      for (const auto& k : j["unsupported"])
        t.unsupported[{k.at("db").get<int>(), k.at("key").get<std::string>()}] = k.value("why", "");
    if (j.contains("replid") && j.contains("applied_offset")) {
      t.replid = j["replid"].get<std::string>();
      t.applied_offset = j["applied_offset"].get<long long>();
      t.stream_db = j.value("stream_db", 0);
    }
    if (j.contains("stream")) {
      const auto& s = j["stream"];
      if (s.contains("oom_rejected")) keys(s["oom_rejected"], t.oom_rejected);
      if (s.contains("unconfirmed_script_keys")) keys(s["unconfirmed_script_keys"], t.script_written);
    }
  } catch (const nlohmann::json::exception& e) {
    throw FerryError(ExitCode::CorruptInput, fmt::format("task report '{}' is not a ferry migrate report: {}", path, e.what()));
  }
  return t;
}

bool TaskContext::selects(int db, const std::string& key) const {
  if (!present) return true;
  if (!dbs.empty() && std::find(dbs.begin(), dbs.end(), db) == dbs.end()) return false;
  return filter.selects(key);
}

nlohmann::json Divergence::to_json() const {
  return {{"db", db}, {"key", key}, {"type", type}, {"difference", difference_name(difference)},
          {"cause", cause_name(cause)}, {"detail", detail}};
}

DivergenceExplainer::DivergenceExplainer(Connection& source, Connection& target, const TaskContext& task,
                                         long long ttl_tolerance_ms, size_t window, const CutoverWatch* watch)
    : source_(source), target_(target), task_(task), tolerance_ms_(ttl_tolerance_ms), window_(window), watch_(watch) {
  auto stats = target.info("stats");
  auto memory = target.info("memory");
  long long evicted = std::atoll(stats["evicted_keys"].c_str());
  const std::string& policy = memory["maxmemory_policy"];
  evicting_ = evicted > 0 && !policy.empty() && policy != "noeviction";
  if (evicting_) eviction_evidence_ = fmt::format("the target evicted {} keys (maxmemory-policy {})", evicted, policy);
}

Divergence DivergenceExplainer::explain(const KeyVerdict& v) {
  Divergence d;
  d.db = v.db;
  d.key = log::printable(v.key);
  d.type = v.source.exists() ? v.source.type : v.target.type;
  d.difference = v.difference;
  d.detail = v.detail;
  auto set = [&](Cause c, std::string why = {}) {
    d.cause = c;
    if (!why.empty()) d.detail += "; " + why;
    return d;
  };
  if (!task_.selects(v.db, v.key)) return set(Cause::Filtered, "the task's DB selection or key filters leave it out");

  std::pair<int, std::string> id{v.db, log::printable(v.key)};
  if (watch_) {
    const_cast<CutoverWatch*>(watch_)->catch_up(std::atoll(source_.info("replication")["master_repl_offset"].c_str()), 2.0);
    if (watch_->written_since(v.db, id.second))
      return set(Cause::AfterCutover, fmt::format("written on the source after the task's cutover at offset {}",
                                                  watch_->from_offset()));
  }
  if (task_.oom_rejected.count(id)) return set(Cause::OomRejected, "the task recorded an OOM error for it");
  if (auto u = task_.unsupported.find(id); u != task_.unsupported.end() && v.difference == Difference::MissingOnTarget)
    return set(Cause::Unsupported, "skipped with --skip-unsupported: " + u->second);
  if (v.difference == Difference::MissingOnTarget && evicting_) return set(Cause::Evicted, eviction_evidence_);

  // A key with an expiry that one side no longer has, or whose time has (almost) come: the two
  // servers expire it at slightly different moments, or one side already did.
  const long long now = unix_ms();
  const long long window = std::max<long long>(1000, 2 * tolerance_ms_);
  auto expiring = [&](const KeyState& s) { return s.exists() && s.expire_ms >= 0 && s.expire_ms <= now + window; };
  const KeyState& present = v.difference == Difference::MissingOnTarget ? v.source : v.target;
  bool gone_with_expiry = (v.difference == Difference::MissingOnTarget || v.difference == Difference::ExtraOnTarget) &&
                          present.expire_ms >= 0;
  if (gone_with_expiry || expiring(v.source) || expiring(v.target)) {
    long long at = gone_with_expiry ? present.expire_ms : expiring(v.source) ? v.source.expire_ms : v.target.expire_ms;
    return set(Cause::Expired, fmt::format("it has an expiry (at {}, {} ms from now)", at, at - now));
  }

  if (v.difference == Difference::Expiry && task_.ttl_extend_ms != 0 && v.source.expire_ms >= 0 && v.target.expire_ms >= 0 &&
      std::llabs(v.target.expire_ms - v.source.expire_ms - task_.ttl_extend_ms) <= std::max<long long>(tolerance_ms_, 1000))
    return set(Cause::TtlExtended, fmt::format("the task's --ttl-extend is {} ms", task_.ttl_extend_ms));
  if (task_.script_written.count(id))
    return set(Cause::LuaUnconfirmed, "a script whose outcome the task could not confirm wrote it");
  if ((v.difference == Difference::Length || v.difference == Difference::Value) && v.source.type == "list" &&
      v.target.type == "list" && v.target.length > v.source.length &&
      has_repeated_run(v.key, v.source.length, v.target.length))
    return set(Cause::ListDuplicates, fmt::format("the target list is the source list with a run of {} entries repeated",
                                                  v.target.length - v.source.length));
  if (v.difference == Difference::ExtraOnTarget)
    return set(Cause::StaleExtra, "a delete that never reached the target (e.g. during a retry window)");
  return set(Cause::Unexplained);
}

// Is the target list T the source list S (length n) with one run of d = m - n entries inserted
// right after an equal run? T's common prefix P and suffix Q with S bound where the run can be;
// the candidates are checked window by window.
bool DivergenceExplainer::has_repeated_run(const std::string& key, long long n, long long m) {
  const long long d = m - n, w = static_cast<long long>(window_);
  auto range = [&](Connection& c, long long from, long long to) {
    Reply r = c.command({"LRANGE", key, std::to_string(from), std::to_string(to)});
    return r.is_error() ? std::vector<Reply>{} : std::move(r.elements);
  };
  long long prefix = 0;
  while (prefix < n) {
    auto a = range(source_, prefix, std::min(n, prefix + w) - 1), b = range(target_, prefix, std::min(n, prefix + w) - 1);
    size_t i = 0;
    while (i < a.size() && i < b.size() && a[i].str == b[i].str) ++i;
    prefix += static_cast<long long>(i);
    if (i < a.size() || a.empty()) break;
  }
  long long suffix = 0;  // counted from the end
  while (suffix < n) {
    long long len = std::min(w, n - suffix);
    auto a = range(source_, -suffix - len, -suffix - 1), b = range(target_, -suffix - len, -suffix - 1);
    if (a.size() != b.size() || a.empty()) break;
    long long i = static_cast<long long>(a.size()) - 1, matched = 0;
    while (i >= 0 && a[i].str == b[i].str) --i, ++matched;
    suffix += matched;
    if (i >= 0) break;
  }
  if (prefix + suffix < n) return false;
  long long low = std::max(d, n - suffix), high = std::min(prefix, n);
  for (long long x : {high, low}) {
    if (x < low || x > high) continue;
    bool same = true;  // T[x-d, x) == T[x, x+d)
    for (long long at = 0; same && at < d; at += w) {
      long long len = std::min(w, d - at);
      auto a = range(target_, x - d + at, x - d + at + len - 1), b = range(target_, x + at, x + at + len - 1);
      same = a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](const Reply& p, const Reply& q) { return p.str == q.str; });
    }
    if (same) return true;
  }
  return false;
}

}  // namespace ferry
