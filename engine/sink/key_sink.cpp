#include "sink/key_sink.h"

#include "core/clock.h"
#include "core/log.h"
#include "rdb/format.h"
#include "redis/command_keys.h"
#include "sink/key_transform.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace ferry {
namespace {

std::string key_context(int db, const std::string& key) { return fmt::format("DB {} key '{}'", db, log::printable(key)); }

size_t total_size(const std::vector<std::string>& items) {
  size_t bytes = 0;
  for (const auto& i : items) bytes += i.size() + 8;
  return bytes;
}

// Plays a decoded value into a begun NativeWriter: a refused payload, written with commands.
class NativeReplay : public rdb::RdbVisitor {
 public:
  explicit NativeReplay(NativeWriter& w) : w_(w) {}
  void on_string_chunk(std::string_view chunk) override { w_.string_chunk(chunk); }
  void on_list_items(std::vector<std::string>& v) override { w_.list_items(v); }
  void on_set_members(std::vector<std::string>& v) override { w_.set_members(v); }
  void on_zset_members(std::vector<std::pair<std::string, double>>& v) override {
    std::vector<FieldValue> scored;
    for (auto& [m, s] : v) scored.emplace_back(std::move(m), rdb::format_score(s));
    w_.zset_members(scored);
  }
  void on_hash_fields(std::vector<FieldValue>& v) override { w_.hash_fields(v); }
  void on_hash_field_expiries(std::vector<std::pair<std::string, long long>>& v) override { w_.hash_field_expiries(v); }
  void on_stream_entries(std::vector<StreamEntry>& v) override { w_.stream_entries(v); }
  void on_stream_meta(const StreamMeta& m, uint64_t) override { w_.stream_meta(m); }
  void on_stream_group(const StreamGroup& g) override { w_.stream_group(g); }
  void on_stream_consumer(const std::string& g, const std::string& c) override { w_.stream_consumer(g, c); }
  void on_stream_pending(const std::string& g, std::vector<StreamPendingEntry>& p) override { w_.stream_pending(g, p); }
  void on_module_value(const std::string& module_type) override {
    throw UnsupportedValue(fmt::format("a value of module type '{}' cannot be written with commands", module_type));
  }

 private:
  NativeWriter& w_;
};

}  // namespace

KeySink::KeySink(Target& target, KeySinkOptions options, MigrationReport& report)
    : target_(target),
      options_(std::move(options)),
      report_(report),
      writer_(target),
      strings_(target, replace(), string_callbacks()),
      dbs_(options_.copy.dbs.begin(), options_.copy.dbs.end()) {
  target_rejects_payloads_ = options_.copy.write_mode == WriteMode::Commands || options_.append_in_place;
  writer_.set_in_place(options_.append_in_place);
  if (options_.copy.transform && options_.copy.transform->has_on_key) {
    transform_ = std::make_unique<Transform>(options_.copy.transform);
    stage_ = std::make_unique<KeyTransformStage>(*this, *transform_, options_.copy.big_key_bytes);
  }
}

rdb::RdbVisitor& KeySink::input() { return stage_ ? static_cast<rdb::RdbVisitor&>(*stage_) : *this; }

KeySink::~KeySink() {
  // Replies still in flight have handlers pointing here: read them while this sink exists.
  try {
    target_.drain();
  } catch (...) {
    try {
      target_.discard();
    } catch (...) {
    }
  }
}

// ---- Policy shared by every path -------------------------------------------------------------------

std::optional<long long> KeySink::extended(std::optional<long long> expire_ms) const {
  if (expire_ms) *expire_ms += options_.copy.ttl_extend_ms;
  return expire_ms;
}

// A key already expired stays gone: --ttl-extend lengthens live keys, it does not revive dead ones.
bool KeySink::expired(const std::optional<long long>& expire_ms) const { return expire_ms && *expire_ms <= unix_ms(); }

void KeySink::written(int target_db, const std::string& key, size_t bytes) {
  ++report_.copied;
  report_.bytes += bytes;
  if (options_.on_key_written) options_.on_key_written(target_db, key);
}

void KeySink::fail(const KeyInfo& key, const std::string& error, RedisErrorKind kind) {
  report_.add_failure(key.db, log::printable(key.key), error);
  if (!fatal_ && stops_writing(kind, error))
    fatal_ = fmt::format("{} {} {}: {} ({})", target_.describe_for(key.key),
                         kind == RedisErrorKind::Oom ? "is out of memory at" : "rejected a write at", key_context(key.db, key.key),
                         error, explain_error(kind));
}

void KeySink::unsupported(const KeyInfo& key, const std::string& why) {
  if (options_.copy.skip_unsupported) {
    report_.add_unsupported(key.db, log::printable(key.key), why);
    log::warn("{} skipped: {}", key_context(key.db, key.key), why);
  } else {
    fail(key, why + " (skip such keys with --skip-unsupported)", RedisErrorKind::Other);
  }
}

void KeySink::gone(const KeyInfo&) { ++report_.skipped_expired; }

StringWriter::Callbacks KeySink::string_callbacks() {
  StringWriter::Callbacks c;
  c.written = [this](int db, const std::string& key, size_t bytes) { written(options_.copy.target_db(db), key, bytes); };
  c.conflict = [this](int db, const std::string& key) {
    ++report_.skipped_conflict;
    log::warn("{} already exists on {}: not overwritten", key_context(db, key), target_.describe());
  };
  c.failed = [this](int db, const std::string& key, const std::string& error) {
    fail(KeyInfo::named(db, key), error, classify_error(error));
  };
  return c;
}

// ---- RESTORE and refused payloads ------------------------------------------------------------------

Args KeySink::restore_command(const KeyInfo& key, std::string payload, std::optional<long long> expire, bool replace,
                              const std::vector<std::string>& extra) {
  Args restore{"RESTORE", key.key, std::to_string(expire.value_or(0)), std::move(payload)};
  if (replace) restore.push_back("REPLACE");
  if (expire) restore.push_back("ABSTTL");
  restore.insert(restore.end(), extra.begin(), extra.end());
  return restore;
}

// key.expire_ms: the absolute expiry a native rewrite sets; the command carries it its own way.
void KeySink::send_restore(const KeyInfo& key, int target_db, Args restore, bool replace) {
  const size_t bytes = restore[3].size();
  if (options_.throttle) options_.throttle->account(bytes);
  // The payload is kept for a native rewrite until the target has accepted this type once.
  Restore r{key, target_db, accepted_types_.count(key.rdb_type) ? std::string() : restore[3], bytes, replace};
  in_flight_.push_back(std::move(r));
  target_.pipeline_for(target_db, key.key).send(restore, [this](Reply&& reply) { on_restore_reply(std::move(reply)); });
}

void KeySink::on_restore_reply(Reply&& r) {
  Restore done = std::move(in_flight_.front());
  in_flight_.pop_front();
  const KeyInfo& key = done.key;
  if (!r.is_error()) {
    accepted_types_.insert(key.rdb_type);
    written(done.target_db, key.key, done.bytes);
    return;
  }
  auto kind = classify_error(r.str);
  if (kind == RedisErrorKind::BusyKey) {
    ++report_.skipped_conflict;
    log::warn("{} already exists on {}: not overwritten", key_context(key.db, key.key), target_.describe());
  } else if (key.rdb_type == rdb::kTypeModule2) {
    unsupported(key, fmt::format("{} cannot hold this module value (the module is not loaded there): {}", target_.describe(),
                                 r.str));
  } else if (kind == RedisErrorKind::BadPayload && options_.copy.write_mode == WriteMode::Auto && !done.payload.empty()) {
    rejected_.push_back(std::move(done));  // written with commands once the pipeline is free
  } else {
    fail(key, r.str, kind);  // the same type was accepted before: this payload is bad
  }
}

void KeySink::rewrite_rejected() {
  if (rejected_.empty()) return;
  if (!target_rejects_payloads_) {
    std::string w = fmt::format("{} rejects RESTORE payloads of this source (a newer RDB version): keys are written with "
                                "native commands",
                                target_.describe());
    log::warn("{}", w);
    report_.warnings.push_back(w);
    target_rejects_payloads_ = true;
  }
  std::vector<Restore> todo = std::move(rejected_);
  rejected_.clear();
  for (const auto& r : todo) {
    if (fatal_) break;
    write_payload_natively(r);
  }
}

void KeySink::write_payload_natively(const Restore& r) {
  KeyInfo key = r.key;
  writer_.begin(r.target_db, key.key, rdb::key_type_of(key.rdb_type).value_or(KeyType::String));
  try {
    NativeReplay replay(writer_);
    rdb::decode_dump_payload(r.payload, key, replay);
  } catch (const UnsupportedValue& e) {
    writer_.abort();
    return unsupported(key, e.what());
  } catch (const rdb::RdbError& e) {
    writer_.abort();
    return fail(key, e.what(), RedisErrorKind::BadPayload);
  }
  commit_writer(key, key.expire_ms, r.replace);
}

// ---- The native writer -----------------------------------------------------------------------------

void KeySink::commit_writer(const KeyInfo& key, std::optional<long long> expire, bool replace) {
  if (options_.throttle) options_.throttle->account(writer_.bytes());
  try {
    switch (writer_.commit(expire, replace)) {
      case WriteOutcome::Written:
        ++report_.copied_chunked;
        report_.dropped_pending_entries += writer_.dropped_pending();
        written(options_.copy.target_db(key.db), key.key, writer_.bytes());
        break;
      case WriteOutcome::Conflict:
        ++report_.skipped_conflict;
        log::warn("{} already exists on {}: not overwritten", key_context(key.db, key.key), target_.describe());
        break;
      case WriteOutcome::Gone: ++report_.skipped_expired; break;
    }
  } catch (const CommandError& e) {
    fail(key, e.what(), e.kind());
  }
}

// ---- Decoded records -------------------------------------------------------------------------------

void KeySink::on_aux(const std::string& name, const std::string& value) {
  if (name != "lua") return;
  // RDBs of Redis < 7 carry the scripts EVALSHA may call: load them so those calls keep working.
  Reply r;
  for (Connection* master : target_.masters())  // EVALSHA may run on any of them
    if (!r.is_error()) r = master->command({"SCRIPT", "LOAD", value});
  if (r.is_error()) {
    report_.warnings.push_back(fmt::format("a Lua script from the RDB could not be loaded on {}: {}", target_.describe(), r.str));
    return;
  }
  ++report_.scripts_loaded;
}

void KeySink::on_module_aux(const std::string& module_type) {
  // A module's own data beside the keys (no command writes it). redis-server refuses a file that
  // holds it for a module it has not loaded.
  if (target_.facts().has_module_for_type(module_type)) {
    report_.warnings.push_back(
        fmt::format("aux data of module type '{}' in the RDB is not copied (no command writes it)", module_type));
    return;
  }
  unsupported(KeyInfo::named(0, "module aux data: " + module_type),
              fmt::format("aux data of module type '{}', whose module {} has not loaded (redis-server refuses such a file)",
                          module_type, target_.describe()));
  if (!options_.copy.skip_unsupported && !fatal_) fatal_ = report_.failures.back().error;
}

void KeySink::on_trailing_bytes(uint64_t offset) {
  if (options_.rdb_preamble) return;
  std::string w = fmt::format("bytes after the RDB's checksum, from offset {}, were ignored (as redis-server does)", offset);
  log::warn("{}", w);
  report_.warnings.push_back(w);
}

void KeySink::on_function(const std::string& code) {
  strings_.drain();
  Args load{"FUNCTION", "LOAD"};
  if (replace()) load.push_back("REPLACE");
  load.push_back(code);
  Reply r;
  for (Connection* master : target_.masters())  // FCALL may run on any of them
    if (!r.is_error()) r = master->command(load);
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
  } else {
    unsupported(fn, fmt::format("FUNCTION LOAD failed: {}", r.str));
  }
}

// A new key: nothing of the last one's routing is left.
void KeySink::begin_key(const KeyInfo& key) {
  key_ = key;
  steps_.clear();
  buffered_bytes_ = 0;
  unsupported_why_.clear();
  route_ = Route::Skip;
}

bool KeySink::admit(const KeyInfo& key) {
  begin_key(key);
  if (fatal_) throw FerryError(ExitCode::Failed, *fatal_);  // stops the parser
  if (!dbs_.empty() && !dbs_.count(key.db)) return false;
  if (!options_.skip_key_prefix.empty() && key.key.rfind(options_.skip_key_prefix, 0) == 0) return false;
  ++report_.keys_total;
  if (!options_.copy.filter.selects(key.key)) {
    ++report_.filtered;
    return false;
  }
  if (expired(key.expire_ms)) {
    ++report_.skipped_expired;
    return false;
  }
  return true;
}

size_t KeySink::route(const KeyInfo& key) {
  begin_key(key);
  if (expired(key.expire_ms)) {  // a transform gave it an expiry already past
    ++report_.skipped_expired;
    return 0;
  }
  expire_ = extended(key.expire_ms);
  target_db_ = options_.copy.target_db(key.db);
  const TargetFacts& facts = target_.facts();
  if (!target_rejects_payloads_ && rdb::min_version_for_type(key.rdb_type) <= facts.rdb_version &&
      rdb::payload_portable(key.rdb_type, input_version_, facts.rdb_version)) {
    route_ = Route::Buffer;
    string_as_set_ = key.rdb_type == rdb::kTypeString && options_.copy.write_mode == WriteMode::Auto &&
                     !key.idle_seconds && !key.lfu_freq && (!expire_ || facts.takes_pxat());
    pending_string_.clear();
    return string_as_set_ ? 0 : options_.copy.big_key_bytes;  // a SET needs no raw RESTORE payload
  }
  if (key.rdb_type == rdb::kTypeModule2) return 0;  // on_module_value says why it cannot be written
  route_ = Route::Native;
  writer_.begin(target_db_, key.key, key.type);
  return 0;
}

void KeySink::add(Step step, size_t bytes) {
  if (route_ == Route::Native) {
    try {
      step(writer_);
    } catch (const UnsupportedValue& e) {
      writer_.abort();
      route_ = Route::Skip;
      unsupported_why_ = e.what();
    }
    return;
  }
  if (route_ != Route::Buffer) return;
  steps_.push_back(std::move(step));
  buffered_bytes_ += bytes;
  if (buffered_bytes_ > options_.copy.big_key_bytes) go_native();  // too big for one RESTORE
}

void KeySink::go_native() {
  route_ = Route::Native;
  writer_.begin(target_db_, key_.key, key_.type);
  if (string_as_set_ && !pending_string_.empty()) writer_.string_chunk(pending_string_);
  string_as_set_ = false;
  pending_string_.clear();
  auto steps = std::move(steps_);
  steps_.clear();
  for (auto& step : steps) add(std::move(step), 0);
}

void KeySink::on_string_chunk(std::string_view chunk) {
  if (route_ == Route::Buffer && string_as_set_) {
    pending_string_.append(chunk);
    buffered_bytes_ += chunk.size();
    if (buffered_bytes_ > options_.copy.big_key_bytes) go_native();  // too big for one SET
    return;
  }
  add([c = std::string(chunk)](NativeWriter& w) { w.string_chunk(c); }, chunk.size());
}

void KeySink::on_list_items(std::vector<std::string>& items) {
  const size_t bytes = total_size(items);
  add([v = std::move(items)](NativeWriter& w) { w.list_items(v); }, bytes);
}

void KeySink::on_set_members(std::vector<std::string>& members) {
  const size_t bytes = total_size(members);
  add([v = std::move(members)](NativeWriter& w) { w.set_members(v); }, bytes);
}

void KeySink::on_zset_members(std::vector<std::pair<std::string, double>>& members) {
  std::vector<FieldValue> scored;
  size_t bytes = 0;
  for (auto& [m, s] : members) {
    bytes += m.size() + 24;
    scored.emplace_back(std::move(m), rdb::format_score(s));
  }
  add([v = std::move(scored)](NativeWriter& w) { w.zset_members(v); }, bytes);
}

void KeySink::on_hash_fields(std::vector<FieldValue>& fields) {
  size_t bytes = 0;
  for (auto& [f, v] : fields) bytes += f.size() + v.size() + 8;
  add([v = std::move(fields)](NativeWriter& w) { w.hash_fields(v); }, bytes);
}

void KeySink::on_hash_field_expiries(std::vector<std::pair<std::string, long long>>& expiries) {
  const size_t bytes = expiries.size() * 16;
  add([v = std::move(expiries)](NativeWriter& w) { w.hash_field_expiries(v); }, bytes);
}

void KeySink::on_stream_entries(std::vector<StreamEntry>& entries) {
  size_t bytes = 0;
  for (auto& e : entries) bytes += total_size(e.fields_values);
  add([v = std::move(entries)](NativeWriter& w) { w.stream_entries(v); }, bytes);
}

void KeySink::on_stream_meta(const StreamMeta& meta, uint64_t) {
  add([meta](NativeWriter& w) { w.stream_meta(meta); }, 64);
}

void KeySink::on_stream_group(const StreamGroup& group) {
  add([group](NativeWriter& w) { w.stream_group(group); }, 64 + group.name.size());
}

void KeySink::on_stream_consumer(const std::string& group, const std::string& consumer) {
  add([group, consumer](NativeWriter& w) { w.stream_consumer(group, consumer); }, 64);
}

void KeySink::on_stream_pending(const std::string& group, std::vector<StreamPendingEntry>& pending) {
  const size_t bytes = pending.size() * 48;
  add([group, v = std::move(pending)](NativeWriter& w) { w.stream_pending(group, v); }, bytes);
}

void KeySink::on_module_value(const std::string& module_type) {
  if (route_ != Route::Buffer) {  // no RESTORE to try: the target cannot take it
    route_ = Route::Skip;
    unsupported_why_ = fmt::format("a value of module type '{}' cannot be written with commands", module_type);
  } else if (!target_.facts().refuses_module_safely(module_type)) {
    route_ = Route::Skip;
    unsupported_why_ = fmt::format("{} cannot hold a value of module type '{}' (the module is not loaded there)",
                                   target_.describe(), module_type);
  }
}

void KeySink::on_key_end(const KeyInfo& key, const std::string* raw) {
  if (options_.progress) options_.progress(key.end_offset);
  if (key.empty && route_ != Route::Skip) {  // redis-server skips it when loading ("Empty keys skipped")
    if (route_ == Route::Native) writer_.abort();
    ++report_.skipped_empty;
    log::warn("{}: an empty {} (no elements), skipped as redis-server skips it", key_context(key.db, key.key),
              key_type_name(key.type));
    return;
  }
  if (!unsupported_why_.empty()) return unsupported(key, unsupported_why_);
  if (route_ == Route::Buffer && string_as_set_) {
    if (options_.throttle) options_.throttle->account(pending_string_.size());
    strings_.add(key.db, target_db_, key.key, std::move(pending_string_), expire_);
    pending_string_.clear();
  } else if (route_ == Route::Buffer && !raw) {  // its encoding outgrew one RESTORE
    go_native();
  } else if (route_ == Route::Buffer) {
    Args extra;
    const int version = target_.facts().version;
    if (version >= 50000 && key.idle_seconds) extra = {"IDLETIME", std::to_string(*key.idle_seconds)};
    else if (version >= 50000 && key.lfu_freq) extra = {"FREQ", std::to_string(*key.lfu_freq)};
    steps_.clear();
    KeyInfo written = key;
    written.expire_ms = expire_;
    auto payload = rdb::make_dump_payload(key.rdb_type, *raw, std::min(input_version_, target_.facts().rdb_version));
    send_restore(written, target_db_, restore_command(key, std::move(payload), expire_, replace(), extra), replace());
    if (!rejected_.empty()) rewrite_rejected();
    return;
  }
  if (route_ == Route::Native) commit_writer(key, expire_, replace());
}

// ---- Whole keys ------------------------------------------------------------------------------------

bool KeySink::wants(int db, const std::string& key) {
  if (options_.copy.filter.selects(key)) return true;
  ++report_.filtered;
  return false;
}

bool KeySink::takes_string_values() const {
  return options_.copy.write_mode == WriteMode::Auto && !target_rejects_payloads_ && target_.facts().takes_pxat();
}

void KeySink::transform_whole(const KeyInfo& key, const Transform::ValueLoader& load,
                              const std::function<void(const KeyInfo&, bool last)>& write) {
  KeyRecord in{key.db, key.key, key.type, key.expire_ms, std::nullopt};
  auto outs = transform_->key(in, load, true);
  if (outs.empty()) return transform_dropped();
  transform_added(outs.size() - 1);
  for (size_t i = 0; i < outs.size(); ++i) {
    KeyInfo out = key;
    out.db = outs[i].db;
    out.key = outs[i].key;
    out.expire_ms = outs[i].expire_ms;
    if (outs[i].value) write_replaced(out, outs[i].type, std::move(*outs[i].value));
    else write(out, i + 1 == outs.size());
  }
}

void KeySink::write_replaced(KeyInfo key, KeyType type, KeyValue value) {
  key.type = type;
  key.rdb_type = plain_rdb_type(type);
  key.empty = type != KeyType::String && value.bytes() == 0;
  route(key);
  play_value(*this, type, std::move(value));
  on_key_end(key, nullptr);
}

void KeySink::put_payload(KeyInfo key, std::string payload) {
  if (expired(key.expire_ms)) return gone(key);
  key.rdb_type = payload.empty() ? 0 : static_cast<uint8_t>(payload[0]);
  if (!transform_) return restore_payload(std::move(key), std::move(payload));
  key.type = rdb::key_type_of(key.rdb_type).value_or(KeyType::String);
  Transform::ValueLoader load = [&]() -> std::optional<KeyValue> {
    ValueCollector collect(key.type);
    try {
      rdb::decode_dump_payload(payload, key, collect);
    } catch (const std::exception&) {  // a module value, an encoding this build cannot read: no value to give
      return std::nullopt;
    }
    return collect.take();
  };
  transform_whole(key, load, [&](const KeyInfo& out, bool last) { restore_payload(out, last ? std::move(payload) : payload); });
}

void KeySink::restore_payload(KeyInfo key, std::string payload) {
  key.expire_ms = extended(key.expire_ms);
  Args command = restore_command(key, std::move(payload), key.expire_ms, replace(), {});
  send_restore(key, options_.copy.target_db(key.db), std::move(command), replace());
}

void KeySink::put_string(const KeyInfo& key, std::string value) {
  if (expired(key.expire_ms)) return gone(key);
  if (!transform_) return write_string(key, std::move(value));
  Transform::ValueLoader load = [&]() -> std::optional<KeyValue> {
    KeyValue v;
    v.string = value;
    return v;
  };
  transform_whole(key, load, [&](const KeyInfo& out, bool last) { write_string(out, last ? std::move(value) : value); });
}

void KeySink::write_string(const KeyInfo& key, std::string value) {
  if (expired(key.expire_ms)) return gone(key);
  if (options_.throttle) options_.throttle->account(value.size());
  strings_.add(key.db, options_.copy.target_db(key.db), key.key, std::move(value), extended(key.expire_ms));
}

NativeWriter* KeySink::begin_native(KeyInfo& key) {
  native_transformed_ = false;
  if (transform_) {
    KeyRecord in{key.db, key.key, key.type, key.expire_ms, std::nullopt};
    auto outs = transform_->key(in, nullptr, false);
    if (outs.empty()) {
      transform_dropped();
      return nullptr;
    }
    key.db = outs.front().db;
    key.key = outs.front().key;
    native_expire_ = outs.front().expire_ms;
    native_transformed_ = true;
  }
  writer_.begin(options_.copy.target_db(key.db), key.key, key.type);
  return &writer_;
}

void KeySink::commit_native(const KeyInfo& key, std::optional<long long> source_expire_ms) {
  if (native_transformed_) source_expire_ms = native_expire_;  // the script's, from the expiry read first
  if (expired(source_expire_ms)) {
    writer_.abort();
    return gone(key);
  }
  commit_writer(key, extended(source_expire_ms), replace());
}

void KeySink::restore(const KeyInfo& key, int target_db, Args command) {
  bool replace = false, absttl = false;
  for (size_t i = 4; i < command.size(); ++i) {
    std::string opt = ascii_upper(command[i]);
    replace |= opt == "REPLACE";
    absttl |= opt == "ABSTTL";
  }
  KeyInfo k = key;
  k.rdb_type = command[3].empty() ? 0 : static_cast<uint8_t>(command[3][0]);
  long long ttl = std::atoll(command[2].c_str());
  k.expire_ms.reset();
  if (ttl > 0) k.expire_ms = absttl ? ttl : unix_ms() + ttl;
  send_restore(k, target_db, std::move(command), replace);
  // A refused payload is rewritten before anything after it, so order is kept.
  target_.drain();
  rewrite_rejected();
}

void KeySink::flush() {
  strings_.drain();
  target_.drain();
  while (!rejected_.empty() && !fatal_) {
    rewrite_rejected();
    target_.drain();
  }
}

void KeySink::finish() {
  try {
    flush();
  } catch (const FerryError& e) {
    if (!fatal_) fatal_ = e.what();
  }
  if (fatal_ && report_.stopped_because.empty()) report_.stopped_because = *fatal_;
}

}  // namespace ferry
