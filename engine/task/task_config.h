// A migration task as a value: everything `ferry migrate` (and precheck, verify) is told, whether by
// flags or a TOML task file, whose keys mirror the flags. One table (task_settings) names each
// setting once: its file key, its flag, what it takes and how it is checked; the task-file reader
// here and the CLI's flags both set a TaskConfig through it, so a bad value reads the same either way.
#pragma once

#include "precheck/precheck.h"
#include "redis/endpoint.h"
#include "task/copy_options.h"

#include <functional>
#include <set>
#include <string>
#include <vector>

namespace ferry {

struct EndpointConfig {
  std::string uri;
  std::string password_file;
  std::string password;  // the task file's `password` key; never printed
  TlsOptions tls;        // tls = true (or rediss://), tls-ca, tls-cert, tls-key, tls-server-name, tls-insecure
};

struct TaskConfig {
  std::string mode = "scan";  // scan, snapshot, sync, rdb, aof
  std::string task_id;        // empty: derived from source and target
  std::vector<std::string> rdb_files;  // --rdb, repeatable: one file per shard of a cluster
  std::string aof_path;                // --aof: an AOF file, an appendonly directory or its manifest
  long long aof_until = 0;             // --aof-until: Unix seconds (0: none)
  bool accept_warnings = false;
  std::vector<std::string> skip_checks;
  EndpointConfig source, target;
  std::string source_read = "master";  // a cluster source: master, replica, prefer-replica
  std::vector<std::string> shards;     // a cluster source: the shards to run (empty: all)
  // [select]
  std::vector<int> dbs;
  std::string db_map;
  std::vector<std::string> include, exclude;
  // [write]
  std::string on_conflict = "block";
  long long ttl_extend_s = 0;
  std::string write_mode = "auto";
  size_t big_key_bytes = 4 << 20;
  bool skip_unsupported = false;
  size_t scan_count = 1000;
  // [sync]
  bool until_caught_up = false;
  bool block_flush = false;
  bool heartbeat = true;
  bool publish = true;
  std::string cross_slot = "stop";  // stop, split
  long long max_ops = 0;
  long long max_bytes = 0;
  long long retry_connection = 43200;
  long long retry_other = 600;
  std::string state_file;
  bool unsafe_resync_append = false;
  std::string spool_dir;
  // [transform]
  std::string transform_script;      // a Lua file (transform/transform.h); empty: none
  long long transform_budget_ms = 1000;
  // [connection]
  double connect_timeout_s = 5;
  double read_timeout_s = 60;
  size_t pipeline_commands = 8192;
  size_t pipeline_bytes = 8 << 20;
  // [output]
  std::string report_path;
  std::string log_file;
  std::string log_level = "info";
  std::string progress = "auto";  // auto, always, never
  double log_status_every_s = 30;  // a log line with the task's progress (0: none)
  std::string metrics_listen;      // HOST:PORT of the metrics endpoint (empty: none)
  long long alert_lag_ms = 0;      // 0: no lag alert
  double alert_for_s = 10;
  std::string alert_exec;          // empty: alerts are logged only
  double alert_timeout_s = 10;
  mutable std::shared_ptr<const TransformScript> transform_loaded;  // by copy_options(), once

  // The input is a file (modes rdb and aof), not a source server.
  bool reads_file() const { return mode == "rdb" || mode == "aof"; }
  // Where key sets and spool files go: --spool-dir, $TMPDIR, /tmp.
  std::string work_dir() const;
  // Checks the settings fit together (throws FerryError(Usage) naming the problem).
  void check() const;
  // The endpoints with their passwords resolved: the file, FERRY_*_PASSWORD, the URI, the task file.
  Endpoint source_endpoint() const;
  Endpoint target_endpoint() const;
  Timeouts timeouts() const;
  PipelineLimits pipeline() const;
  // The DBs, mapping and filters checked and resolved (the source URI's /db counts as --db).
  CopyOptions copy_options() const;  // loads the transform script once (FerryError(Usage) for a bad one)
  PrecheckOptions precheck_options() const;
  // --task-id, or one derived from the source and target addresses.
  std::string effective_task_id() const;
};

enum class SettingKind { String, Choice, Integer, Number, Bool, IntList, StringList, Size };

// One setting of a task: its place in a task file, its flag, and how a value is checked and stored.
struct TaskSetting {
  const char* section;  // "" for the top level
  const char* key;
  const char* flag;     // empty: no flag (the task file's passwords)
  SettingKind kind;
  std::string help;
  std::vector<std::string> choices;  // SettingKind::Choice
  // Checks and stores the value(s); a Bool takes "true"/"false" in the key's sense. Throws
  // FerryError(Usage) with a message that does not repeat a password.
  std::function<void(TaskConfig&, const std::vector<std::string>&)> set;
  std::function<std::string(const TaskConfig&)> show;  // the value as a default in help
  // The flag is the key's opposite: `heartbeat = false` is --no-heartbeat.
  bool flag_inverts = false;
  // A list whose task-file key also takes one value (`rdb = "dump.rdb"`, from when it was one).
  bool one_for_many = false;

  std::string qualified() const { return *section ? std::string(section) + "." + key : std::string(key); }
};

const std::vector<TaskSetting>& task_settings();
const TaskSetting* find_setting(const std::string& qualified_key);

// One mistake in a task file, where it is.
struct ConfigProblem {
  long line = 0, column = 0;
  std::string message;
};

// Reads a task file into `config`, leaving alone the settings in `keep` (qualified keys the command
// line set). Returns every problem found; applies nothing after a syntax error.
std::vector<ConfigProblem> read_task_file(const std::string& path, TaskConfig& config, const std::set<std::string>& keep = {});
// The same from text (`path` names it in messages).
std::vector<ConfigProblem> parse_task_file(const std::string& text, const std::string& path, TaskConfig& config,
                                           const std::set<std::string>& keep = {});
// Throws FerryError(Usage) listing the problems, each with file, line and column (none: no-op).
void throw_config_problems(const std::string& path, const std::vector<ConfigProblem>& problems);

// A commented task file naming every key with its default: `ferry config example`.
const char* task_file_example();
// The keys a task file may hold ("section.key" or "key"), for tests and the README.
std::vector<std::string> task_file_keys();

}  // namespace ferry
