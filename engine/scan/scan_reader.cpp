#include "scan/scan_reader.h"

#include "cluster/cluster_topology.h"
#include "core/clock.h"
#include "core/log.h"
#include "redis/command_keys.h"
#include "scan/chunked_key_reader.h"

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

ScanReader::ScanReader(Connection& source, KeySink& sink, const CopyOptions& options, MigrationReport& report,
                       Progress* progress)
    : source_(source),
      sink_(sink),
      options_(options),
      report_(report),
      progress_(progress),
      source_pipe_(source, options_.pipeline) {
  use_pexpiretime_ = source_.version() >= 70000;
  cluster_ = is_cluster(source_);
  if (!use_pexpiretime_) {
    std::string w = fmt::format("{} is Redis {} (< 7.0, no PEXPIRETIME): expiries are read with PTTL, so an absolute "
                                "expiry may be off by the round-trip time (a few ms)",
                                source_.describe(), source_.version_string());
    log::warn("{}", w);
    report_.warnings.push_back(w);
  }
  strings_as_values_ = sink_.takes_string_values();
  native_only_ = options_.write_mode == WriteMode::Commands;
}

std::vector<int> ScanReader::selected_dbs() {
  if (!options_.dbs.empty()) return options_.dbs;
  std::vector<int> dbs;
  for (const auto& [name, value] : source_.info("keyspace"))
    if (name.rfind("db", 0) == 0 && keyspace_keys(value) > 0) dbs.push_back(std::atoi(name.c_str() + 2));
  std::sort(dbs.begin(), dbs.end());
  return dbs;
}

uint64_t ScanReader::count_keys(const std::vector<int>& dbs) {
  uint64_t total = 0;
  for (int db : dbs) {
    source_.select(db);
    total += source_.checked({"DBSIZE"}).integer;
  }
  return total;
}

void ScanReader::run(const std::vector<int>& dbs) {
  for (int db : dbs) {
    copy_db(db);
    if (sink_.fatal()) break;
  }
  sink_.flush();
  report_progress();
}

void ScanReader::copy_db(int db) {
  source_.select(db);
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
  while (!sink_.fatal()) {
    if (scanned.is_error())
      throw CommandError(classify_error(scanned.str), fmt::format("SCAN on {} failed: {}", source_.describe(), scanned.str));
    std::vector<std::string> keys;
    if (scanning) {
      cursor = scanned.elements.at(0).str;
      scanning = cursor != "0";
      for (auto& k : scanned.elements.at(1).elements)
        if (sink_.wants(db, k.str)) keys.push_back(std::move(k.str));
    }
    if (ready.empty() && keys.empty() && !scanning) break;
    // The previous batch: big keys go through the chunked reader; the values of the small ones are
    // read in groups of at most --batch-bytes, the first group with this round.
    std::vector<SizedKey> big;
    std::vector<std::vector<SizedKey>> groups;
    long long group_bytes = 0;
    for (auto& k : ready) {
      if (!k.module_type.empty()) {
        KeyInfo info = KeyInfo::named(db, k.key);
        sink_.unsupported(info, fmt::format("{} cannot hold a value of module type '{}' (the module is not loaded there)",
                                            sink_.describe_target(), k.module_type));
      } else if (native_only_ || k.size > static_cast<long long>(options_.big_key_bytes)) {
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
    std::vector<Transaction> txs = send_reads(groups[0]);
    send_measure(keys, sizes, types);
    if (scanning) send_scan();
    source_pipe_.drain();
    hand_over(db, groups[0], txs);
    for (size_t g = 1; g < groups.size() && !sink_.fatal(); ++g) {
      auto more = send_reads(groups[g]);
      source_pipe_.drain();
      hand_over(db, groups[g], more);
    }
    for (auto& k : big) {
      if (sink_.fatal()) break;
      copy_chunked(db, k.key);
    }
    ready = measured(keys, sizes, types);
    report_progress();
  }
}

void ScanReader::report_progress() {
  if (!progress_) return;
  PartStatus s = PartStatus::copy("scan", report_.handled(), report_.keys_total, "keys", report_.bytes);
  s.report = &report_;
  progress_->update(s);
}

// Queues MEMORY USAGE (and TYPE, when strings travel as SET) of each key; measured() reads them.
void ScanReader::send_measure(const std::vector<std::string>& keys, std::vector<Reply>& sizes, std::vector<Reply>& types) {
  sizes.assign(keys.size(), Reply{});
  types.assign(keys.size(), Reply{});
  for (size_t i = 0; i < keys.size(); ++i) {
    if (memory_usage_ok_)
      source_pipe_.send({"MEMORY", "USAGE", keys[i]}, [&sizes, i](Reply&& r) { sizes[i] = std::move(r); });
    // The type picks the path: strings travel as SET, a module type the target lacks is never RESTOREd.
    source_pipe_.send({"TYPE", keys[i]}, [&types, i](Reply&& r) { types[i] = std::move(r); });
  }
}

std::string ScanReader::missing_module(const std::string& type) const {
  if (type.empty() || key_type_from_name(type) || type == "none") return {};
  return sink_.facts().refuses_module_safely(type) ? std::string() : type;
}

std::vector<ScanReader::SizedKey> ScanReader::measured(std::vector<std::string>& keys, std::vector<Reply>& sizes,
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
        sized.push_back({std::move(keys[i]), sizes[i].integer, strings_as_values_ && types[i].str == "string",
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
    sized.push_back({std::move(keys[i]), string ? n : n * 64, string && strings_as_values_, missing_module(types[i].str)});
  }
  return sized;
}

std::optional<long long> ScanReader::absolute_expiry(const Reply& r, bool& gone) const {
  gone = false;
  if (!r.is_integer()) return std::nullopt;
  if (r.integer == -2) {
    gone = true;
    return std::nullopt;
  }
  if (r.integer == -1) return std::nullopt;
  return use_pexpiretime_ ? r.integer : unix_ms() + r.integer;
}

std::vector<ScanReader::Transaction> ScanReader::send_reads(const std::vector<SizedKey>& keys) {
  const char* expiry_cmd = use_pexpiretime_ ? "PEXPIRETIME" : "PTTL";
  // DUMP (GET for a string) and the expiry of a key inside one MULTI/EXEC: both describe the same
  // moment of the key. Up to kKeysPerTransaction keys share a transaction (fewer round trips and
  // commands for the source, which stays blocked for at most that many small DUMPs); on a cluster
  // node, only keys of one slot do.
  constexpr size_t kKeysPerTransaction = 64;
  std::vector<Transaction> txs;
  for (size_t i = 0; i < keys.size(); ++i) {
    if (txs.empty() || txs.back().count == kKeysPerTransaction ||
        (cluster_ && key_slot(keys[i].key) != key_slot(keys[txs.back().first].key)))
      txs.push_back({i, 0, {}, {}});
    ++txs.back().count;
  }
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

void ScanReader::hand_over(int db, const std::vector<SizedKey>& keys, std::vector<Transaction>& txs) {
  for (auto& tx : txs) {
    if (tx.exec.is_error() || tx.exec.elements.size() != 2 * tx.count) {
      std::string why = tx.queue_error.empty() ? tx.exec.summary() : tx.queue_error;
      auto kind = classify_error(why);
      throw CommandError(kind, fmt::format("DUMP on {} failed for key '{}': {} ({})", source_.describe(),
                                           log::printable(keys[tx.first].key), why, explain_error(kind)));
    }
    for (size_t n = 0; n < tx.count; ++n) {
      KeyInfo key = KeyInfo::named(db, keys[tx.first + n].key);
      Reply& value = tx.exec.elements[2 * n];
      bool gone = false;
      key.expire_ms = absolute_expiry(tx.exec.elements[2 * n + 1], gone);
      if (value.is_error()) {  // WRONGTYPE: the key became another type since it was measured
        copy_chunked(db, key.key);
      } else if (value.is_nil() || gone) {
        sink_.gone(key);
      } else if (keys[tx.first + n].string) {
        sink_.put_string(key, std::move(value.str));
      } else {
        sink_.put_payload(std::move(key), std::move(value.str));
      }
    }
  }
}

void ScanReader::copy_chunked(int db, const std::string& name) {
  KeyInfo key = KeyInfo::named(db, name);
  Reply type_reply = source_.checked({"TYPE", name});
  if (type_reply.str == "none") return sink_.gone(key);
  auto type = key_type_from_name(type_reply.str);
  if (!type) {
    return sink_.unsupported(key, fmt::format("type '{}' (a module type) cannot be copied with native commands",
                                              type_reply.str));
  }
  key.type = *type;
  if (sink_.transforms_keys()) {  // the script sees the expiry: read it first
    bool gone = false;
    key.expire_ms = absolute_expiry(source_.checked({use_pexpiretime_ ? "PEXPIRETIME" : "PTTL", name}), gone);
    if (gone) return sink_.gone(key);
  }
  NativeWriter* begun = sink_.begin_native(key);
  if (!begun) return report_progress();  // the transform dropped it
  NativeWriter& writer = *begun;
  ChunkedKeyReader reader(source_, options_.chunk);
  try {
    if (!reader.copy(name, *type, writer)) {
      writer.abort();
      return sink_.gone(key);
    }
    // The expiry is read last: it is the one that holds when the key is moved into place.
    bool gone = false;
    auto abs = absolute_expiry(source_.checked({use_pexpiretime_ ? "PEXPIRETIME" : "PTTL", name}), gone);
    if (gone) {
      writer.abort();
      return sink_.gone(key);
    }
    sink_.commit_native(key, abs);
  } catch (const UnsupportedValue& e) {
    writer.abort();
    sink_.unsupported(key, e.what());
  } catch (const CommandError& e) {  // the source refused a read of this key
    writer.abort();
    sink_.fail(key, e.what(), e.kind());
  }
  report_progress();
}

}  // namespace ferry
