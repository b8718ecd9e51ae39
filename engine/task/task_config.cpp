#include "task/task_config.h"

#include "task/metrics_http.h"

#include "core/error.h"
#include "core/log.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <charconv>
#include <filesystem>
#include <map>

namespace ferry {
namespace {

using Values = std::vector<std::string>;

[[noreturn]] void bad(const std::string& message) { throw FerryError(ExitCode::Usage, message); }

long long parse_integer(const std::string& text, long long least) {
  long long v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size()) bad(fmt::format("'{}' is not an integer", text));
  if (v < least) bad(fmt::format("'{}' must be {} or more", text, least));
  return v;
}

double parse_number(const std::string& text, bool zero_allowed) {
  char* end = nullptr;
  double v = std::strtod(text.c_str(), &end);
  if (text.empty() || *end) bad(fmt::format("'{}' is not a number", text));
  if (zero_allowed ? !(v >= 0) : !(v > 0)) bad(fmt::format("'{}' must be {}0", text, zero_allowed ? "" : "more than "));
  return v;
}

// "4M", "512k", "1G", "1048576": K, M and G are powers of 1024.
size_t parse_size(const std::string& text) {
  size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
  std::string unit = text.substr(digits);
  for (auto& c : unit) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (!unit.empty() && unit.back() == 'B') unit.pop_back();
  const int shift = unit.empty() ? 0 : unit == "K" ? 10 : unit == "M" ? 20 : unit == "G" ? 30 : -1;
  if (digits == 0 || shift < 0) bad(fmt::format("'{}' is not a size (a number with K, M or G)", text));
  return static_cast<size_t>(parse_integer(text.substr(0, digits), 0)) << shift;
}

// TLS is asked for by `tls = true` or by any other TLS option (a rediss:// URI asks too).
bool tls_asked(const TlsOptions& t) {
  return t.enabled || !t.ca_file.empty() || !t.cert_file.empty() || !t.key_file.empty() || !t.server_name.empty() ||
         t.insecure;
}

bool parse_bool(const std::string& text) {
  if (text == "true") return true;
  if (text == "false") return false;
  bad(fmt::format("'{}' is not true or false", text));
}

// Builders for the common kinds.
TaskSetting text(const char* section, const char* key, const char* flag, std::string TaskConfig::*member, const char* help) {
  return {section, key, flag, SettingKind::String, help, {},
          [member](TaskConfig& c, const Values& v) { c.*member = v.at(0); },
          [member](const TaskConfig& c) { return c.*member; }};
}

TaskSetting choice(const char* section, const char* key, const char* flag, std::string TaskConfig::*member,
                   std::vector<std::string> choices, const char* help) {
  return {section, key, flag, SettingKind::Choice, help, choices,
          [member, choices](TaskConfig& c, const Values& v) {
            if (std::find(choices.begin(), choices.end(), v.at(0)) == choices.end())
              bad(fmt::format("'{}' is not one of {}", v.at(0), fmt::join(choices, ", ")));
            c.*member = v.at(0);
          },
          [member](const TaskConfig& c) { return c.*member; }};
}

TaskSetting flag(const char* section, const char* key, const char* flag, bool TaskConfig::*member, const char* help,
                 bool inverts = false) {
  TaskSetting s{section, key, flag, SettingKind::Bool, help, {},
                [member](TaskConfig& c, const Values& v) { c.*member = parse_bool(v.at(0)); },
                [member](const TaskConfig& c) { return std::string(c.*member ? "true" : "false"); }};
  s.flag_inverts = inverts;
  return s;
}

TaskSetting integer(const char* section, const char* key, const char* flag, long long TaskConfig::*member, long long least,
                    const char* help) {
  return {section, key, flag, SettingKind::Integer, help, {},
          [member, least](TaskConfig& c, const Values& v) { c.*member = parse_integer(v.at(0), least); },
          [member](const TaskConfig& c) { return std::to_string(c.*member); }};
}

TaskSetting count(const char* section, const char* key, const char* flag, size_t TaskConfig::*member, long long least,
                  long long most, const char* help) {
  return {section, key, flag, SettingKind::Integer, help, {},
          [member, least, most](TaskConfig& c, const Values& v) {
            long long n = parse_integer(v.at(0), least);
            if (n > most) bad(fmt::format("'{}' must be {} at most", v.at(0), most));
            c.*member = static_cast<size_t>(n);
          },
          [member](const TaskConfig& c) { return std::to_string(c.*member); }};
}

TaskSetting size(const char* section, const char* key, const char* flag, size_t TaskConfig::*member, const char* help) {
  return {section, key, flag, SettingKind::Size, help, {},
          [member](TaskConfig& c, const Values& v) { c.*member = parse_size(v.at(0)); },
          [member](const TaskConfig& c) { return std::to_string(c.*member); }};
}

TaskSetting seconds(const char* section, const char* key, const char* flag, double TaskConfig::*member, const char* help,
                    bool zero_allowed = false) {
  return {section, key, flag, SettingKind::Number, help, {},
          [member, zero_allowed](TaskConfig& c, const Values& v) { c.*member = parse_number(v.at(0), zero_allowed); },
          [member](const TaskConfig& c) { return fmt::format("{}", c.*member); }};
}

TaskSetting patterns(const char* section, const char* key, const char* flag, std::vector<std::string> TaskConfig::*member,
                     const char* help) {
  return {section, key, flag, SettingKind::StringList, help, {},
          [member](TaskConfig& c, const Values& v) {
            for (const auto& p : v) KeyPattern{p};  // throws for a bad pattern
            c.*member = v;
          },
          [](const TaskConfig&) { return std::string(); }};
}

TaskSetting endpoint_text(const char* section, const char* key, const char* flag, EndpointConfig TaskConfig::*side,
                          std::string EndpointConfig::*member, const char* help) {
  return {section, key, flag, SettingKind::String, help, {},
          [side, member](TaskConfig& c, const Values& v) { c.*side.*member = v.at(0); },
          [](const TaskConfig&) { return std::string(); }};
}

TaskSetting tls_text(const char* section, const char* key, const char* flag, EndpointConfig TaskConfig::*side,
                     std::string TlsOptions::*member, const char* help) {
  return {section, key, flag, SettingKind::String, help, {},
          [side, member](TaskConfig& c, const Values& v) { (c.*side).tls.*member = v.at(0); },
          [](const TaskConfig&) { return std::string(); }};
}

TaskSetting tls_flag(const char* section, const char* key, const char* flag, EndpointConfig TaskConfig::*side,
                     bool TlsOptions::*member, const char* help) {
  return {section, key, flag, SettingKind::Bool, help, {},
          [side, member](TaskConfig& c, const Values& v) { (c.*side).tls.*member = parse_bool(v.at(0)); },
          [side, member](const TaskConfig& c) { return std::string((c.*side).tls.*member ? "true" : "false"); }};
}

// The TLS settings of one side, flags --<side>-tls...
void add_tls_settings(std::vector<TaskSetting>& s, const char* side, EndpointConfig TaskConfig::*member) {
  static const std::map<std::string, std::vector<std::string>> flags{
      {"source", {"--source-tls", "--source-tls-ca", "--source-tls-cert", "--source-tls-key", "--source-tls-server-name",
                  "--source-tls-insecure"}},
      {"target", {"--target-tls", "--target-tls-ca", "--target-tls-cert", "--target-tls-key", "--target-tls-server-name",
                  "--target-tls-insecure"}}};
  const auto& f = flags.at(side);
  s.push_back(tls_flag(side, "tls", f[0].c_str(), member, &TlsOptions::enabled,
                       "Connect with TLS (a rediss:// URI, or any other tls option, means the same); the server's "
                       "certificate is checked against the CA and the host name"));
  s.push_back(tls_text(side, "tls-ca", f[1].c_str(), member, &TlsOptions::ca_file,
                       "PEM file of the CA certificate(s) to trust (default: the system's CA store)"));
  s.push_back(tls_text(side, "tls-cert", f[2].c_str(), member, &TlsOptions::cert_file,
                       "PEM client certificate, for a server that asks for one (tls-auth-clients)"));
  s.push_back(tls_text(side, "tls-key", f[3].c_str(), member, &TlsOptions::key_file,
                       "PEM private key of the client certificate (unencrypted)"));
  s.push_back(tls_text(side, "tls-server-name", f[4].c_str(), member, &TlsOptions::server_name,
                       "The name to check the certificate against and send as SNI (default: the URI's host)"));
  s.push_back(tls_flag(side, "tls-insecure", f[5].c_str(), member, &TlsOptions::insecure,
                       "Do not check the server's certificate (encrypted, but anyone in between can read it)"));
}

std::vector<TaskSetting> make_settings() {
  std::vector<TaskSetting> s{
      choice("", "mode", "--mode", &TaskConfig::mode, {"scan", "snapshot", "sync", "rdb", "aof"},
             "scan: SCAN + DUMP/RESTORE from --source; snapshot: the source's replication snapshot; sync: snapshot, then "
             "every write as it happens (until SIGINT/SIGTERM or --until-caught-up); rdb: import the RDB file --rdb; "
             "aof: import the AOF --aof"),
      text("", "task-id", "--task-id", &TaskConfig::task_id,
           "Names the heartbeat key and the connections in CLIENT LIST (default: derived from source and target)"),
      {"", "rdb", "--rdb", SettingKind::StringList,
       "RDB file to import (--mode rdb); repeatable: the files of a cluster's shards, imported one after the other",
       {},
       [](TaskConfig& c, const Values& v) { c.rdb_files = v; },
       [](const TaskConfig&) { return std::string(); },
       false,
       true},
      text("", "aof", "--aof", &TaskConfig::aof_path,
           "AOF to import (--mode aof): a single file (RESP, or an RDB preamble then RESP), Redis 7's appendonly "
           "directory, or its manifest"),
      integer("", "aof-until", "--aof-until", &TaskConfig::aof_until, 0,
              "--mode aof: a point-in-time restore: stop at the first #TS: annotation past these Unix seconds (the AOF "
              "needs aof-timestamp-enabled yes; 0: import everything)"),
      flag("", "accept-warnings", "--accept-warnings", &TaskConfig::accept_warnings,
           "Migrate despite precheck warnings, and exit 0 (not 2) when the only findings are warnings"),
      {"", "skip-check", "--skip-check", SettingKind::StringList,
       fmt::format("Run this precheck check but ignore its outcome (repeatable). The checks: {}",
                   fmt::join(check_names(), ", ")),
       {},
       [](TaskConfig& c, const Values& v) {
         for (const auto& name : v)
           if (!is_check_name(name)) bad(fmt::format("no check named '{}' (the names: {})", name, fmt::join(check_names(), ", ")));
         c.skip_checks = v;
       },
       [](const TaskConfig&) { return std::string(); }},
      endpoint_text("source", "uri", "--source", &TaskConfig::source, &EndpointConfig::uri,
                    "Source server: redis://[user[:password]@]host:port[/db] (rediss:// for TLS)"),
      endpoint_text("source", "password-file", "--source-password-file", &TaskConfig::source, &EndpointConfig::password_file,
                    "Read the source password (or user:password) from this file; FERRY_SOURCE_PASSWORD also works"),
      endpoint_text("source", "password", "", &TaskConfig::source, &EndpointConfig::password, ""),
      choice("source", "read", "--source-read", &TaskConfig::source_read, {"master", "replica", "prefer-replica"},
             "A cluster source: the node of each shard that is read: master; replica (one whose master link is up, "
             "waited for within --retry-connection); prefer-replica (such a replica, else the master)"),
      {"source", "shards", "--shards", SettingKind::StringList,
       "A cluster source: only these shards (repeatable; an index in the order of the shards' first slot, 0-based, or "
       "a node id or host:port of the shard), to split one task over several processes",
       {},
       [](TaskConfig& c, const Values& v) {
         std::vector<std::string> shards;
         for (const auto& text : v) {
           size_t start = 0;
           for (size_t comma; (comma = text.find(',', start)) != std::string::npos; start = comma + 1)
             shards.push_back(text.substr(start, comma - start));
           shards.push_back(text.substr(start));
         }
         for (const auto& s : shards)
           if (s.empty()) bad("an empty shard in the list");
         c.shards = shards;
       },
       [](const TaskConfig&) { return std::string(); }},
      endpoint_text("target", "uri", "--target", &TaskConfig::target, &EndpointConfig::uri,
                    "Target server: redis://[user[:password]@]host:port (rediss:// for TLS)"),
      endpoint_text("target", "password-file", "--target-password-file", &TaskConfig::target, &EndpointConfig::password_file,
                    "Read the target password (or user:password) from this file; FERRY_TARGET_PASSWORD also works"),
      endpoint_text("target", "password", "", &TaskConfig::target, &EndpointConfig::password, ""),
      {"select", "db", "--db", SettingKind::IntList,
       "DBs to copy, e.g. 0,5 (default: every non-empty DB; the URI's /db means the same)",
       {},
       [](TaskConfig& c, const Values& v) {
         std::vector<int> dbs;
         for (const auto& text : v) {
           long long db = parse_integer(text, 0);
           if (db > 255) bad(fmt::format("DB {} is out of range (0-255)", db));
           dbs.push_back(static_cast<int>(db));
         }
         c.dbs = dbs;
       },
       [](const TaskConfig&) { return std::string(); }},
      {"select", "db-map", "--db-map", SettingKind::String,
       "Write source DB s into target DB t: s:t[,s:t...], e.g. 0:1,5:6 (one to one)",
       {},
       [](TaskConfig& c, const Values& v) {
         DbMap::parse(v.at(0));  // throws for a bad map
         c.db_map = v.at(0);
       },
       [](const TaskConfig&) { return std::string(); }},
      patterns("select", "include", "--include", &TaskConfig::include,
               "Copy only keys matching this pattern (repeatable; a glob as SCAN MATCH has it, or re:REGEX, PCRE, "
               "unanchored)"),
      patterns("select", "exclude", "--exclude", &TaskConfig::exclude,
               "Leave out keys matching this pattern (repeatable; glob, or re:REGEX)"),
      choice("write", "on-conflict", "--on-conflict", &TaskConfig::on_conflict, {"block", "replace"},
             "block: stop before writing if the target holds keys in the selected DBs; replace: overwrite keys of the "
             "same name"),
      integer("write", "ttl-extend", "--ttl-extend", &TaskConfig::ttl_extend_s, 0,
              "Seconds added to every migrated expiry (0: exact copy)"),
      choice("write", "write-mode", "--write-mode", &TaskConfig::write_mode, {"auto", "restore", "commands"},
             "auto: RESTORE, native commands where the target rejects the payload; restore: RESTORE only; commands: "
             "native commands for every key"),
      size("write", "big-key-threshold", "--big-key-threshold", &TaskConfig::big_key_bytes,
           "Keys larger than this (MEMORY USAGE) are copied in chunks with native commands (suffixes K, M, G)"),
      flag("write", "skip-unsupported", "--skip-unsupported", &TaskConfig::skip_unsupported,
           "Skip and count data the target cannot hold (module values, field expiry on an old target, ...) instead of "
           "failing them"),
      count("write", "scan-count", "--scan-count", &TaskConfig::scan_count, 1, 100000, "SCAN COUNT hint (mode scan)"),
      flag("sync", "until-caught-up", "--until-caught-up", &TaskConfig::until_caught_up,
           "sync: exit 0 as soon as the target holds everything up to the source's current offset (cutover)"),
      flag("sync", "block-flush", "--block-flush", &TaskConfig::block_flush,
           "sync: stop the task with an error on FLUSHALL/FLUSHDB instead of applying it"),
      flag("sync", "heartbeat", "--no-heartbeat", &TaskConfig::heartbeat,
           "sync: do not write the ferry:heartbeat:<task-id> key on the source (the lag is then measured by offsets only)",
           true),
      flag("sync", "publish", "--no-publish", &TaskConfig::publish,
           "sync: leave the stream's PUBLISH commands out (counted), e.g. for a target user without channel permissions",
           true),
      choice("sync", "cross-slot", "--cross-slot", &TaskConfig::cross_slot, {"stop", "split"},
             "A cluster target: a transaction whose keys span slots stops the task (stop), or is applied as one "
             "transaction per slot, not atomic across them (split)"),
      integer("sync", "max-ops", "--max-ops", &TaskConfig::max_ops, 0,
              "At most this many keys (full copies) or commands (the stream) per second (0: no limit)"),
      integer("sync", "max-bytes", "--max-bytes", &TaskConfig::max_bytes, 0,
              "At most this many bytes per second, full copies and the stream (0: no limit)"),
      integer("sync", "retry-connection", "--retry-connection", &TaskConfig::retry_connection, 0,
              "sync: seconds to keep retrying a broken link to the source (resuming by partial resync)"),
      integer("sync", "retry-other", "--retry-other", &TaskConfig::retry_other, 0,
              "sync: seconds to keep retrying a target that went away (then a full resync)"),
      text("sync", "state", "--state", &TaskConfig::state_file,
           "sync: keep the task's position in this file; a restarted ferry resumes from it"),
      flag("sync", "unsafe-resync-append", "--unsafe-resync-append", &TaskConfig::unsafe_resync_append,
           "sync, UNSAFE: a full resync writes the snapshot on top of the target (lists appended to) and deletes nothing; "
           "reproduces the duplicates and stale keys of a naive re-sync. Never use it for a real migration"),
      text("sync", "spool-dir", "--spool-dir", &TaskConfig::spool_dir,
           "snapshot/sync: read the replication link at full speed into files here and apply from them, so a slow "
           "target cannot get ferry cut off by the source's output-buffer limit; full resyncs keep their key sets here "
           "too (default for those: $TMPDIR or /tmp)"),
      text("transform", "script", "--transform", &TaskConfig::transform_script,
           "Run every key record and every command through this Lua script (on_key, on_command): rename keys, move "
           "them to other DBs, drop them, change expiries or values (README: Transforms)"),
      integer("transform", "budget-ms", "--transform-budget-ms", &TaskConfig::transform_budget_ms, 1,
              "Milliseconds one call of the transform may run before the task stops with an error"),
      seconds("connection", "connect-timeout", "--connect-timeout", &TaskConfig::connect_timeout_s,
              "Seconds to connect and log in to a server"),
      seconds("connection", "read-timeout", "--read-timeout", &TaskConfig::read_timeout_s, "Seconds to wait for a reply"),
      count("connection", "pipeline-commands", "--pipeline-commands", &TaskConfig::pipeline_commands, 1, 1 << 20,
            "Commands in flight per connection at most"),
      size("connection", "pipeline-bytes", "--pipeline-bytes", &TaskConfig::pipeline_bytes,
           "Bytes in flight per connection at most (suffixes K, M, G)"),
      text("output", "report", "--report", &TaskConfig::report_path, "Write the summary as JSON to this file"),
      text("output", "log-file", "--log-file", &TaskConfig::log_file,
           "Also write the log, with timestamps and debug detail, to this file"),
      choice("output", "log-level", "--log-level", &TaskConfig::log_level, {"debug", "info", "warn", "error", "off"},
             "Console log level"),
      choice("output", "progress", "--progress", &TaskConfig::progress, {"auto", "always", "never"},
             "Progress line on stderr: auto (when a terminal), always, never"),
      seconds("output", "log-status-every", "--log-status-every", &TaskConfig::log_status_every_s,
              "Log the task's progress (rate, lag) every this many seconds (0: never)", true),
      TaskSetting{"output", "metrics-listen", "--metrics-listen", SettingKind::String,
                  "Serve /metrics (Prometheus) and /status (JSON) over HTTP at HOST:PORT while the task runs; a port "
                  "alone listens on 127.0.0.1 (only this machine)",
                  {},
                  [](TaskConfig& c, const Values& v) {
                    if (!v.at(0).empty()) parse_listen_address(v.at(0), "metrics-listen");
                    c.metrics_listen = v.at(0);
                  },
                  [](const TaskConfig& c) { return c.metrics_listen; }},
      integer("output", "alert-lag-ms", "--alert-lag-ms", &TaskConfig::alert_lag_ms, 0,
              "Raise lag-high when the stream's lag stays above this many ms for --alert-for seconds, lag-resolved "
              "when it is back (0: no lag alert)"),
      seconds("output", "alert-for", "--alert-for", &TaskConfig::alert_for_s,
              "Seconds the lag must stay above --alert-lag-ms before lag-high", true),
      text("output", "alert-exec", "--alert-exec", &TaskConfig::alert_exec,
           "Run this command (/bin/sh -c) for each alert: lag-high, lag-resolved, task-failed, task-finished; the "
           "event as JSON on its stdin, FERRY_ALERT_EVENT set to its name"),
      seconds("output", "alert-timeout", "--alert-timeout", &TaskConfig::alert_timeout_s,
              "Seconds an alert command may run before it is killed"),
  };
  // Each side's TLS settings follow its other connection settings.
  auto after = [&](const char* key) {
    return std::find_if(s.begin(), s.end(), [&](const TaskSetting& t) { return t.qualified() == key; }) - s.begin() + 1;
  };
  std::vector<TaskSetting> tls;
  add_tls_settings(tls, "source", &TaskConfig::source);
  s.insert(s.begin() + after("source.shards"), tls.begin(), tls.end());
  tls.clear();
  add_tls_settings(tls, "target", &TaskConfig::target);
  s.insert(s.begin() + after("target.password"), tls.begin(), tls.end());
  return s;
}

}  // namespace

const std::vector<TaskSetting>& task_settings() {
  static const std::vector<TaskSetting> settings = make_settings();
  return settings;
}

const TaskSetting* find_setting(const std::string& qualified_key) {
  for (const auto& s : task_settings())
    if (s.qualified() == qualified_key) return &s;
  return nullptr;
}

std::vector<std::string> task_file_keys() {
  std::vector<std::string> out;
  for (const auto& s : task_settings())
    if (*s.flag) out.push_back(s.qualified());  // the passwords are documented, not listed
  return out;
}

void TaskConfig::check() const {
  if (target.uri.empty()) bad("--target is required (or target.uri in the task file)");
  if (mode == "rdb") {
    if (rdb_files.empty()) bad("--mode rdb needs --rdb FILE");
    if (!source.uri.empty()) bad("--mode rdb reads --rdb FILE: drop --source");
  } else if (mode == "aof") {
    if (aof_path.empty()) bad("--mode aof needs --aof PATH (an AOF file, an appendonly directory or its manifest)");
    if (!source.uri.empty()) bad("--mode aof reads --aof PATH: drop --source");
  } else if (source.uri.empty()) {
    bad(fmt::format("--mode {} needs --source URI (or source.uri in the task file)", mode));
  }
  if (mode != "rdb" && !rdb_files.empty()) bad("--rdb is for --mode rdb");
  if (mode != "aof" && !aof_path.empty()) bad("--aof is for --mode aof");
  if (mode != "aof" && aof_until) bad("--aof-until is for --mode aof");
  if (until_caught_up && mode != "sync") bad("--until-caught-up is for --mode sync");
  parse_redis_uri(target.uri, "target");
  if (!source.uri.empty()) parse_redis_uri(source.uri, "source");
  for (const auto* side : {&source, &target}) {
    const char* role = side == &source ? "source" : "target";
    if (side->tls.cert_file.empty() != side->tls.key_file.empty())
      bad(fmt::format("--{0}-tls-cert and --{0}-tls-key go together (a client certificate and its key)", role));
    if (side->tls.insecure && !side->tls.ca_file.empty())
      bad(fmt::format("--{0}-tls-insecure checks no certificate: drop --{0}-tls-ca, or keep the check", role));
  }
  if (reads_file() && tls_asked(source.tls))
    bad(fmt::format("--mode {} reads a file: the source TLS options do not apply", mode));
  CopyOptions copy = copy_options();  // throws for a bad --db-map, pattern or transform script
  if (copy.transform) {
    const TransformScript& t = *copy.transform;
    if (!t.has_on_key)
      bad(fmt::format("transform script {} defines on_command but not on_key: the keys copied whole would reach the target "
                      "untransformed (define `function on_key(k) return k end` to copy them as they are)",
                      t.path));
    if (!t.has_on_command && (mode == "sync" || mode == "snapshot" || mode == "aof"))
      bad(fmt::format("transform script {} defines on_key but not on_command: the commands of mode {} would reach the "
                      "target untransformed (define `function on_command(c) return c end` to apply them as they are)",
                      t.path, mode));
  }
}

namespace {
Endpoint resolve_endpoint(const EndpointConfig& side, const char* role, const char* password_env) {
  Endpoint ep = parse_redis_uri(side.uri, role);
  if (!ep.password && !side.password.empty()) ep.password = side.password;
  resolve_password(ep, side.password_file, password_env);
  const TlsOptions& t = side.tls;
  const bool uri_tls = ep.tls.enabled;
  ep.tls = t;
  ep.tls.enabled = uri_tls || tls_asked(t);
  return ep;
}
}  // namespace

Endpoint TaskConfig::source_endpoint() const { return resolve_endpoint(source, "source", "FERRY_SOURCE_PASSWORD"); }

Endpoint TaskConfig::target_endpoint() const { return resolve_endpoint(target, "target", "FERRY_TARGET_PASSWORD"); }

Timeouts TaskConfig::timeouts() const {
  return Timeouts{std::chrono::milliseconds(static_cast<long long>(connect_timeout_s * 1000)),
                  std::chrono::milliseconds(static_cast<long long>(read_timeout_s * 1000))};
}

PipelineLimits TaskConfig::pipeline() const { return PipelineLimits{pipeline_commands, pipeline_bytes}; }

CopyOptions TaskConfig::copy_options() const {
  CopyOptions copy;
  copy.on_conflict = on_conflict == "replace" ? ConflictMode::Replace : ConflictMode::Block;
  copy.ttl_extend_ms = ttl_extend_s * 1000;
  copy.write_mode = write_mode == "restore"    ? WriteMode::Restore
                    : write_mode == "commands" ? WriteMode::Commands
                                               : WriteMode::Auto;
  copy.big_key_bytes = big_key_bytes;
  copy.scan_count = scan_count;
  copy.skip_unsupported = skip_unsupported;
  copy.pipeline = pipeline();
  copy.dbs = dbs;
  if (!source.uri.empty() && !reads_file()) {
    Endpoint ep = parse_redis_uri(source.uri, "source");
    if (ep.db) {
      if (!dbs.empty() && !(dbs.size() == 1 && dbs[0] == *ep.db))
        bad(fmt::format("the source URI selects DB {} but --db says {}", *ep.db, fmt::join(dbs, ",")));
      copy.dbs = {*ep.db};
    }
  }
  copy.db_map = DbMap::parse(db_map);
  copy.db_map.check(copy.dbs);
  copy.filter = KeyFilter(include, exclude);
  if (!transform_script.empty()) {
    if (!transform_loaded || transform_loaded->path != transform_script || transform_loaded->budget_ms != transform_budget_ms)
      transform_loaded = TransformScript::load(transform_script, transform_budget_ms);
    copy.transform = transform_loaded;
  }
  return copy;
}

PrecheckOptions TaskConfig::precheck_options() const {
  CopyOptions copy = copy_options();
  PrecheckOptions p;
  p.mode = mode;
  p.dbs = copy.dbs;
  p.db_map = copy.db_map;
  p.replace = copy.on_conflict == ConflictMode::Replace;
  p.timeouts = timeouts();
  p.skip = skip_checks;
  p.rdb_files = rdb_files;
  p.aof_path = aof_path;
  p.aof_until = aof_until;
  p.work_dir = work_dir();
  p.skip_unsupported = skip_unsupported;
  p.publish = publish;
  p.source_read = source_read;
  p.shards = shards;
  p.resuming = mode == "sync" && !state_file.empty() && std::filesystem::exists(state_file);
  return p;
}

std::string TaskConfig::work_dir() const {
  if (!spool_dir.empty()) return spool_dir;
  if (const char* tmp = std::getenv("TMPDIR"); tmp && *tmp) return tmp;
  return "/tmp";
}

std::string TaskConfig::effective_task_id() const {
  if (!task_id.empty()) return task_id;
  std::string from = mode == "rdb"   ? fmt::format("{}", fmt::join(rdb_files, ","))
                     : mode == "aof" ? aof_path
                                     : parse_redis_uri(source.uri, "source").address();
  return fmt::format("{:08x}", std::hash<std::string>{}(from + "->" + parse_redis_uri(target.uri, "target").address()) &
                                   0xffffffffu);
}

}  // namespace ferry
