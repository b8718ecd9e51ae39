#include "scan/scan_copier.h"
#include "core/clock.h"

#include "core/log.h"
#include "redis/command_keys.h"
#include "task/progress.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <chrono>

namespace ferry {
namespace {


// Parses "db0:keys=12,expires=3,avg_ttl=0" -> 12.
long long keyspace_keys(const std::string& value) {
  auto pos = value.find("keys=");
  if (pos == std::string::npos) return 0;
  return std::atoll(value.c_str() + pos + 5);
}

}  // namespace

ScanCopier::ScanCopier(Connection& source, Connection& target, CopyOptions options)
    : source_(source),
      target_(target),
      options_(std::move(options)),
      source_pipe_(source, options_.pipeline),
      target_pipe_(target, options_.pipeline),
      writer_(target_pipe_, target.version()),
      strings_(target_pipe_, options_.on_conflict == ConflictMode::Replace, string_callbacks()) {}

StringWriter::Callbacks ScanCopier::string_callbacks() {
  StringWriter::Callbacks c;
  c.written = [this](int, const std::string&) { ++report_.copied; };
  c.conflict = [this](int db, const std::string& key) {
    ++report_.skipped_conflict;
    log::warn("key '{}' in DB {} already exists on {}: not overwritten", log::printable(key), db, target_.describe());
  };
  c.failed = [this](int db, const std::string& key, const std::string& error) { stop_if_fatal(error, db, key); };
  return c;
}

std::vector<int> ScanCopier::selected_dbs() {
  if (!options_.dbs.empty()) return options_.dbs;
  std::vector<int> dbs;
  for (const auto& [name, value] : source_.info("keyspace"))
    if (name.rfind("db", 0) == 0 && keyspace_keys(value) > 0) dbs.push_back(std::atoi(name.c_str() + 2));
  std::sort(dbs.begin(), dbs.end());
  return dbs;
}

void ScanCopier::check_conflicts(const std::vector<int>& source_dbs) {
  for (int source_db : source_dbs) {
    int db = options_.target_db(source_db);
    target_.select(db);
    long long size = target_.checked({"DBSIZE"}).integer;
    if (size == 0) continue;
    std::vector<std::string> examples;
    std::string cursor = "0";
    for (int round = 0; round < 20 && examples.size() < 5; ++round) {
      Reply r = target_.checked({"SCAN", cursor, "COUNT", "100"});
      cursor = r.elements[0].str;
      for (auto& k : r.elements[1].elements)
        if (examples.size() < 5) examples.push_back("'" + log::printable(k.str, 60) + "'");
      if (cursor == "0") break;
    }
    throw FerryError(ExitCode::Failed,
                     fmt::format("{} already holds {} key(s) in DB {} (e.g. {}); nothing was written. Empty it, pick "
                                 "other DBs with --db, or overwrite with --on-conflict replace",
                                 target_.describe(), size, db, fmt::join(examples, ", ")));
  }
}

MigrationReport ScanCopier::run() {
  auto started = std::chrono::steady_clock::now();
  report_ = MigrationReport{};
  report_.source = source_.describe();
  report_.target = target_.describe();

  use_pexpiretime_ = source_.version() >= 70000;
  if (!use_pexpiretime_) {
    std::string w = fmt::format("{} is Redis {} (< 7.0, no PEXPIRETIME): expiries are read with PTTL, so an absolute "
                                "expiry may be off by the round-trip time (a few ms)",
                                source_.describe(), source_.version_string());
    log::warn("{}", w);
    report_.warnings.push_back(w);
  }
  if (options_.write_mode == WriteMode::Commands) target_rejects_dump_ = true;
  strings_as_set_ = options_.write_mode == WriteMode::Auto && StringWriter::takes_expiry(target_.version());
  target_modules_ = target_.module_names();

  std::vector<int> dbs = selected_dbs();
  options_.db_map.check(dbs);
  options_.describe_into(report_);
  report_.dbs = dbs;
  for (int db : dbs) {
    source_.select(db);
    report_.keys_total += source_.checked({"DBSIZE"}).integer;
  }
  if (options_.on_conflict == ConflictMode::Block) check_conflicts(dbs);

  ProgressMeter meter(report_.keys_total, options_.progress);
  meter_ = &meter;
  try {
    for (int db : dbs) {
      copy_db(db);
      if (fatal_) break;
    }
  } catch (const FerryError& e) {
    fatal_ = e.what();
  }
  meter.finish();
  meter_ = nullptr;

  if (fatal_) {
    report_.stopped_because = *fatal_;
    report_.not_attempted = report_.keys_total > report_.handled() ? report_.keys_total - report_.handled() : 0;
  }
  report_.complete = !fatal_ && report_.failed == 0 && report_.skipped_conflict == 0;
  report_.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return report_;
}

void ScanCopier::copy_db(int db) {
  source_.select(db);
  target_.select(options_.target_db(db));
  // Three stages overlap on the source connection, so it always has work queued while ferry
  // handles replies: the SCAN for the next batch, the sizes and types of this batch, the values of
  // the previous one. Filters are applied here rather than with SCAN MATCH, so every key left out
  // is counted.
  std::string cursor = "0";
  bool scanning = true;
  Reply scanned;
  auto send_scan = [&] {
    source_pipe_.send({"SCAN", cursor, "COUNT", std::to_string(options_.scan_count)},
                      [&scanned](Reply&& r) { scanned = std::move(r); });
  };
  send_scan();
  source_pipe_.drain();
  std::vector<SizedKey> ready;  // measured: their values are read next
  std::vector<Reply> sizes, types;
  while (!fatal_) {
    if (scanned.is_error()) throw CommandError(classify_error(scanned.str), fmt::format("SCAN on {} failed: {}", source_.describe(), scanned.str));
    std::vector<std::string> keys;
    if (scanning) {
      cursor = scanned.elements.at(0).str;
      scanning = cursor != "0";
      for (auto& k : scanned.elements.at(1).elements) {
        if (options_.filter.selects(k.str)) keys.push_back(std::move(k.str));
        else ++report_.filtered;
      }
    }
    if (ready.empty() && keys.empty() && !scanning) break;
    // The previous batch: big keys go through the chunked writer; the values of the small ones are
    // read in groups of at most --batch-bytes, the first group with this round.
    std::vector<SizedKey> big;
    std::vector<std::vector<SizedKey>> groups;
    long long group_bytes = 0;
    for (auto& k : ready) {
      if (!k.module_type.empty()) {
        unsupported(db, k.key, fmt::format("{} cannot hold a value of module type '{}' (the module is not loaded there)",
                                           target_.describe(), k.module_type));
      } else if (target_rejects_dump_ || k.size > static_cast<long long>(options_.big_key_bytes)) {
        big.push_back(std::move(k));
      } else {
        if (groups.empty() || group_bytes + k.size > static_cast<long long>(options_.batch_bytes)) {
          groups.emplace_back();
          group_bytes = 0;
        }
        group_bytes += k.size;
        groups.back().push_back(std::move(k));
      }
    }
    if (groups.empty()) groups.emplace_back();
    std::vector<Transaction> txs = send_dumps(groups[0]);
    send_measure(keys, sizes, types);
    if (scanning) send_scan();
    source_pipe_.drain();
    apply_dumps(db, groups[0], txs);
    for (size_t g = 1; g < groups.size() && !fatal_; ++g) {
      auto more = send_dumps(groups[g]);
      source_pipe_.drain();
      apply_dumps(db, groups[g], more);
    }
    for (auto& k : big) {
      if (fatal_) break;
      copy_chunked(db, k.key);
    }
    ready = measured(keys, sizes, types);
    if (!rejected_payloads_.empty()) finish_restores(db);
    report_progress();
  }
  finish_restores(db);  // before another DB is selected on the target
}

void ScanCopier::report_progress() {
  if (meter_) meter_->update(report_.handled(), report_.bytes);
}

// Queues MEMORY USAGE (and TYPE, when strings travel as SET) of each key; measured() reads them.
void ScanCopier::send_measure(const std::vector<std::string>& keys, std::vector<Reply>& sizes, std::vector<Reply>& types) {
  sizes.assign(keys.size(), Reply{});
  types.assign(keys.size(), Reply{});
  for (size_t i = 0; i < keys.size(); ++i) {
    if (memory_usage_ok_)
      source_pipe_.send({"MEMORY", "USAGE", keys[i]}, [&sizes, i](Reply&& r) { sizes[i] = std::move(r); });
    // The type picks the path: strings travel as SET, a module type the target lacks is never RESTOREd.
    source_pipe_.send({"TYPE", keys[i]}, [&types, i](Reply&& r) { types[i] = std::move(r); });
  }
}

std::string ScanCopier::missing_module(const std::string& type) const {
  if (type.empty() || key_type_from_name(type) || type == "none" || target_.version() >= 70000) return {};
  return target_modules_.count(ascii_lower(type)) ? std::string() : type;
}

std::vector<ScanCopier::SizedKey> ScanCopier::measured(std::vector<std::string>& keys, std::vector<Reply>& sizes,
                                                       std::vector<Reply>& types) {
  std::vector<SizedKey> sized;
  sized.reserve(keys.size());
  if (memory_usage_ok_) {
    bool unsupported = std::any_of(sizes.begin(), sizes.end(), [](const Reply& r) { return r.is_error(); });
    if (!unsupported) {
      for (size_t i = 0; i < keys.size(); ++i) {
        if (sizes[i].is_nil()) {
          ++report_.skipped_expired;  // gone between SCAN and now
          continue;
        }
        sized.push_back({std::move(keys[i]), sizes[i].integer, strings_as_set_ && types[i].str == "string",
                         missing_module(types[i].str)});
      }
      return sized;
    }
    memory_usage_ok_ = false;
    std::string w = fmt::format("MEMORY USAGE is not allowed on {}: key sizes are estimated from TYPE and length",
                                source_.describe());
    log::warn("{}", w);
    report_.warnings.push_back(w);
  }
  // Without MEMORY USAGE: the type's length command (the types came with the same round).
  std::vector<Reply> lengths(keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    const std::string& t = types[i].str;
    const char* cmd = t == "string" ? "STRLEN" : t == "list" ? "LLEN" : t == "set" ? "SCARD" : t == "zset" ? "ZCARD"
                      : t == "hash" ? "HLEN" : t == "stream" ? "XLEN" : nullptr;
    if (cmd) source_pipe_.send({cmd, keys[i]}, [&lengths, i](Reply&& r) { lengths[i] = std::move(r); });
  }
  source_pipe_.drain();
  for (size_t i = 0; i < keys.size(); ++i) {
    if (types[i].str == "none") {
      ++report_.skipped_expired;
      continue;
    }
    long long n = lengths[i].is_integer() ? lengths[i].integer : 0;
    const bool string = types[i].str == "string";
    sized.push_back({std::move(keys[i]), string ? n : n * 64, string && strings_as_set_, missing_module(types[i].str)});
  }
  return sized;
}

std::optional<long long> ScanCopier::absolute_expiry(const Reply& r, bool& gone) const {
  gone = false;
  if (!r.is_integer()) return std::nullopt;
  if (r.integer == -2) {
    gone = true;
    return std::nullopt;
  }
  if (r.integer == -1) return std::nullopt;
  long long abs = use_pexpiretime_ ? r.integer : unix_ms() + r.integer;
  return abs + options_.ttl_extend_ms;
}

bool ScanCopier::expired(const std::optional<long long>& abs_ms) const { return abs_ms && *abs_ms <= unix_ms(); }

void ScanCopier::unsupported(int db, const std::string& key, const std::string& why) {
  if (options_.skip_unsupported) report_.add_unsupported(db, log::printable(key), why);
  else report_.add_failure(db, log::printable(key), why + " (skip such keys with --skip-unsupported)");
}

void ScanCopier::stop_if_fatal(const std::string& error, int db, const std::string& key) {
  auto kind = classify_error(error);
  report_.add_failure(db, log::printable(key), error);
  if (!fatal_ && stops_writing(kind, error))
    fatal_ = fmt::format("{} rejected a write: {} ({})", target_.describe(), error, explain_error(kind));
}

std::vector<ScanCopier::Transaction> ScanCopier::send_dumps(const std::vector<SizedKey>& keys) {
  const char* expiry_cmd = use_pexpiretime_ ? "PEXPIRETIME" : "PTTL";
  // DUMP (GET for a string) and the expiry of a key inside one MULTI/EXEC: both describe the same
  // moment of the key. Up to kKeysPerTransaction keys share a transaction (fewer round trips and
  // commands for the source, which stays blocked for at most that many small DUMPs).
  constexpr size_t kKeysPerTransaction = 64;
  std::vector<Transaction> txs;
  txs.reserve((keys.size() + kKeysPerTransaction - 1) / kKeysPerTransaction);
  for (size_t first = 0; first < keys.size(); first += kKeysPerTransaction)
    txs.push_back({first, std::min(kKeysPerTransaction, keys.size() - first), {}, {}});
  for (auto& tx : txs) {
    auto queued = [&tx](Reply&& r) {
      if (r.is_error() && tx.queue_error.empty()) tx.queue_error = r.str;
    };
    source_pipe_.send({"MULTI"}, queued);
    for (size_t i = tx.first; i < tx.first + tx.count; ++i) {
      source_pipe_.send({keys[i].string ? "GET" : "DUMP", keys[i].key}, queued);
      source_pipe_.send({expiry_cmd, keys[i].key}, queued);
    }
    source_pipe_.send({"EXEC"}, [&tx](Reply&& r) { tx.exec = std::move(r); });
  }
  return txs;
}

void ScanCopier::apply_dumps(int db, const std::vector<SizedKey>& keys, std::vector<Transaction>& txs) {
  for (auto& tx : txs) {
    if (tx.exec.is_error() || tx.exec.elements.size() != 2 * tx.count) {
      std::string why = tx.queue_error.empty() ? tx.exec.summary() : tx.queue_error;
      auto kind = classify_error(why);
      throw CommandError(kind, fmt::format("DUMP on {} failed for key '{}': {} ({})", source_.describe(),
                                           log::printable(keys[tx.first].key), why, explain_error(kind)));
    }
    for (size_t n = 0; n < tx.count; ++n) {
      const std::string& key = keys[tx.first + n].key;
      Reply& dump = tx.exec.elements[2 * n];
      bool gone = false;
      auto abs = absolute_expiry(tx.exec.elements[2 * n + 1], gone);
      if (dump.is_error()) {  // WRONGTYPE: the key became another type since it was measured
        copy_chunked(db, key);
        continue;
      }
      if (dump.is_nil() || gone || expired(abs)) {
        ++report_.skipped_expired;
        continue;
      }
      if (keys[tx.first + n].string) {
        report_.bytes += dump.str.size();
        strings_.add(db, key, std::move(dump.str), abs);
        continue;
      }
      Args restore{"RESTORE", key, std::to_string(abs.value_or(0)), std::move(dump.str)};
      if (options_.on_conflict == ConflictMode::Replace) restore.push_back("REPLACE");
      if (abs) restore.push_back("ABSTTL");
      const size_t bytes = restore[3].size();
      // Replies are read while the next batch is read from the source: the handler keeps what it
      // needs by value. A refused payload (an older target) is copied again with native commands.
      target_pipe_.send(restore, [this, db, key, bytes](Reply&& r) {
        if (!r.is_error()) {
          ++report_.copied;
          report_.bytes += bytes;
          return;
        }
        auto kind = classify_error(r.str);
        if (kind == RedisErrorKind::BusyKey) {
          ++report_.skipped_conflict;
          log::warn("key '{}' in DB {} already exists on {}: not overwritten", log::printable(key), db, target_.describe());
        } else if (kind == RedisErrorKind::BadPayload && options_.write_mode == WriteMode::Auto) {
          rejected_payloads_.push_back(key);
        } else {
          stop_if_fatal(r.str, db, key);
        }
      });
    }
  }
}

// Reads every RESTORE reply still pending, then copies the keys whose payload the target refused
// with native commands.
void ScanCopier::finish_restores(int db) {
  strings_.drain();
  if (rejected_payloads_.empty() || fatal_) return;
  if (!target_rejects_dump_) {
    std::string w = fmt::format("{} rejects the source's DUMP payloads (older RDB version): keys are written with "
                                "native commands instead", target_.describe());
    log::warn("{}", w);
    report_.warnings.push_back(w);
    target_rejects_dump_ = true;
  }
  std::vector<std::string> todo = std::move(rejected_payloads_);
  rejected_payloads_.clear();
  for (const auto& key : todo) {
    if (fatal_) break;
    copy_chunked(db, key);
  }
}

void ScanCopier::copy_chunked(int db, const std::string& key) {
  Reply type_reply = source_.checked({"TYPE", key});
  if (type_reply.str == "none") {
    ++report_.skipped_expired;
    return;
  }
  auto type = key_type_from_name(type_reply.str);
  if (!type) {
    unsupported(db, key, fmt::format("type '{}' (a module type) cannot be copied with native commands", type_reply.str));
    return;
  }
  writer_.begin(key, *type);
  ChunkedKeyReader reader(source_, options_.chunk);
  try {
    if (!reader.copy(key, *type, writer_)) {
      writer_.abort();
      ++report_.skipped_expired;
      return;
    }
    // The expiry is read last: it is the one that holds when the key is moved into place.
    bool gone = false;
    auto abs = absolute_expiry(source_.checked({use_pexpiretime_ ? "PEXPIRETIME" : "PTTL", key}), gone);
    if (gone || expired(abs)) {
      writer_.abort();
      ++report_.skipped_expired;
      return;
    }
    if (commit_and_count(writer_, abs, options_.on_conflict == ConflictMode::Replace, report_) == WriteOutcome::Conflict)
      log::warn("key '{}' in DB {} already exists on {}: not overwritten", log::printable(key), db, target_.describe());
  } catch (const UnsupportedValue& e) {
    writer_.abort();
    unsupported(db, key, e.what());
  } catch (const CommandError& e) {
    report_.add_failure(db, log::printable(key), e.what());
    if (!fatal_ && stops_writing(e.kind(), e.what())) fatal_ = e.what();
  }
  report_progress();
}

}  // namespace ferry
