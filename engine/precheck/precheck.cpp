#include "precheck/precheck.h"

#include "core/log.h"
#include "io/byte_source.h"
#include "rdb/rdb_inspector.h"
#include "rdb/rdb_parser.h"
#include "task/aof_file_check.h"
#include "redis/command_keys.h"
#include "cluster/server_group.h"
#include "cluster/source_shards.h"
#include "redis/dialer.h"
#include "redis/keyspace.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
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

// ACL DRYRUN <user> <command...>: nullopt when it cannot be asked (pre-7.0, or no ACL permission).
std::optional<std::string> dry_run(Connection& conn, const std::string& user, const Args& command) {
  Args args{"ACL", "DRYRUN", user.empty() ? "default" : user};
  args.insert(args.end(), command.begin(), command.end());
  Reply r = conn.command(args);
  if (r.is_error()) {
    // No ACL DRYRUN (before 7.0), no right to ask, or the command is unknown (renamed): cannot tell.
    std::string lower = ascii_lower(r.str);
    if (lower.find("unknown") != std::string::npos || lower.find("not found") != std::string::npos ||
        classify_error(r.str) == RedisErrorKind::NoPerm)
      return std::nullopt;
    return r.str;  // e.g. "ERR User ... has no permissions to run the 'psync' command"
  }
  return r.str == "OK" ? std::string() : r.str;
}

// Up to ~1000 of the source's keys (in the selected DBs) with their MEMORY USAGE, within ~200 ms.
std::vector<std::pair<std::string, long long>> sample_key_sizes(Connection& source, const std::vector<int>& dbs) {
  std::vector<std::pair<std::string, long long>> out;
  std::vector<int> which = dbs;
  if (which.empty())
    for (const auto& [db, n] : keyspace(source)) which.push_back(db);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(200);
  for (int db : which) {
    source.select(db);
    std::string cursor = "0";
    do {
      Reply page = source.command({"SCAN", cursor, "COUNT", "200"});
      if (!page.is_array() || page.elements.size() != 2) break;
      cursor = page.elements[0].str;
      Pipeline pipe(source);
      for (const auto& k : page.elements[1].elements)
        pipe.send({"MEMORY", "USAGE", k.str}, [&out, key = k.str](Reply&& r) {
          out.emplace_back(key, r.is_integer() ? r.integer : static_cast<long long>(key.size()));
        });
      pipe.drain();
    } while (cursor != "0" && out.size() < 1000 && std::chrono::steady_clock::now() < deadline);
    if (out.size() >= 1000 || std::chrono::steady_clock::now() >= deadline) break;
  }
  source.select(0);
  return out;
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
    if (e.code() == ExitCode::Usage) throw;  // a TLS file that cannot be used
    c.fail(name, e.what(),
           ep.tls.enabled ? fmt::format("check the address, the TLS options (--{}-tls-*) and the password", ep.role)
                          : "check the address, the password (URI, FERRY_*_PASSWORD, --*-password-file) and the firewall");
    if (e.code() == ExitCode::Connection) report.connection_error = ExitCode::Connection;
    return nullptr;
  }
}

// Reads an RDB file up to its first key: the version and the aux fields (used-mem, redis-ver).
struct RdbHeaderProbe : rdb::RdbVisitor {
  struct Stop {};
  int version = 0;
  std::map<std::string, std::string> aux;
  void on_header(int v) override { version = v; }
  void on_aux(const std::string& name, const std::string& value) override { aux[name] = value; }
  void on_select_db(int) override { throw Stop{}; }
  size_t on_key_begin(const KeyInfo&) override { throw Stop{}; }
};

}  // namespace

const std::vector<std::string>& check_names() {
  static const std::vector<std::string> names{
      "rdb-file",      "aof-files",         "aof-commands",      "source-connection", "target-connection", "cluster",    "source-shards", "same-server",
      "source-permission", "sync-allowed", "target-permission", "target-role", "target-memory",
      "eviction-policy", "databases",     "existing-keys",     "versions",   "unsupported-data",
      "modules",       "output-buffer",     "backlog",           "big-keys"};
  return names;
}

bool is_check_name(const std::string& name) {
  const auto& names = check_names();
  return std::find(names.begin(), names.end(), name) != names.end();
}

const char* check_status_name(CheckStatus s) { return s == CheckStatus::Pass ? "pass" : s == CheckStatus::Warn ? "warn" : "fail"; }

CheckStatus PrecheckReport::overall() const {
  CheckStatus worst = CheckStatus::Pass;
  for (const auto& c : checks)
    if (!c.ignored) worst = std::max(worst, c.status);
  return worst;
}

int PrecheckReport::exit_code() const {
  if (unreadable_input) return static_cast<int>(ExitCode::CorruptInput);
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
  {
    nlohmann::json check{{"name", c.name}, {"status", check_status_name(c.status)}, {"found", c.found}, {"fix", c.fix}};
    if (c.ignored) check["ignored"] = true;
    j["checks"].push_back(std::move(check));
  }
  return j;
}

std::string PrecheckReport::to_table() const {
  std::string out = fmt::format("{:<18} {:<5} {}\n", "check", "", "found / fix");
  for (const auto& c : checks) {
    out += fmt::format("{:<18} {:<5} {}{}\n", c.name, check_status_name(c.status), c.found,
                       c.ignored ? " (ignored: --skip-check)" : "");
    if (!c.fix.empty()) out += fmt::format("{:<24} fix: {}\n", "", c.fix);
  }
  out += fmt::format("precheck: {}\n", check_status_name(overall()));
  return out;
}

namespace {

// The data of a newer RDB (version 12: Redis 7.4+) that an older target may not hold, from a full
// pass over the file (older files hold nothing 7.0 lacks besides module values, which need their module).
struct RdbContents {
  bool inspected = false;
  uint64_t field_expiries = 0;
  std::map<std::string, uint64_t> module_values;
  size_t functions = 0;
};

// What an RDB file tells: used memory (aux used-mem) and version from its header, and for an RDB 12
// file its contents (RdbContents).
void check_rdb_file(const std::string& path, Checker& c, PrecheckReport& report, long long& used_memory,
                    RdbContents& contents) {
  try {
    io::FileSource file(path);
    RdbHeaderProbe probe;
    rdb::RdbParser parser(file, probe);
    try {
      parser.parse();
    } catch (const RdbHeaderProbe::Stop&) {
    }
    used_memory = probe.aux.count("used-mem") ? std::atoll(probe.aux["used-mem"].c_str()) : static_cast<long long>(file.size().value_or(0));
    if (probe.version >= 12) {
      io::FileSource whole(path);
      rdb::RdbInspector inspector;
      rdb::RdbParser(whole, inspector).parse();
      contents.inspected = true;
      contents.field_expiries = inspector.field_expiries();
      contents.module_values = inspector.module_values();
      contents.functions = inspector.functions();
    }
    c.pass("rdb-file", fmt::format("{}: RDB version {}{}, {}", path, probe.version,
                                   probe.aux.count("redis-ver") ? " from Redis " + probe.aux["redis-ver"] : "",
                                   probe.aux.count("used-mem") ? "used-mem " + mb(used_memory) : "file size " + mb(used_memory)));
  } catch (const std::exception& e) {
    c.fail("rdb-file", e.what(), "check the path and that the file is a complete RDB (redis-check-rdb FILE)");
    report.unreadable_input = true;
  }
}

// A cluster source: every shard found, the node each is read from reachable (a replica with its
// master link up, as --source-read asks) and allowed PSYNC (mode snapshot/sync). The source's used
// memory becomes that of every master together.
void check_source_shards(Checker& c, Connection& seed, const PrecheckOptions& o, Info& source_mem) {
  std::vector<SourceShard> shards;
  try {
    shards = discover_source_shards(seed, o.shards);
  } catch (const FerryError& e) {
    if (e.code() == ExitCode::Usage) throw;  // --shards names no shard
    c.fail("source-shards", e.what(), "check the source cluster (redis-cli --cluster check)");
    return;
  }
  const Dialer dialer(o.timeouts);
  const SourceRead read = parse_source_read(o.source_read);
  std::vector<std::string> found, problems, short_backlogs;
  long long used = 0;
  for (const auto& shard : shards) {
    ShardLocator locator(dialer, seed.endpoint(), shard, read);
    try {
      ShardLocator::Nodes nodes = locator.locate();
      auto master = dialer.connect(nodes.master);
      const long long shard_used = num(master->info("memory"), "used_memory");
      used += shard_used;
      found.push_back(fmt::format("{} from {}{}", shard.describe(), nodes.read.address(), nodes.replica ? " (replica)" : ""));
      if (o.mode != "snapshot" && o.mode != "sync") continue;
      auto node = dialer.connect(nodes.read);
      if (auto denied = dry_run(*node, node->endpoint().user, {"PSYNC", "?", "-1"}); denied && !denied->empty())
        problems.push_back(fmt::format("{} refuses PSYNC: {}", nodes.read.address(), *denied));
      // The shard's backlog against what its master takes in during the shard's snapshot (~100 MB/s).
      const double snapshot_secs = std::max(1.0, static_cast<double>(shard_used) / 100e6);
      const long long expected =
          static_cast<long long>(std::atof(master->info("stats")["instantaneous_input_kbps"].c_str()) * 1024 * snapshot_secs);
      Reply backlog = node->command({"CONFIG", "GET", "repl-backlog-size"});
      const long long size = backlog.is_array() && backlog.elements.size() >= 2 ? std::atoll(backlog.elements[1].str.c_str()) : 0;
      if (size > 0 && size < expected)
        short_backlogs.push_back(fmt::format("{} on {}: repl-backlog-size {} for {} written in its ~{:.0f} s snapshot",
                                             shard.describe(), nodes.read.address(), mb(size), mb(expected), snapshot_secs));
    } catch (const FerryError& e) {
      problems.push_back(e.what());
    }
  }
  source_mem["used_memory"] = std::to_string(used);
  if (problems.empty() && !short_backlogs.empty())
    c.warn("source-shards", fmt::format("a link broken while a shard's backlog is short costs that shard a full resync: {}",
                                        fmt::join(short_backlogs, "; ")),
           "on each of those nodes: CONFIG SET repl-backlog-size (twice the figure named)");
  else if (problems.empty())
    c.pass("source-shards", fmt::format("the source is a cluster of {} shard(s), each read on its own ({}, {}): {}",
                                        shards.size(), source_read_name(read),
                                        o.shards.empty() ? "every shard" : "--shards", fmt::join(found, "; ")));
  else
    c.fail("source-shards", fmt::format("{}", fmt::join(problems, "; ")),
           read == SourceRead::Replica ? "bring a replica of each shard up (or --source-read prefer-replica)"
                                       : "check every node of the source cluster is reachable with the same password");
}

// The unsupported-data check: what `holder` (the source, the file) holds that the target cannot.
void check_unsupported(Checker& c, const PrecheckOptions& o, const char* holder, const std::vector<std::string>& unsupported) {
  if (unsupported.empty())
    c.pass("unsupported-data", fmt::format("nothing in {} the target cannot hold", holder));
  else if (o.skip_unsupported)  // asked for: not a warning to accept again
    c.pass("unsupported-data", fmt::format("{} holds {}: skipped, counted and listed in the report (--skip-unsupported)",
                                           holder, fmt::join(unsupported, ", ")));
  else
    c.fail("unsupported-data", fmt::format("{} holds {}", holder, fmt::join(unsupported, ", ")),
           "upgrade the target (or use one that holds them), or skip them with --skip-unsupported");
}

// Marks the checks --skip-check names as ignored.
void ignore_skipped(PrecheckReport& report, const std::vector<std::string>& skip) {
  for (auto& check : report.checks)
    if (std::find(skip.begin(), skip.end(), check.name) != skip.end()) check.ignored = true;
}

}  // namespace

namespace {

// Mode aof: every file read whole, as the import reads it first (exit 5 for what redis-server
// would refuse); its memory is the RDB part's used-mem plus the commands' bytes.
std::shared_ptr<const AofFacts> check_aof_input(const PrecheckOptions& o, Checker& c, PrecheckReport& report,
                                                long long& used_memory) {
  try {
    AofCheckOptions options;
    if (o.aof_until) options.until = o.aof_until;
    options.work_dir = o.work_dir;
    auto checked = std::make_shared<AofFacts>(check_aof(aof::resolve_aof_path(o.aof_path), options));
    const AofFacts& facts = *checked;
    used_memory = 0;
    std::string base = "no RDB part";
    for (const auto& f : facts.files) {
      const bool rdb_used = f.rdb && f.rdb->aux.count("used-mem");
      used_memory += rdb_used ? std::atoll(f.rdb->aux.at("used-mem").c_str()) + static_cast<long long>(f.size - f.commands_from)
                              : static_cast<long long>(f.size);
      if (f.rdb) base = fmt::format("{} (RDB {}, {} keys)", f.format, f.rdb->version, f.rdb->keys);
    }
    const std::string found = fmt::format("{}: {} file(s), {}, {}; {} commands{}", facts.layout.describe(), facts.files.size(),
                                          mb(static_cast<long long>(facts.total_size())), base, facts.commands(),
                                          facts.cut ? fmt::format(", --aof-until stops at offset {} of {}", facts.cut->offset,
                                                                  facts.files[facts.cut->file].part.name)
                                                    : "");
    // A short tail of the last file is dropped as redis-server drops it (aof-load-truncated yes): the
    // import goes on, and says so in its warnings.
    const auto dropped = facts.warnings();
    c.pass("aof-files", dropped.empty() ? found : fmt::format("{}; {}", found, fmt::join(dropped, "; ")));
    return checked;
  } catch (const FerryError& e) {
    if (e.code() == ExitCode::Usage) throw;  // --aof-until without #TS: annotations
    c.fail("aof-files", e.what(), "check the path; redis-check-aof FILE (or the manifest) says what redis-server refuses");
    report.unreadable_input = true;
    return nullptr;
  }
}

// Mode aof: every command name of the files is one the target knows (COMMAND INFO).
void check_aof_commands(const AofFacts& facts, Connection& target, Checker& c) {
  std::map<std::string, uint64_t> names;
  for (const auto& f : facts.files)
    for (const auto& [name, n] : f.per_command) names[name] += n;
  std::vector<std::string> missing;
  for (const auto& [name, n] : names) {
    Reply info = target.command({"COMMAND", "INFO", name});
    if (info.is_array() && (info.elements.empty() || info.elements[0].is_nil()))
      missing.push_back(fmt::format("{} ({} times)", name, n));
  }
  if (missing.empty())
    c.pass("aof-commands", fmt::format("{} knows all {} command names the AOF uses", target.describe(), names.size()));
  else
    c.fail("aof-commands", fmt::format("{} (Redis {}) lacks commands the AOF uses: {}", target.describe(),
                                       target.version_string(), fmt::join(missing, ", ")),
           "use a target as new as the server that wrote the AOF (or load the module that adds them)");
}

PrecheckReport run_checks(const Endpoint* source_ep, const Endpoint& target_ep, const PrecheckOptions& o) {
  PrecheckReport report;
  Checker c(report);
  long long rdb_used_memory = 0;
  RdbContents rdb_contents;
  if (o.mode == "rdb")  // several files: one per shard of a cluster, their memory added up
    for (const auto& file : o.rdb_files) {
      long long used = 0;
      RdbContents contents;
      check_rdb_file(file, c, report, used, contents);
      rdb_used_memory += used;
      rdb_contents.inspected = rdb_contents.inspected || contents.inspected;
      rdb_contents.field_expiries += contents.field_expiries;
      for (const auto& [type, n] : contents.module_values) rdb_contents.module_values[type] += n;
      rdb_contents.functions += contents.functions;
    }
  if (o.mode == "aof") report.aof = check_aof_input(o, c, report, rdb_used_memory);
  std::unique_ptr<Connection> source = source_ep ? connect(*source_ep, o, c, report) : nullptr;
  std::unique_ptr<Connection> target = connect(target_ep, o, c, report);
  if (!target || (source_ep && !source)) return report;
  const bool replica_mode = o.mode == "snapshot" || o.mode == "sync";

  Info target_server = target->info("server"), target_mem = target->info("memory");
  Info source_server, source_mem;
  // The source's write rate is sampled across the checks below (at least 100 ms).
  long long input_before = 0;
  auto rate_since = std::chrono::steady_clock::now();
  if (source) {
    source_server = source->info("server");
    source_mem = source->info("memory");
    input_before = num(source->info("stats"), "total_net_input_bytes");
  }

  // Cluster: a cluster target is written shard by shard (routed by slot); a cluster source is read
  // shard by shard (source_shards below). `masters` are the connections the target's checks below
  // ask: the one server, or every master of the cluster (each check names the shard it found
  // something on).
  std::optional<ServerGroup> group;
  std::vector<Connection*> masters{target.get()};
  const ClusterTopology* topology = nullptr;
  auto shard_name = [&](size_t i) { return group ? group->describe_node(i) : target->describe(); };
  bool source_cluster = source && is_cluster(*source);
  if (source_cluster) check_source_shards(c, *source, o, source_mem);
  if (is_cluster(*target)) {
    try {
      group.emplace(Connection::open(target_ep, o.timeouts), o.timeouts);
    } catch (const FerryError& e) {
      c.fail("cluster", e.what(), "check that every master of the cluster is reachable from here, with the same password");
      if (e.code() == ExitCode::Connection) report.connection_error = ExitCode::Connection;
      return report;
    }
    topology = group->topology();
    masters.clear();
    for (size_t i = 0; i < group->size(); ++i) masters.push_back(&group->node(i));
    std::vector<std::string> problems;
    int uncovered = 0;
    for (int owner : topology->slots.owner) uncovered += owner < 0;
    if (uncovered)
      problems.push_back(fmt::format("{} of the 16384 slots have no master (slots {})", uncovered,
                                     log::printable(topology->slots.ranges_of(-1), 120)));
    if (!topology->ok) problems.push_back("cluster_state is not ok");
    if (!problems.empty()) {
      c.fail("cluster", fmt::format("{} is a cluster, but {}", target->describe(), fmt::join(problems, "; ")),
             "fix the cluster first (redis-cli --cluster check / fix)");
      return report;
    }
    std::vector<std::string> shards;
    for (size_t i = 0; i < topology->masters.size(); ++i)
      shards.push_back(fmt::format("{} slots {}", topology->masters[i].address(), topology->slots_of(i)));
    c.pass("cluster", fmt::format("the target is a cluster of {} masters ({}), all 16384 slots covered, state ok: keys are "
                                  "routed by slot",
                                  topology->masters.size(), fmt::join(shards, "; ")));
  } else {
    c.pass("cluster", source_cluster ? "the target is one server: every shard of the source writes to it"
                                     : "neither side runs in cluster mode");
  }

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
      if (r.is_error() && classify_error(r.str) == RedisErrorKind::NoPerm) denied.push_back(cmd[0] + " (" + r.str + ")");
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
      std::optional<std::string> psync = dry_run(*source, source->endpoint().user, {"PSYNC", "?", "-1"});
      std::optional<std::string> replconf = dry_run(*source, source->endpoint().user, {"REPLCONF", "ACK", "0"});
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

  // Target write permission and role, on every master.
  {
    std::optional<std::string> failure, unverified;
    std::string fix = "grant the user +@write +restore (or +@all)";
    for (size_t i = 0; i < masters.size() && !failure; ++i) {
      Connection& t = *masters[i];
      const std::string& user = t.endpoint().user;  // as logged in (a user:password split included)
      std::optional<std::string> restore = dry_run(t, user, {"RESTORE", "ferry:precheck:probe", "0", "x"});
      std::optional<std::string> set = dry_run(t, user, {"SET", "ferry:precheck:probe", "x"});
      // The stream carries PUBLISH (a non-cluster source replicates it): Redis 7 gives new users no
      // channel (acl-pubsub-default resetchannels), and the first PUBLISH would stop the task.
      std::optional<std::string> publish;
      if (o.mode == "sync" && o.publish) publish = dry_run(t, user, {"PUBLISH", "ferry:precheck:probe", "x"});
      if ((restore && !restore->empty()) || (set && !set->empty())) {
        failure = fmt::format("{}: {}", shard_name(i), restore && !restore->empty() ? *restore : *set);
      } else if (publish && !publish->empty()) {
        failure = fmt::format("{}: {} (the stream's PUBLISH commands would be refused)", shard_name(i), *publish);
        fix = "grant the user the channels (ACL SETUSER <user> allchannels, or &*), or leave PUBLISH out with --no-publish";
      } else if (!restore && !unverified) {
        unverified = fmt::format("{}: write permission could not be verified (no ACL DRYRUN)", shard_name(i));
      }
    }
    if (failure) c.fail("target-permission", *failure, fix);
    else if (unverified) c.warn("target-permission", *unverified, "make sure the user may run RESTORE and the write commands");
    else c.pass("target-permission", topology ? "RESTORE and writes are allowed on every master" : "RESTORE and writes are allowed");
    if (topology)
      c.pass("target-role", fmt::format("writes go to the cluster's {} masters{}", masters.size(),
                                        target->info("replication")["role"] == "slave" ? " (the node named is a replica: fine)" : ""));
    else if (target->info("replication")["role"] == "slave")
      c.fail("target-role", fmt::format("{} is a replica (read-only)", target->describe()), "point --target at a master");
    else
      c.pass("target-role", fmt::format("{} is a master", target->describe()));
  }

  // Memory and eviction. A cluster's shards each hold the source keys that hash to them: each
  // shard's free memory against its share of the source, estimated from sampled keys.
  {
    long long source_used = source ? num(source_mem, "used_memory") : rdb_used_memory;
    const char* what = source                ? "the source's used memory"
                       : o.mode == "aof" ? "the AOF's size (its RDB part's used-mem, the commands' bytes)"
                                         : "the RDB file's used-mem";
    std::vector<double> share(masters.size(), 1.0 / static_cast<double>(masters.size()));
    std::string estimated;
    if (topology && source) {
      auto sample = sample_key_sizes(*source, o.dbs);
      std::vector<double> bytes(masters.size(), 0);
      double total = 0;
      for (const auto& [key, size] : sample) {
        const int owner = topology->slots.owner[static_cast<size_t>(key_slot(key))];
        if (owner >= 0 && static_cast<size_t>(owner) < bytes.size()) bytes[static_cast<size_t>(owner)] += static_cast<double>(size);
        total += static_cast<double>(size);
      }
      if (total > 0)
        for (size_t i = 0; i < masters.size(); ++i) share[i] = bytes[i] / total;
      estimated = fmt::format(", its share estimated from {} sampled keys", sample.size());
    } else if (topology) {
      estimated = ", an even share per shard";
    }
    std::optional<std::string> failure, fix;
    std::vector<std::string> passes;
    for (size_t i = 0; i < masters.size(); ++i) {
      Info mem = masters[i] == target.get() ? target_mem : masters[i]->info("memory");
      long long maxmemory = num(mem, "maxmemory");
      long long total = maxmemory ? maxmemory : num(mem, "total_system_memory");
      long long free = total - num(mem, "used_memory");
      long long need = static_cast<long long>(1.1 * share[i] * static_cast<double>(source_used));
      std::string where = maxmemory ? "under maxmemory" : "of the host's memory (maxmemory 0)";
      if (need > 0 && free < need && !failure) {
        failure = topology ? fmt::format("{} has {} free {}, less than 1.1 x its share of {} ({}{})", shard_name(i), mb(free),
                                         where, what, mb(need), estimated)
                           : fmt::format("{} has {} free {}, less than 1.1 x {} ({})", target->describe(), mb(free), where,
                                         what, mb(need));
        fix = fmt::format("raise maxmemory on {} to at least {} (CONFIG SET maxmemory {})",
                          topology ? topology->masters[i].address() : "the target", mb(need + num(mem, "used_memory")),
                          need + num(mem, "used_memory"));
      }
      passes.push_back(topology ? fmt::format("{} {} free, {} needed", topology->masters[i].address(), mb(free), mb(need))
                                : fmt::format("{} free {}, {} needed (1.1 x {})", mb(free), where, mb(need), what));
    }
    if (failure) c.fail("target-memory", *failure, *fix);
    else if (topology) c.pass("target-memory", fmt::format("{} (1.1 x each shard's share of {}{})", fmt::join(passes, "; "), what, estimated));
    else c.pass("target-memory", passes.front());

    std::vector<std::string> evicting;
    for (size_t i = 0; i < masters.size(); ++i) {
      std::string policy = masters[i] == target.get() ? target_mem["maxmemory_policy"] : masters[i]->info("memory")["maxmemory_policy"];
      if (!policy.empty() && policy != "noeviction") evicting.push_back(fmt::format("{} has maxmemory-policy {}", shard_name(i), policy));
    }
    if (!evicting.empty())
      c.warn("eviction-policy", fmt::format("{}: a full target evicts keys silently", fmt::join(evicting, "; ")),
             fmt::format("CONFIG SET maxmemory-policy noeviction on {} for the migration", topology ? "every master" : "the target"));
    else
      c.pass("eviction-policy", "noeviction");
  }

  // DBs: the selected ones exist on both sides; keys already in them on the target.
  std::vector<int> dbs = o.dbs;
  if (dbs.empty() && source)
    for (const auto& [db, n] : keyspace(*source)) dbs.push_back(db);
  if (topology) {
    std::vector<std::string> not_zero;
    for (int db : dbs)
      if (o.db_map.target(db) != 0) not_zero.push_back(std::to_string(db));
    if (dbs.size() > 1)
      c.fail("databases", fmt::format("the target is a cluster (DB 0 only) and the selection holds DBs {}", fmt::join(dbs, ", ")),
             fmt::format("copy one DB per task into the cluster: --db N --db-map N:0 (e.g. --db {} --db-map {}:0)", dbs.front(),
                         dbs.front()));
    else if (!not_zero.empty())
      c.fail("databases", fmt::format("the target is a cluster (DB 0 only) and source DB {} would go to DB {}", dbs.front(),
                                      o.db_map.target(dbs.front())),
             fmt::format("map it: --db-map {}:0", dbs.front()));
    else
      c.pass("databases", dbs.empty() ? "the target is a cluster: DB 0" : fmt::format("source DB {} -> the cluster's DB 0", dbs.front()));
  } else {
    std::vector<std::string> missing;
    for (int db : dbs) {
      for (Connection* conn : {source.get(), target.get()}) {
        if (!conn) continue;
        int which = conn == target.get() ? o.db_map.target(db) : db;
        Reply r = conn->command({"SELECT", std::to_string(which)});
        if (r.is_error()) missing.push_back(fmt::format("DB {} on {}", which, conn->describe()));
      }
    }
    for (Connection* conn : {source.get(), target.get()})
      if (conn) conn->command({"SELECT", "0"}), conn->note_selected(0);
    if (missing.empty())
      c.pass("databases", o.db_map.empty() ? fmt::format("DBs [{}] exist on both sides", fmt::join(dbs, ","))
                                           : fmt::format("DBs [{}] exist on the source and their mapped DBs ({}) on the target",
                                                         fmt::join(dbs, ","), o.db_map.describe()));
    else c.fail("databases", fmt::format("missing: {}", fmt::join(missing, "; ")), "raise 'databases' on the target, or map the DBs");
  }
  {
    std::vector<std::string> busy;
    // "DB 0: 12 keys, e.g. 'a', 'b'": a few names, so the user sees what is there.
    auto describe_busy = [&](Connection& t, const std::string& where, int db, long long n) {
      t.select(db);
      Reply sample = t.command({"SCAN", "0", "COUNT", "100"});
      std::vector<std::string> examples;
      if (sample.is_array() && sample.elements.size() == 2)
        for (const auto& k : sample.elements[1].elements)
          if (examples.size() < 3) examples.push_back("'" + log::printable(k.str, 60) + "'");
      t.select(0);
      return fmt::format("{}DB {}: {} keys{}", where, db, n, examples.empty() ? "" : fmt::format(", e.g. {}", fmt::join(examples, ", ")));
    };
    for (size_t i = 0; i < masters.size(); ++i) {
      auto target_keys = keyspace(*masters[i]);
      const std::string where = topology ? topology->masters[i].address() + " " : "";
      for (int source_db : dbs) {
        int db = o.db_map.target(source_db);
        if (target_keys.count(db)) busy.push_back(describe_busy(*masters[i], where, db, target_keys[db]));
      }
      if (((o.mode == "rdb" || o.mode == "aof") && dbs.empty()) || (topology && dbs.empty()))
        for (const auto& [db, n] : target_keys) busy.push_back(describe_busy(*masters[i], where, db, n));
    }
    if (o.resuming)
      c.pass("existing-keys", busy.empty() ? "the target's selected DBs are empty"
                                           : fmt::format("the target holds this task's earlier writes ({}): the task resumes "
                                                         "from its state file",
                                                         fmt::join(busy, "; ")));
    else if (busy.empty()) c.pass("existing-keys", "the target's selected DBs are empty");
    else if (o.replace)  // asked for: not a warning to accept again
      c.pass("existing-keys", fmt::format("the target already holds keys ({}): keys of the same name will be overwritten "
                                          "(--on-conflict replace)",
                                          fmt::join(busy, "; ")));
    else
      c.fail("existing-keys", fmt::format("the target already holds keys ({})", fmt::join(busy, "; ")),
             "empty those DBs, choose others with --db, or use --on-conflict replace");
  }

  if (report.aof) check_aof_commands(*report.aof, *target, c);

  if (rdb_contents.inspected) {
    // The RDB file's data against what the target can hold.
    int tv = target->version();
    std::set<std::string> target_modules = target->module_names();
    std::vector<std::string> unsupported;
    if (rdb_contents.field_expiries > 0 && tv < 70400)
      unsupported.push_back(fmt::format("{} hash fields with per-field expiry (needs 7.4+)", rdb_contents.field_expiries));
    if (rdb_contents.functions > 0 && tv < 70000)
      unsupported.push_back(fmt::format("{} function libraries (needs 7.0+)", rdb_contents.functions));
    for (const auto& [type, n] : rdb_contents.module_values)
      if (!target_modules.count(ascii_lower(type))) unsupported.push_back(fmt::format("{} values of module type '{}' (not loaded on the target)", n, type));
    check_unsupported(c, o, "the file", unsupported);
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
    for (const auto& [name, value] : source->info("keyspace")) {  // the selected DBs only
      if (name.rfind("db", 0) != 0) continue;
      const int db = std::atoi(name.c_str() + 2);
      if (!o.dbs.empty() && std::find(o.dbs.begin(), o.dbs.end(), db) == o.dbs.end()) continue;
      auto pos = value.find("subexpiry=");
      if (pos != std::string::npos) subexpiry += std::atoll(value.c_str() + pos + 10);
    }
    if (subexpiry > 0 && tv < 70400) unsupported.push_back(fmt::format("{} hashes with per-field expiry (needs 7.4+)", subexpiry));
    Reply functions = source->command({"FUNCTION", "LIST"});
    if (functions.is_array() && !functions.elements.empty() && tv < 70000)
      unsupported.push_back(fmt::format("{} function libraries (needs 7.0+)", functions.elements.size()));
    check_unsupported(c, o, "the source", unsupported);

    // Modules.
    auto src_modules = source->module_names(), dst_modules = target->module_names();
    std::vector<std::string> only_source;
    for (const auto& m : src_modules)
      if (!dst_modules.count(m)) only_source.push_back(m);
    // Keys of a missing module's type: SCAN TYPE <module name> (a module's type is often named
    // like it, e.g. vectorset), bounded in time, and types outside the built-in ones among sampled keys.
    std::vector<std::string> module_keys;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(150);
    for (const auto& m : only_source) {
      for (int db : dbs) {
        source->select(db);
        std::string cursor = "0";
        do {
          Reply r = source->command({"SCAN", cursor, "COUNT", "1000", "TYPE", m});
          if (r.is_error() || r.elements.size() < 2) break;
          cursor = r.elements[0].str;
          if (!r.elements[1].elements.empty()) {
            module_keys.push_back(fmt::format("'{}' (DB {}, type {})", log::printable(r.elements[1].elements[0].str, 60), db, m));
            break;
          }
        } while (cursor != "0" && std::chrono::steady_clock::now() < deadline);
      }
    }
    static const std::set<std::string> builtin{"string", "list", "set", "zset", "hash", "stream", "none"};
    if (!only_source.empty() && module_keys.empty()) {
      source->select(dbs.empty() ? 0 : dbs.front());
      for (int i = 0; i < 20 && module_keys.empty(); ++i) {
        Reply k = source->command({"RANDOMKEY"});
        if (!k.is_string()) break;
        Reply t = source->command({"TYPE", k.str});
        if (t.is_string() && !builtin.count(t.str))
          module_keys.push_back(fmt::format("'{}' (type {})", log::printable(k.str, 60), t.str));
      }
    }
    source->select(0);
    if (only_source.empty())
      c.pass("modules", src_modules.empty() ? "no modules on the source" : "the target has the source's modules");
    else if (!module_keys.empty() && o.skip_unsupported)
      c.pass("modules", fmt::format("loaded on the source but not on the target: {}; keys of a module type (e.g. {}) are "
                                    "skipped, counted and listed in the report (--skip-unsupported)",
                                    fmt::join(only_source, ", "), module_keys.front()));
    else if (!module_keys.empty())
      c.fail("modules", fmt::format("loaded on the source but not on the target: {}; the source holds keys of a module "
                                    "type, e.g. {}",
                                    fmt::join(only_source, ", "), module_keys.front()),
             "load the modules on the target (or use a target that has them), leave those keys out with --exclude, or "
             "skip them with --skip-unsupported");
    else
      c.warn("modules", fmt::format("loaded on the source but not on the target: {} (no keys of their types found)",
                                    fmt::join(only_source, ", ")),
             "load them on the target if keys of their types may appear during the migration");

    // Output buffer and backlog against the write rate times the snapshot time. The rate is the
    // source's incoming traffic (master_repl_offset only moves once a replica exists): an upper
    // bound of what it would propagate.
    std::this_thread::sleep_until(rate_since + std::chrono::milliseconds(100));
    long long input_after = num(source->info("stats"), "total_net_input_bytes");
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - rate_since).count();
    long long rate = input_after > input_before ? static_cast<long long>((input_after - input_before) / secs) : 0;
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
                 fmt::format("on the source: CONFIG SET client-output-buffer-limit \"replica {} {} 60\"; or in the task: "
                             "--spool-dir DIR (ferry reads the link at full speed into files there)",
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
               fmt::format("on the source: CONFIG SET repl-backlog-size {}", expected * 2));
      else
        c.pass("backlog", size ? fmt::format("repl-backlog-size {} for {} expected", mb(size), mb(expected))
                               : "repl-backlog-size could not be read");
    }

    // Biggest keys (sampled) against the target's proto-max-bulk-len.
    long long max_bulk = 512LL << 20;
    for (Connection* t : masters) {  // a cluster's nodes may differ: the smallest counts
      Reply bulk = t->command({"CONFIG", "GET", "proto-max-bulk-len"});
      if (bulk.is_array() && bulk.elements.size() >= 2) max_bulk = std::min(max_bulk, std::atoll(bulk.elements[1].str.c_str()));
    }
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

}  // namespace

PrecheckReport run_precheck(const Endpoint* source_ep, const Endpoint& target_ep, const PrecheckOptions& o) {
  PrecheckReport report = run_checks(source_ep, target_ep, o);
  ignore_skipped(report, o.skip);
  return report;
}

}  // namespace ferry
