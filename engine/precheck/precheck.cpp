#include "precheck/precheck.h"

#include "core/log.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <set>
#include <thread>

namespace ferry {
namespace {

using Info = std::map<std::string, std::string>;

long long num(const Info& info, const std::string& key) {
  auto it = info.find(key);
  return it == info.end() ? 0 : std::atoll(it->second.c_str());
}

std::string mb(long long bytes) { return fmt::format("{:.1f} MB", bytes / 1e6); }

// Non-empty DBs from INFO keyspace, with their key counts.
std::map<int, long long> keyspace(Connection& conn) {
  std::map<int, long long> out;
  for (const auto& [name, value] : conn.info("keyspace"))
    if (name.rfind("db", 0) == 0) out[std::atoi(name.c_str() + 2)] = std::atoll(value.c_str() + value.find("keys=") + 5);
  return out;
}

// ACL DRYRUN <user> <command...>: nullopt when it cannot be asked (pre-7.0, or no ACL permission).
std::optional<std::string> dry_run(Connection& conn, const std::string& user, const Args& command) {
  Args args{"ACL", "DRYRUN", user.empty() ? "default" : user};
  args.insert(args.end(), command.begin(), command.end());
  Reply r = conn.command(args);
  if (r.is_error()) {
    // No ACL DRYRUN (before 7.0), no right to ask, or the command is unknown (renamed): cannot tell.
    if (r.str.find("unknown") != std::string::npos || r.str.find("not found") != std::string::npos ||
        classify_error(r.str) == RedisErrorKind::NoPerm)
      return std::nullopt;
    return r.str;  // e.g. "ERR User ... has no permissions to run the 'psync' command"
  }
  return r.str == "OK" ? std::string() : r.str;
}

class Checker {
 public:
  Checker(PrecheckReport& report) : report_(report) {}
  void pass(const std::string& name, std::string found) { add(name, CheckStatus::Pass, std::move(found), ""); }
  void warn(const std::string& name, std::string found, std::string fix) { add(name, CheckStatus::Warn, std::move(found), std::move(fix)); }
  void fail(const std::string& name, std::string found, std::string fix) { add(name, CheckStatus::Fail, std::move(found), std::move(fix)); }

 private:
  void add(const std::string& name, CheckStatus s, std::string found, std::string fix) {
    report_.checks.push_back({name, s, std::move(found), std::move(fix)});
  }
  PrecheckReport& report_;
};

std::unique_ptr<Connection> connect(const Endpoint& ep, const PrecheckOptions& o, Checker& c, PrecheckReport& report) {
  std::string name = ep.role + "-connection";
  try {
    auto conn = Connection::open(ep, o.timeouts);
    c.pass(name, fmt::format("{} answers (Redis {})", conn->describe(), conn->version_string()));
    return conn;
  } catch (const FerryError& e) {
    c.fail(name, e.what(), "check the address, the password (URI, FERRY_*_PASSWORD, --*-password-file) and the firewall");
    if (e.code() == ExitCode::Connection) report.connection_error = ExitCode::Connection;
    return nullptr;
  }
}

}  // namespace

const char* check_status_name(CheckStatus s) { return s == CheckStatus::Pass ? "pass" : s == CheckStatus::Warn ? "warn" : "fail"; }

CheckStatus PrecheckReport::overall() const {
  CheckStatus worst = CheckStatus::Pass;
  for (const auto& c : checks) worst = std::max(worst, c.status);
  return worst;
}

int PrecheckReport::exit_code() const {
  if (connection_error != ExitCode::Ok) return static_cast<int>(connection_error);
  switch (overall()) {
    case CheckStatus::Pass: return 0;
    case CheckStatus::Warn: return 2;
    case CheckStatus::Fail: return 1;
  }
  return 1;
}

nlohmann::json PrecheckReport::to_json() const {
  nlohmann::json j{{"status", check_status_name(overall())}, {"checks", nlohmann::json::array()}};
  for (const auto& c : checks)
    j["checks"].push_back({{"name", c.name}, {"status", check_status_name(c.status)}, {"found", c.found}, {"fix", c.fix}});
  return j;
}

std::string PrecheckReport::to_table() const {
  std::string out = fmt::format("{:<18} {:<5} {}\n", "check", "", "found / fix");
  for (const auto& c : checks) {
    out += fmt::format("{:<18} {:<5} {}\n", c.name, check_status_name(c.status), c.found);
    if (!c.fix.empty()) out += fmt::format("{:<24} fix: {}\n", "", c.fix);
  }
  out += fmt::format("precheck: {}\n", check_status_name(overall()));
  return out;
}

PrecheckReport run_precheck(const Endpoint* source_ep, const Endpoint& target_ep, const PrecheckOptions& o) {
  PrecheckReport report;
  Checker c(report);
  std::unique_ptr<Connection> source = source_ep ? connect(*source_ep, o, c, report) : nullptr;
  std::unique_ptr<Connection> target = connect(target_ep, o, c, report);
  if (!target || (source_ep && !source)) return report;
  const bool replica_mode = o.mode == "snapshot" || o.mode == "sync";

  Info target_server = target->info("server"), target_mem = target->info("memory");
  Info source_server, source_mem;
  if (source) {
    source_server = source->info("server");
    source_mem = source->info("memory");
  }

  // Cluster: not supported yet on either side.
  bool cluster = false;
  for (Connection* conn : {source.get(), target.get()}) {
    if (conn && conn->info("cluster")["cluster_enabled"] == "1") {
      c.fail("cluster", fmt::format("{} runs in cluster mode", conn->describe()),
             "ferry does not migrate Redis Cluster yet: migrate each shard's master separately");
      cluster = true;
    }
  }
  if (!cluster) c.pass("cluster", "neither side runs in cluster mode");

  // Same server.
  if (source) {
    if (source_server["run_id"] == target_server["run_id"])
      c.fail("same-server", fmt::format("{} and {} are the same server (run_id {})", source->describe(), target->describe(),
                                        source_server["run_id"].substr(0, 8)),
             "point --target at another server");
    else
      c.pass("same-server", "source and target are different servers");
  }

  // Source read permission and, for snapshot/sync, replication permission.
  if (source) {
    std::vector<std::string> denied;
    for (const Args& cmd : std::vector<Args>{{"SCAN", "0", "COUNT", "1"}, {"DUMP", "ferry:precheck:probe"},
                                             {"TYPE", "ferry:precheck:probe"}, {"INFO", "server"}}) {
      Reply r = source->command(cmd);
      if (r.is_error() && classify_error(r.str) == RedisErrorKind::NoPerm) denied.push_back(cmd[0]);
      if (r.is_error() && classify_error(r.str) == RedisErrorKind::UnknownCommand) denied.push_back(cmd[0] + " (renamed)");
    }
    if (denied.empty()) c.pass("source-permission", "SCAN, DUMP, TYPE and INFO are allowed");
    else
      c.fail("source-permission", fmt::format("{} may not run: {}", source->describe(), fmt::join(denied, ", ")),
             "grant the user +@read +dump +info +scan (or +@all)");

    if (replica_mode) {
      std::vector<std::string> problems;
      for (const char* cmd : {"PSYNC", "SYNC", "REPLCONF"}) {
        Reply info = source->command({"COMMAND", "INFO", cmd});
        if (info.is_array() && (info.elements.empty() || info.elements[0].is_nil()))
          problems.push_back(fmt::format("{} is renamed or disabled", cmd));
      }
      std::optional<std::string> psync = dry_run(*source, source_ep->user, {"PSYNC", "?", "-1"});
      std::optional<std::string> replconf = dry_run(*source, source_ep->user, {"REPLCONF", "ACK", "0"});
      if (psync && !psync->empty()) problems.push_back(*psync);
      if (replconf && !replconf->empty()) problems.push_back(*replconf);
      bool psync_known = std::none_of(problems.begin(), problems.end(), [](const std::string& p) { return p.rfind("PSYNC", 0) == 0; });
      bool sync_known = std::none_of(problems.begin(), problems.end(), [](const std::string& p) { return p.rfind("SYNC ", 0) == 0; });
      if (!psync_known && !sync_known)
        c.fail("sync-allowed", fmt::format("{}: {}", source->describe(), fmt::join(problems, "; ")),
               "enable PSYNC (no rename-command), or use --mode scan");
      else if (psync && !psync->empty())
        c.fail("sync-allowed", fmt::format("{}: {}", source->describe(), *psync), "grant the user +psync +sync +replconf");
      else if (!psync_known)
        c.warn("sync-allowed", fmt::format("{}: PSYNC is renamed or disabled; SYNC works, so every reconnect is a full resync",
                                           source->describe()),
               "enable PSYNC on the source");
      else if (!psync)
        c.warn("sync-allowed", fmt::format("{}: the replication permission could not be verified (no ACL DRYRUN)", source->describe()),
               "make sure the user may run PSYNC, SYNC and REPLCONF");
      else
        c.pass("sync-allowed", "PSYNC and REPLCONF are allowed");
    }
  }

  // Target write permission and role.
  {
    std::optional<std::string> restore = dry_run(*target, target_ep.user, {"RESTORE", "ferry:precheck:probe", "0", "x"});
    std::optional<std::string> set = dry_run(*target, target_ep.user, {"SET", "ferry:precheck:probe", "x"});
    if ((restore && !restore->empty()) || (set && !set->empty()))
      c.fail("target-permission", fmt::format("{}: {}", target->describe(), restore && !restore->empty() ? *restore : *set),
             "grant the user +@write +restore (or +@all)");
    else if (!restore)
      c.warn("target-permission", fmt::format("{}: write permission could not be verified (no ACL DRYRUN)", target->describe()),
             "make sure the user may run RESTORE and the write commands");
    else
      c.pass("target-permission", "RESTORE and writes are allowed");
    std::string role = target->info("replication")["role"];
    if (role == "slave")
      c.fail("target-role", fmt::format("{} is a replica (read-only)", target->describe()), "point --target at a master");
    else
      c.pass("target-role", fmt::format("{} is a master", target->describe()));
  }

  // Memory and eviction.
  {
    long long maxmemory = num(target_mem, "maxmemory");
    long long total = maxmemory ? maxmemory : num(target_mem, "total_system_memory");
    long long free = total - num(target_mem, "used_memory");
    long long need = source ? static_cast<long long>(1.1 * num(source_mem, "used_memory")) : 0;
    std::string where = maxmemory ? "under maxmemory" : "of the host's memory (maxmemory 0)";
    if (source && free < need)
      c.fail("target-memory", fmt::format("{} has {} free {}, less than 1.1 x the source's used memory ({})", target->describe(),
                                          mb(free), where, mb(need)),
             fmt::format("raise maxmemory on the target to at least {} (CONFIG SET maxmemory {})", mb(need + num(target_mem, "used_memory")),
                         need + num(target_mem, "used_memory")));
    else
      c.pass("target-memory", fmt::format("{} free {}{}", mb(free), where, source ? fmt::format(", {} needed", mb(need)) : ""));
    std::string policy = target_mem["maxmemory_policy"];
    if (!policy.empty() && policy != "noeviction")
      c.warn("eviction-policy", fmt::format("{} has maxmemory-policy {}: a full target evicts keys silently", target->describe(), policy),
             "CONFIG SET maxmemory-policy noeviction on the target for the migration");
    else
      c.pass("eviction-policy", "noeviction");
  }

  // DBs: the selected ones exist on both sides; keys already in them on the target.
  std::vector<int> dbs = o.dbs;
  if (dbs.empty() && source)
    for (const auto& [db, n] : keyspace(*source)) dbs.push_back(db);
  {
    std::vector<std::string> missing;
    for (int db : dbs) {
      for (Connection* conn : {source.get(), target.get()}) {
        if (!conn) continue;
        Reply r = conn->command({"SELECT", std::to_string(db)});
        if (r.is_error()) missing.push_back(fmt::format("DB {} on {}", db, conn->describe()));
      }
    }
    for (Connection* conn : {source.get(), target.get()})
      if (conn) conn->command({"SELECT", "0"}), conn->note_selected(0);
    if (missing.empty()) c.pass("databases", fmt::format("DBs [{}] exist on both sides", fmt::join(dbs, ",")));
    else c.fail("databases", fmt::format("missing: {}", fmt::join(missing, "; ")), "raise 'databases' on the target, or map the DBs");
  }
  {
    auto target_keys = keyspace(*target);
    std::vector<std::string> busy;
    for (int db : dbs.empty() ? std::vector<int>{} : dbs)
      if (target_keys.count(db)) busy.push_back(fmt::format("DB {}: {} keys", db, target_keys[db]));
    if (o.mode == "rdb" && dbs.empty())
      for (const auto& [db, n] : target_keys) busy.push_back(fmt::format("DB {}: {} keys", db, n));
    if (busy.empty()) c.pass("existing-keys", "the target's selected DBs are empty");
    else if (o.replace)
      c.warn("existing-keys", fmt::format("the target already holds keys ({}): keys of the same name will be overwritten", fmt::join(busy, ", ")),
             "");
    else
      c.fail("existing-keys", fmt::format("the target already holds keys ({})", fmt::join(busy, ", ")),
             "empty those DBs, choose others with --db, or use --on-conflict replace");
  }

  if (source) {
    // Versions and data the target cannot hold.
    int sv = source->version(), tv = target->version();
    if (tv < sv)
      c.warn("versions", fmt::format("the target runs {} and the source {}: DUMP payloads it cannot read go through native commands",
                                     target->version_string(), source->version_string()),
             "");
    else
      c.pass("versions", fmt::format("source {}, target {}", source->version_string(), target->version_string()));
    std::vector<std::string> unsupported;
    long long subexpiry = 0;
    for (const auto& [name, value] : source->info("keyspace")) {
      auto pos = value.find("subexpiry=");
      if (pos != std::string::npos) subexpiry += std::atoll(value.c_str() + pos + 10);
    }
    if (subexpiry > 0 && tv < 70400) unsupported.push_back(fmt::format("{} hashes with per-field expiry (needs 7.4+)", subexpiry));
    Reply functions = source->command({"FUNCTION", "LIST"});
    if (functions.is_array() && !functions.elements.empty() && tv < 70000)
      unsupported.push_back(fmt::format("{} function libraries (needs 7.0+)", functions.elements.size()));
    if (unsupported.empty()) c.pass("unsupported-data", "nothing the target cannot hold was found");
    else
      c.fail("unsupported-data", fmt::format("the source holds {}", fmt::join(unsupported, ", ")),
             "upgrade the target, or accept skipping them with --skip-unsupported (RDB import)");

    // Modules.
    auto names = [](Connection& conn) {
      std::set<std::string> out;
      Reply r = conn.command({"MODULE", "LIST"});
      for (const auto& m : r.elements)
        for (size_t i = 0; i + 1 < m.elements.size(); i += 2)
          if (m.elements[i].str == "name") out.insert(m.elements[i + 1].str);
      return out;
    };
    auto src_modules = names(*source), dst_modules = names(*target);
    std::vector<std::string> only_source;
    for (const auto& m : src_modules)
      if (!dst_modules.count(m)) only_source.push_back(m);
    if (only_source.empty()) c.pass("modules", src_modules.empty() ? "no modules on the source" : "the target has the source's modules");
    else
      c.warn("modules", fmt::format("loaded on the source but not on the target: {}", fmt::join(only_source, ", ")),
             "load them on the target; keys of their types cannot be migrated otherwise");

    // Output buffer and backlog against the write rate (sampled) times the snapshot time. The rate
    // is the source's incoming traffic (master_repl_offset only moves once a replica exists): an
    // upper bound of what it would propagate.
    long long offset_before = num(source->info("stats"), "total_net_input_bytes");
    auto t0 = std::chrono::steady_clock::now();
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    long long offset_after = num(source->info("stats"), "total_net_input_bytes");
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    long long rate = offset_after > offset_before ? static_cast<long long>((offset_after - offset_before) / secs) : 0;
    double snapshot_secs = std::max(1.0, num(source_mem, "used_memory") / 100e6);  // ~100 MB/s
    long long expected = static_cast<long long>(rate * snapshot_secs);
    if (replica_mode) {
      Reply cobl = source->command({"CONFIG", "GET", "client-output-buffer-limit"});
      if (cobl.is_error() || cobl.elements.size() < 2) {
        c.warn("output-buffer", "the replica output-buffer limit could not be read (CONFIG GET is not allowed)",
               "make sure client-output-buffer-limit for replicas exceeds the writes made during the snapshot");
      } else {
        const std::string& v = cobl.elements[1].str;
        auto pos = v.find("slave ");
        if (pos == std::string::npos) pos = v.find("replica ");
        long long hard = pos == std::string::npos ? 0 : std::atoll(v.c_str() + v.find(' ', pos) + 1);
        if (hard > 0 && expected > hard)
          c.warn("output-buffer", fmt::format("writes at {}/s for an estimated {:.0f} s snapshot ({}) exceed the replica "
                                              "output-buffer limit ({})",
                                              mb(rate), snapshot_secs, mb(expected), mb(hard)),
                 fmt::format("CONFIG SET client-output-buffer-limit \"replica {} {} 60\" on the source, or use --spool-dir",
                             expected * 2, expected));
        else
          c.pass("output-buffer", fmt::format("limit {} for {} expected during the snapshot", hard ? mb(hard) : "none", mb(expected)));
      }
      Reply backlog = source->command({"CONFIG", "GET", "repl-backlog-size"});
      long long size = backlog.is_array() && backlog.elements.size() >= 2 ? std::atoll(backlog.elements[1].str.c_str()) : 0;
      if (size > 0 && expected > size)
        c.warn("backlog", fmt::format("repl-backlog-size {} is smaller than the {} written during an estimated {:.0f} s snapshot: "
                                      "a disconnect then needs a full resync",
                                      mb(size), mb(expected), snapshot_secs),
               fmt::format("CONFIG SET repl-backlog-size {} on the source", expected * 2));
      else
        c.pass("backlog", size ? fmt::format("repl-backlog-size {} for {} expected", mb(size), mb(expected))
                               : "repl-backlog-size could not be read");
    }

    // Biggest keys (sampled) against the target's proto-max-bulk-len.
    Reply bulk = target->command({"CONFIG", "GET", "proto-max-bulk-len"});
    long long max_bulk = bulk.is_array() && bulk.elements.size() >= 2 ? std::atoll(bulk.elements[1].str.c_str()) : 512LL << 20;
    long long biggest = 0;
    std::string biggest_key;
    for (int i = 0; i < 20; ++i) {
      Reply k = source->command({"RANDOMKEY"});
      if (!k.is_string()) break;
      Reply m = source->command({"MEMORY", "USAGE", k.str});
      if (m.is_integer() && m.integer > biggest) {
        biggest = m.integer;
        biggest_key = k.str;
      }
    }
    if (biggest > max_bulk)
      c.warn("big-keys", fmt::format("key '{}' takes {}, more than the target's proto-max-bulk-len ({}): it is copied in chunks",
                                     log::printable(biggest_key), mb(biggest), mb(max_bulk)),
             "");
    else
      c.pass("big-keys", fmt::format("biggest sampled key {} (proto-max-bulk-len {})", mb(biggest), mb(max_bulk)));
  }
  return report;
}

}  // namespace ferry
