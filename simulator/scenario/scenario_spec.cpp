#include "scenario/scenario_spec.h"

#include "core/error.h"

#include <fmt/format.h>

#include <limits>
#include <toml++/toml.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

namespace ferry::sim {
namespace {

// Reads one table of the file, refusing keys it does not know and values of the wrong type.
class Section {
 public:
  Section(const std::string& file, const std::string& name, const toml::table* table) : file_(file), name_(name), t_(table) {}

  bool present() const { return t_ != nullptr; }
  const std::string& file() const { return file_; }
  void allow(const char* key) { known_.insert(key); }

  template <typename T>
  void get(const char* key, T& out) {
    known_.insert(key);
    if (!t_) return;
    const toml::node* n = t_->get(key);
    if (!n) return;
    if constexpr (std::is_same_v<T, std::string>) {
      if (auto v = n->value<std::string>()) return void(out = *v);
    } else if constexpr (std::is_same_v<T, bool>) {
      if (auto v = n->value<bool>()) return void(out = *v);
    } else if constexpr (std::is_floating_point_v<T>) {
      if (auto v = n->value<double>()) return void(out = static_cast<T>(*v));
    } else {
      // TOML integers only: toml++'s own float-to-integer conversion is undefined past int64's range.
      if (auto v = n->as_integer(); v && v->get() >= 0) return void(out = static_cast<T>(v->get()));
    }
    fail(*n, fmt::format("'{}' has the wrong type", key));
  }
  void get(const char* key, std::optional<std::string>& out) {
    std::string v;
    bool had = t_ && t_->get(key);
    get(key, v);
    if (had) out = v;
  }
  void get_ints(const char* key, std::vector<int>& out) {
    known_.insert(key);
    const toml::node* n = t_ ? t_->get(key) : nullptr;
    if (!n) return;
    const toml::array* a = n->as_array();
    if (!a) fail(*n, fmt::format("'{}' must be an array of integers", key));
    out.clear();
    for (const auto& e : *a) {
      auto v = e.as_integer();
      if (!v || v->get() < 0 || v->get() > std::numeric_limits<int>::max())
        fail(e, fmt::format("'{}' must be an array of integers from 0", key));
      out.push_back(static_cast<int>(v->get()));
    }
  }
  void get_strings(const char* key, std::vector<std::string>& out) {
    known_.insert(key);
    const toml::node* n = t_ ? t_->get(key) : nullptr;
    if (!n) return;
    const toml::array* a = n->as_array();
    if (!a) fail(*n, fmt::format("'{}' must be an array of strings", key));
    for (const auto& e : *a) {
      auto v = e.value<std::string>();
      if (!v) fail(e, fmt::format("'{}' must be an array of strings", key));
      out.push_back(*v);
    }
  }
  // A table of name = string/number, as text.
  void get_map(const char* key, std::vector<std::pair<std::string, std::string>>& out) {
    known_.insert(key);
    const toml::node* n = t_ ? t_->get(key) : nullptr;
    if (!n) return;
    const toml::table* m = n->as_table();
    if (!m) fail(*n, fmt::format("'{}' must be a table", key));
    for (const auto& [k, v] : *m) {
      if (auto s = v.value<std::string>()) out.emplace_back(std::string(k.str()), *s);
      else if (auto i = v.as_integer()) out.emplace_back(std::string(k.str()), std::to_string(i->get()));
      else if (auto d = v.as_floating_point()) out.emplace_back(std::string(k.str()), fmt::format("{}", d->get()));
      else fail(v, fmt::format("'{}.{}' must be a string or a number", key, k.str()));
    }
  }
  // Fails on a key nobody asked for.
  void done() {
    if (!t_) return;
    for (const auto& [k, v] : *t_)
      if (!known_.count(std::string(k.str())))
        throw FerryError(ExitCode::Usage, fmt::format("{}:{}:{}: unknown key '{}' in [{}]", file_, k.source().begin.line,
                                                      k.source().begin.column, k.str(), name_));
  }
  [[noreturn]] void fail(const toml::node& n, const std::string& why) const {
    throw FerryError(ExitCode::Usage, fmt::format("{}:{}:{}: [{}] {}", file_, n.source().begin.line, n.source().begin.column, name_, why));
  }

 private:
  std::string file_, name_;
  const toml::table* t_;
  std::set<std::string> known_;
};

void read_server(Section s, ServerSpec& out, bool source) {
  s.get("version", out.version);
  if (source) s.get("replicas", out.replicas);
  s.get("maxmemory", out.maxmemory);
  s.get("policy", out.policy);
  s.get("databases", out.databases);
  s.get("tls", out.tls);
  s.get_map("config", out.config);
  if (!source) s.get_strings("keys", out.keys);
  std::vector<std::pair<std::string, std::string>> cluster;
  s.get_map("cluster", cluster);
  for (const auto& [k, v] : cluster) {
    const int n = std::atoi(v.c_str());
    if (k == "masters" && n >= 1 && n <= 16) out.cluster_masters = n;
    else if (k == "replicas" && n >= 0 && n <= 4) out.cluster_replicas = n;
    else
      throw FerryError(ExitCode::Usage, fmt::format("{}: [{}] cluster.{} = {}: cluster takes masters (1-16) and replicas (0-4)",
                                                    s.file(), source ? "source" : "target", k, v));
  }
  s.done();
}

}  // namespace

ScenarioSpec load_scenario(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw FerryError(ExitCode::Usage, fmt::format("scenario '{}' cannot be read", path));
  return parse_scenario(std::string(std::istreambuf_iterator<char>(in), {}), path);
}

ScenarioSpec parse_scenario(const std::string& text, const std::string& path) {
  toml::table root;
  try {
    root = toml::parse(text, path);
  } catch (const toml::parse_error& e) {
    throw FerryError(ExitCode::Usage,
                     fmt::format("{}:{}:{}: {}", path, e.source().begin.line, e.source().begin.column, e.description()));
  }
  ScenarioSpec spec;
  spec.file = path;
  spec.name = std::filesystem::path(path).stem().string();
  Section top(path, "top level", &root);
  top.get("name", spec.name);
  top.get("description", spec.description);
  top.get("seed", spec.seed);
  top.get("proxy", spec.proxy);
  for (const char* t : {"source", "target", "dataset", "workload", "timeline", "task", "validate", "expect"}) top.allow(t);
  top.done();
  read_server(Section(path, "source", root["source"].as_table()), spec.source, true);
  read_server(Section(path, "target", root["target"].as_table()), spec.target, false);

  Section d(path, "dataset", root["dataset"].as_table());
  d.get("keys", spec.dataset.keys);
  d.get_ints("dbs", spec.dataset.dbs);
  d.get("expiring", spec.dataset.expiring);
  d.get("big", spec.dataset.big);
  d.get("short_lived", spec.dataset.short_lived);
  d.get("short_ttl_ms", spec.dataset.short_ttl_ms);
  d.get("lists", spec.dataset.lists);
  d.get("list_length", spec.dataset.list_length);
  d.get("newer_types", spec.dataset.newer_types);
  d.done();

  Section w(path, "workload", root["workload"].as_table());
  w.get("rate", spec.workload.rate);
  w.get("duration", spec.workload.duration);
  std::vector<std::pair<std::string, std::string>> mix;
  w.get_map("mix", mix);
  for (const auto& [k, v] : mix) spec.workload.mix[k] = std::atof(v.c_str());
  w.get_ints("dbs", spec.workload.dbs);
  w.get("keyspace", spec.workload.keyspace);
  if (w.present() && (*root["workload"].as_table()).contains("hash-tags")) {
    size_t tags = 0;
    w.get("hash-tags", tags);
    spec.workload.hash_tags = tags;
  } else {
    w.allow("hash-tags");
  }
  w.get("tag-per-command", spec.workload.tag_per_command);
  w.done();

  if (const toml::array* events = root["timeline"].as_array()) {
    for (const auto& e : *events) {
      const toml::table* t = e.as_table();
      if (!t) throw FerryError(ExitCode::Usage, fmt::format("{}:{}:{}: [[timeline]] entries are tables", path, e.source().begin.line,
                                                            e.source().begin.column));
      Section s(path, "timeline", t);
      TimelineEvent ev;
      s.get("at", ev.at_ms);
      s.get("fault", ev.fault);
      s.get("action", ev.action);
      s.get("value", ev.value);
      s.done();
      static const std::set<std::string> actions{"",
                                                 "heal",
                                                 "restart-target",
                                                 "restart-ferry",
                                                 "kill-ferry",
                                                 "target-maxmemory",
                                                 "delete",
                                                 "target-command",
                                                 "target-failover",
                                                 "target-reshard",
                                                 "target-shard-maxmemory",
                                                 "source-failover",
                                                 "source-reshard",
                                                 "source-replica-link-cut"};
      if (!actions.count(ev.action))
        s.fail(*t, fmt::format("unknown action '{}' (heal, restart-target, restart-ferry, kill-ferry, target-maxmemory, delete, "
                               "target-command, target-failover, target-reshard, target-shard-maxmemory, source-failover, "
                               "source-reshard, source-replica-link-cut)",
                               ev.action));
      if (ev.fault.empty() == ev.action.empty()) s.fail(*t, "an event has either a fault or an action");
      if (!ev.fault.empty()) spec.proxy = true;
      spec.timeline.push_back(ev);
    }
  }
  std::stable_sort(spec.timeline.begin(), spec.timeline.end(),
                   [](const TimelineEvent& a, const TimelineEvent& b) { return a.at_ms < b.at_ms; });

  if (const toml::table* task = root["task"].as_table()) {
    if (auto m = (*task)["mode"].value<std::string>()) spec.mode = *m;
    // The servers are the scenario's own: [task.source] may say how to read them (read, shards),
    // not where they are.
    for (const char* side : {"source", "target"})
      if (const auto* t = (*task)[side].as_table())
        for (const auto& [key, value] : *t)
          if (!(std::string_view(side) == "source" && (key.str() == "read" || key.str() == "shards")))
            throw FerryError(ExitCode::Usage, fmt::format("{}: [task.{}] {}: the scenario starts its own servers (a source "
                                                          "takes only read and shards here)",
                                                          path, side, key.str()));
    std::ostringstream text;
    text << *task;
    spec.task_toml = text.str();
  }

  Section v(path, "validate", root["validate"].as_table());
  v.get("enabled", spec.validate.enabled);
  v.get("compare", spec.validate.compare);
  v.get("rounds", spec.validate.rounds);
  v.get("interval", spec.validate.interval);
  v.get("ttl_tolerance_ms", spec.validate.ttl_tolerance_ms);
  v.done();

  Section x(path, "expect", root["expect"].as_table());
  x.get_strings("must", spec.expect.must);
  x.get_strings("may", spec.expect.may);
  x.get_strings("must_not", spec.expect.must_not);
  x.get("unexplained", spec.expect.unexplained);
  x.get("exit_code", spec.expect.exit_code);
  x.get("error_contains", spec.expect.error_contains);
  std::vector<std::pair<std::string, std::string>> report;
  x.get_map("report", report);
  for (const auto& [k, val] : report) spec.expect.report[k] = val;
  x.get("time_limit", spec.expect.time_limit);
  x.get_strings("absent_on_target", spec.expect.absent_on_target);
  x.done();
  if (spec.source.cluster_masters > 0 && spec.proxy)
    throw FerryError(ExitCode::Usage, fmt::format("{}: the fault proxy stands in front of one server, and the source is a "
                                                  "cluster: no proxy faults with [source] cluster",
                                                  path));
  for (const auto& ev : spec.timeline) {
    if (ev.action.rfind("source-", 0) == 0 && spec.source.cluster_masters == 0)
      throw FerryError(ExitCode::Usage, fmt::format("{}: the timeline's {} at {} ms needs a cluster source ([source] cluster = "
                                                    "{{ masters = 3, replicas = 1 }})",
                                                    path, ev.action, ev.at_ms));
    const bool cluster_action = ev.action.rfind("target-", 0) == 0 && ev.action != "target-maxmemory" && ev.action != "target-command";
    if (cluster_action && spec.target.cluster_masters == 0)
      throw FerryError(ExitCode::Usage, fmt::format("{}: the timeline's {} at {} ms needs a cluster target ([target] cluster = "
                                                    "{{ masters = 3, replicas = 1 }})",
                                                    path, ev.action, ev.at_ms));
    if ((ev.action == "restart-target" || ev.action == "target-maxmemory") && spec.target.cluster_masters > 0)
      throw FerryError(ExitCode::Usage, fmt::format("{}: the timeline's {} at {} ms is for one target server; a cluster target "
                                                    "takes target-failover, target-reshard and target-shard-maxmemory",
                                                    path, ev.action, ev.at_ms));
  }
  return spec;
}

std::vector<std::string> find_scenarios(const std::vector<std::string>& paths) {
  std::vector<std::string> out;
  for (const auto& p : paths) {
    if (std::filesystem::is_directory(p)) {
      for (const auto& e : std::filesystem::recursive_directory_iterator(p))
        if (e.is_regular_file() && e.path().extension() == ".toml") out.push_back(e.path().string());
    } else {
      out.push_back(p);
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace ferry::sim
