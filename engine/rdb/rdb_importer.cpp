#include "rdb/rdb_importer.h"
#include "redis/command_keys.h"
#include "core/clock.h"

#include "core/log.h"
#include "rdb/crc64.h"
#include "rdb/format.h"

#include <fmt/format.h>

#include <chrono>

namespace ferry::rdb {
namespace {

int valkey_major(Connection& conn) {
  auto server = conn.info("server");
  auto it = server.find("valkey_version");
  return it == server.end() ? 0 : std::atoi(it->second.c_str());
}

std::string key_context(const KeyInfo& key) { return fmt::format("DB {} key '{}'", key.db, log::printable(key.key)); }


}  // namespace

RdbImporter::RdbImporter(Connection& target, ImportOptions options, MigrationReport& report)
    : target_(target),
      options_(std::move(options)),
      report_(report),
      pipe_(target, options_.copy.pipeline),
      writer_(pipe_, target.version()),
      strings_(pipe_, options_.copy.on_conflict == ConflictMode::Replace, string_callbacks()),
      target_rdb_version_(rdb_version_for_server(target.version(), valkey_major(target))),
      dbs_(options_.copy.dbs.begin(), options_.copy.dbs.end()) {
  if (options_.copy.write_mode == WriteMode::Commands || options_.append_in_place) target_rejects_dump_ = true;
  writer_.set_in_place(options_.append_in_place);
  target_modules_ = target_.module_names();
}

void RdbImporter::check_conflicts() {
  if (options_.copy.on_conflict != ConflictMode::Block) return;
  std::set<int> written;  // the target DBs this import writes (empty: any)
  for (int db : dbs_) written.insert(options_.copy.target_db(db));
  for (const auto& [name, value] : target_.info("keyspace")) {
    if (name.rfind("db", 0) != 0) continue;
    int db = std::atoi(name.c_str() + 2);
    if (!written.empty() && !written.count(db)) continue;
    target_.select(db);
    Reply sample = target_.checked({"SCAN", "0", "COUNT", "100"});
    std::string examples;
    for (size_t i = 0; i < sample.elements[1].elements.size() && i < 5; ++i)
      examples += (i ? ", '" : "'") + log::printable(sample.elements[1].elements[i].str, 60) + "'";
    throw FerryError(ExitCode::Failed,
                     fmt::format("{} already holds keys in DB {} ({}; e.g. {}); nothing was written. With "
                                 "--on-conflict block an RDB import needs {} empty; or use --on-conflict replace",
                                 target_.describe(), db, value, examples,
                                 dbs_.empty() ? "the whole target" : "the selected DBs"));
  }
}

// Sends the batched strings and reads every reply, then writes again, key by key, the strings of a
// batch the target refused.
void RdbImporter::drain_all() { strings_.drain(); }

StringWriter::Callbacks RdbImporter::string_callbacks() {
  StringWriter::Callbacks c;
  c.written = [this](int db, const std::string& key) {
    ++report_.copied;
    if (options_.on_key_written) options_.on_key_written(options_.copy.target_db(db), key);
  };
  c.conflict = [this](int db, const std::string& key) {
    ++report_.skipped_conflict;
    log::warn("DB {} key '{}' already exists on {}: not overwritten", db, log::printable(key), target_.describe());
  };
  c.failed = [this](int db, const std::string& key, const std::string& error) {
    record_failure(db, key, error, classify_error(error));
  };
  return c;
}

void RdbImporter::select_db(int db) {
  if (target_.selected_db() == db) return;
  drain_all();  // SELECT must not overtake queued writes
  target_.select(db);
}

void RdbImporter::on_aux(const std::string& name, const std::string& value) {
  if (name != "lua") return;
  // RDBs of Redis < 7 carry the scripts EVALSHA may call: load them so those calls keep working.
  Reply r = target_.command({"SCRIPT", "LOAD", value});
  if (r.is_error()) {
    report_.warnings.push_back(fmt::format("a Lua script from the RDB could not be loaded on {}: {}", target_.describe(), r.str));
    return;
  }
  ++report_.scripts_loaded;
}

void RdbImporter::on_function(const std::string& code) {
  pipe_.drain();
  Args load{"FUNCTION", "LOAD"};
  if (options_.copy.on_conflict == ConflictMode::Replace) load.push_back("REPLACE");
  load.push_back(code);
  Reply r = target_.command(load);
  if (!r.is_error()) {
    ++report_.functions_loaded;
    return;
  }
  std::string first_line = code.substr(0, code.find('\n'));
  KeyInfo fn;
  fn.key = "function library: " + first_line;
  if (r.str.find("already exists") != std::string::npos) {
    ++report_.skipped_conflict;
    report_.warnings.push_back(fmt::format("function library ({}) already exists on {}: not replaced (use --on-conflict replace)",
                                           first_line, target_.describe()));
  } else if (options_.skip_unsupported) {
    report_.add_unsupported(0, fn.key, r.str);
    report_.warnings.push_back(fmt::format("function library ({}) skipped: {}", first_line, r.str));
  } else {
    record_failure(fn, fmt::format("FUNCTION LOAD failed: {}", r.str), classify_error(r.str));
  }
}

size_t RdbImporter::on_key_begin(const KeyInfo& key) {
  key_ = key;
  steps_.clear();
  buffered_bytes_ = 0;
  module_type_.clear();
  unsupported_why_.clear();
  route_ = Route::Skip;
  if (fatal_) throw FerryError(ExitCode::Failed, *fatal_);  // stops the parser
  if (!dbs_.empty() && !dbs_.count(key.db)) return 0;
  if (!options_.skip_key_prefix.empty() && key.key.rfind(options_.skip_key_prefix, 0) == 0) return 0;
  ++report_.keys_total;
  if (!options_.copy.filter.selects(key.key)) {
    ++report_.filtered;
    return 0;
  }
  // A key already expired stays gone: --ttl-extend lengthens live keys, it does not revive dead ones.
  if (key.expire_ms && *key.expire_ms <= unix_ms()) {
    ++report_.skipped_expired;
    return 0;
  }
  expire_ = key.expire_ms;
  if (expire_) *expire_ += options_.copy.ttl_extend_ms;
  select_db(options_.copy.target_db(key.db));
  bool restorable = !target_rejects_dump_ && min_version_for_type(key.rdb_type) <= target_rdb_version_;
  if (restorable) {
    route_ = Route::Buffer;
    string_as_set_ = key.rdb_type == kTypeString && options_.copy.write_mode == WriteMode::Auto && !key.idle_seconds &&
                     !key.lfu_freq && (!expire_ || StringWriter::takes_expiry(target_.version()));
    pending_string_.clear();
    return string_as_set_ ? 0 : options_.copy.big_key_bytes;  // a SET needs no raw RESTORE payload
  }
  if (key.rdb_type == kTypeModule2) {
    route_ = Route::Skip;  // on_module_value reports it
    return 0;
  }
  route_ = Route::Native;
  writer_.begin(key.key, key.type);
  return 0;
}

void RdbImporter::add(Step step, size_t bytes) {
  if (route_ == Route::Native) {
    step(writer_);
    return;
  }
  if (route_ != Route::Buffer) return;
  steps_.push_back(std::move(step));
  buffered_bytes_ += bytes;
  if (buffered_bytes_ > options_.copy.big_key_bytes) go_native();  // too big for one RESTORE
}

void RdbImporter::go_native() {
  route_ = Route::Native;
  writer_.begin(key_.key, key_.type);
  if (string_as_set_ && !pending_string_.empty()) writer_.string_chunk(pending_string_);
  string_as_set_ = false;
  pending_string_.clear();
  for (auto& step : steps_) step(writer_);
  steps_.clear();
}

void RdbImporter::on_string_chunk(std::string_view chunk) {
  if (route_ == Route::Buffer && string_as_set_) {
    pending_string_.append(chunk);
    buffered_bytes_ += chunk.size();
    if (buffered_bytes_ > options_.copy.big_key_bytes) go_native();  // too big for one SET
    return;
  }
  add([c = std::string(chunk)](NativeWriter& w) { w.string_chunk(c); }, chunk.size());
}

void RdbImporter::on_list_items(std::vector<std::string>& items) {
  size_t bytes = 0;
  for (auto& i : items) bytes += i.size() + 8;
  add([v = std::move(items)](NativeWriter& w) { w.list_items(v); }, bytes);
}

void RdbImporter::on_set_members(std::vector<std::string>& members) {
  size_t bytes = 0;
  for (auto& i : members) bytes += i.size() + 8;
  add([v = std::move(members)](NativeWriter& w) { w.set_members(v); }, bytes);
}

void RdbImporter::on_zset_members(std::vector<std::pair<std::string, double>>& members) {
  std::vector<FieldValue> scored;
  size_t bytes = 0;
  for (auto& [m, s] : members) {
    bytes += m.size() + 24;
    scored.emplace_back(std::move(m), format_score(s));
  }
  add([v = std::move(scored)](NativeWriter& w) { w.zset_members(v); }, bytes);
}

void RdbImporter::on_hash_fields(std::vector<FieldValue>& fields) {
  size_t bytes = 0;
  for (auto& [f, v] : fields) bytes += f.size() + v.size() + 8;
  add([v = std::move(fields)](NativeWriter& w) { w.hash_fields(v); }, bytes);
}

void RdbImporter::on_hash_field_expiries(std::vector<std::pair<std::string, long long>>& expiries) {
  if (route_ == Route::Native && !writer_.supports_field_expiry()) {
    unsupported(key_, fmt::format("hash fields with their own expiry need Redis 7.4+, and {} runs {}", target_.describe(),
                                  target_.version_string()));
    return;
  }
  add([v = std::move(expiries)](NativeWriter& w) { w.hash_field_expiries(v); }, expiries.size() * 16);
}

void RdbImporter::on_stream_entries(std::vector<StreamEntry>& entries) {
  size_t bytes = 0;
  for (auto& e : entries)
    for (auto& f : e.fields_values) bytes += f.size() + 8;
  add([v = std::move(entries)](NativeWriter& w) { w.stream_entries(v); }, bytes);
}

void RdbImporter::on_stream_meta(const StreamMeta& meta, uint64_t) {
  add([meta](NativeWriter& w) { w.stream_meta(meta); }, 64);
}

void RdbImporter::on_stream_group(const StreamGroup& group) {
  add([group](NativeWriter& w) { w.stream_group(group); }, 64 + group.name.size());
}

void RdbImporter::on_stream_consumer(const std::string& group, const std::string& consumer) {
  add([group, consumer](NativeWriter& w) { w.stream_consumer(group, consumer); }, 64);
}

void RdbImporter::on_stream_pending(const std::string& group, std::vector<StreamPendingEntry>& pending) {
  add([group, v = std::move(pending)](NativeWriter& w) { w.stream_pending(group, v); }, pending.size() * 48);
}

void RdbImporter::on_module_value(const std::string& module_type) {
  module_type_ = module_type;
  if (route_ != Route::Buffer) {  // no RESTORE to try: the target cannot take it
    unsupported(key_, fmt::format("a value of module type '{}' cannot be written with commands", module_type));
  } else if (target_.version() < 70000 && !target_modules_.count(ascii_lower(module_type))) {
    // A Redis 6 target exits on a RESTORE of a module it lacks ("module data I can't load"): never sent.
    route_ = Route::Skip;
    unsupported(key_, fmt::format("{} cannot hold a value of module type '{}' (the module is not loaded there)",
                                  target_.describe(), module_type));
  }
}

void RdbImporter::unsupported(const KeyInfo& key, const std::string& why) {
  if (route_ == Route::Native) writer_.abort();
  route_ = Route::Skip;
  steps_.clear();
  unsupported_why_ = why;
}

void RdbImporter::record_failure(const KeyInfo& key, const std::string& error, RedisErrorKind kind) {
  record_failure(key.db, key.key, error, kind);
}

void RdbImporter::record_failure(int db, const std::string& key, const std::string& error, RedisErrorKind kind) {
  report_.add_failure(db, log::printable(key), error);
  if (!fatal_ && stops_writing(kind, error)) fatal_ = fmt::format("{} rejected a write: {}", target_.describe(), error);
}

void RdbImporter::on_key_end(const KeyInfo& key, const std::string* raw) {
  if (options_.progress) options_.progress(key.end_offset);
  if (!unsupported_why_.empty()) {
    if (options_.skip_unsupported) {
      report_.add_unsupported(key.db, log::printable(key.key), unsupported_why_);
      log::warn("{} skipped: {}", key_context(key), unsupported_why_);
    } else {
      record_failure(key, unsupported_why_ + " (skip such keys with --skip-unsupported)", RedisErrorKind::Other);
    }
    return;
  }
  bool replace = options_.copy.on_conflict == ConflictMode::Replace;
  if (route_ == Route::Native) {
    commit_native(key);
  } else if (route_ == Route::Buffer && string_as_set_) {
    send_set(key);
  } else if (route_ == Route::Buffer && !raw) {  // its encoding outgrew one RESTORE
    go_native();
    commit_native(key);
  } else if (route_ == Route::Buffer) {
    // The DUMP payload: type byte, value, 2-byte RDB version, CRC64 of all that, little-endian.
    int payload_version = std::min(file_version_, target_rdb_version_);
    std::string payload;
    payload.reserve(raw->size() + 11);
    payload.push_back(static_cast<char>(key.rdb_type));
    payload.append(*raw);
    payload.push_back(static_cast<char>(payload_version & 0xff));
    payload.push_back(static_cast<char>((payload_version >> 8) & 0xff));
    uint64_t crc = crc64(0, payload.data(), payload.size());
    for (int i = 0; i < 8; ++i) payload.push_back(static_cast<char>((crc >> (8 * i)) & 0xff));
    Args restore{"RESTORE", key.key, std::to_string(expire_.value_or(0)), std::move(payload)};
    if (replace) restore.push_back("REPLACE");
    if (expire_) restore.push_back("ABSTTL");
    if (target_.version() >= 50000 && key.idle_seconds) {
      restore.push_back("IDLETIME");
      restore.push_back(std::to_string(*key.idle_seconds));
    } else if (target_.version() >= 50000 && key.lfu_freq) {
      restore.push_back("FREQ");
      restore.push_back(std::to_string(*key.lfu_freq));
    }
    report_.bytes += raw->size();
    // Keep the steps for a native rewrite until the target has accepted this type once.
    if (accepted_types_.count(key.rdb_type)) steps_.clear();
    in_flight_.push_back({key, std::move(steps_), module_type_});
    steps_.clear();
    pipe_.send(restore, [this](Reply&& r) { on_restore_reply(std::move(r)); });
    if (!rejected_.empty()) rewrite_rejected();
  }
}

void RdbImporter::send_set(const KeyInfo& key) {
  report_.bytes += pending_string_.size();
  std::string value = std::move(pending_string_);
  pending_string_.clear();
  strings_.add(key.db, key.key, std::move(value), expire_);
}

void RdbImporter::commit_native(const KeyInfo& key) {
  try {
    if (commit_and_count(writer_, expire_, options_.copy.on_conflict == ConflictMode::Replace, report_) ==
            WriteOutcome::Written &&
        options_.on_key_written)
      options_.on_key_written(options_.copy.target_db(key.db), key.key);
  } catch (const CommandError& e) {
    record_failure(key, e.what(), e.kind());
  }
}

void RdbImporter::on_restore_reply(Reply&& r) {
  Restore done = std::move(in_flight_.front());
  in_flight_.pop_front();
  if (!r.is_error()) {
    ++report_.copied;
    accepted_types_.insert(done.key.rdb_type);
    if (options_.on_key_written) options_.on_key_written(options_.copy.target_db(done.key.db), done.key.key);
    return;
  }
  auto kind = classify_error(r.str);
  if (kind == RedisErrorKind::BusyKey) {
    ++report_.skipped_conflict;
    log::warn("{} already exists on {}: not overwritten", key_context(done.key), target_.describe());
  } else if (kind == RedisErrorKind::BadPayload && options_.copy.write_mode == WriteMode::Auto && done.key.rdb_type != kTypeModule2) {
    if (done.steps.empty() && accepted_types_.count(done.key.rdb_type))
      record_failure(done.key, r.str, kind);  // the same type was accepted before: this payload is bad
    else
      rejected_.push_back(std::move(done));  // written with commands once the pipeline is free
  } else if (done.key.rdb_type == kTypeModule2) {
    std::string why = fmt::format("{} cannot hold this value of module type '{}' (the module is not loaded there): {}",
                                  target_.describe(), done.module_type, r.str);
    if (options_.skip_unsupported) report_.add_unsupported(done.key.db, log::printable(done.key.key), why);
    else record_failure(done.key, why + " (skip such keys with --skip-unsupported)", kind);
  } else {
    record_failure(done.key, r.str, kind);
  }
}

void RdbImporter::rewrite_rejected() {
  if (!target_rejects_dump_) {
    std::string w = fmt::format("{} rejects RESTORE payloads of RDB version {}: keys are written with native commands",
                                target_.describe(), std::min(file_version_, target_rdb_version_));
    log::warn("{}", w);
    report_.warnings.push_back(w);
    target_rejects_dump_ = true;
  }
  std::vector<Restore> todo = std::move(rejected_);
  rejected_.clear();
  int db = target_.selected_db();
  for (auto& r : todo) {
    if (fatal_) break;
    select_db(options_.copy.target_db(r.key.db));
    writer_.begin(r.key.key, r.key.type);
    for (auto& step : r.steps) step(writer_);
    expire_ = r.key.expire_ms;
    if (expire_) *expire_ += options_.copy.ttl_extend_ms;
    commit_native(r.key);
  }
  select_db(db);
}

void RdbImporter::finish() {
  try {
    drain_all();
    while (!rejected_.empty() && !fatal_) {
      rewrite_rejected();
      pipe_.drain();
    }
  } catch (const FerryError& e) {
    if (!fatal_) fatal_ = e.what();
  }
  if (fatal_ && report_.stopped_because.empty()) report_.stopped_because = *fatal_;
}

}  // namespace ferry::rdb
