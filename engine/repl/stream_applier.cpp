#include "repl/stream_applier.h"
#include "core/clock.h"

#include "core/log.h"
#include "io/byte_source.h"
#include "rdb/rdb_importer.h"
#include "rdb/rdb_parser.h"
#include "redis/command_keys.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cctype>
#include <chrono>

namespace ferry::repl {
namespace {

std::string upper(std::string s) { return ascii_upper(std::move(s)); }

std::string describe_command(const std::vector<std::string>& args) {
  std::string out;
  for (size_t i = 0; i < args.size() && i < 4; ++i) out += (i ? " " : "") + log::printable(args[i], 40);
  if (args.size() > 4) out += " ...";
  return out;
}

}  // namespace

nlohmann::json ApplierStats::to_json() const {
  nlohmann::json j{{"commands", commands},     {"skipped", skipped},
          {"transactions", transactions}, {"errors", errors}, {"script_errors", script_errors},
          {"unapplied", unapplied},   {"filtered", filtered},
          {"reduced", reduced},       {"per_command", per_command},
          {"unconfirmed_scripts", unconfirmed_script_count},
          {"unconfirmed_script_examples", unconfirmed_scripts},
          {"notes", notes}};
  auto keys = [](const std::vector<std::pair<int, std::string>>& list) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& [db, key] : list) out.push_back({{"db", db}, {"key", key}});
    return out;
  };
  j["unconfirmed_script_keys"] = keys(unconfirmed_script_keys);
  j["oom_rejected"] = keys(oom_rejected);
  return j;
}

StreamApplier::StreamApplier(Connection& target, ApplierOptions options)
    : target_(&target),
      options_(std::move(options)),
      dbs_(options_.dbs.begin(), options_.dbs.end()),
      pipe_(std::make_unique<Pipeline>(target, options_.pipeline)),
      target_db_(target.selected_db()) {}

void StreamApplier::reset_target(Connection& target) {
  pipe_.reset();  // its destructor would read from the dead connection: release it first
  target_ = &target;
  pipe_ = std::make_unique<Pipeline>(target, options_.pipeline);
  target_db_ = target.selected_db();
  in_multi_ = false;
  multi_.clear();
  rejected_restores_.clear();
  fatal_.reset();
}

void StreamApplier::note(std::string text) {
  if (stats_.notes.size() < 20) stats_.notes.push_back(std::move(text));
}

void StreamApplier::send(std::vector<std::string> args) {
  // The command as the messages name it (name, key and a little more): kept until its reply.
  std::string what = fmt::format("DB {} {}", target_db_, describe_command(args));
  std::optional<std::vector<std::string>> restore;  // kept in case the payload is refused
  const std::string name = upper(args[0]);
  if (name == "RESTORE") restore = args;
  const bool script = name == "EVAL" || name == "EVALSHA";
  std::string key = args.size() > 1 ? log::printable(args[1]) : std::string();
  pipe_->send(args, [this, what, db = target_db_, source_db = stream_db_, key = std::move(key),
                     restore = std::move(restore), script](Reply&& r) {
    if (!r.is_error()) return;
    auto kind = classify_error(r.str);
    if (kind == RedisErrorKind::Oom && !key.empty() && stats_.oom_rejected.size() < ApplierStats::kMaxKeys)
      stats_.oom_rejected.emplace_back(source_db, key);
    if (restore && kind == RedisErrorKind::BadPayload) {
      rejected_restores_.emplace_back(db, *restore);
      return;
    }
    if (script && kind == RedisErrorKind::Other && r.str.rfind("NOSCRIPT", 0) != 0) {
      // A runtime error of a replayed script: the source replicated it because it wrote before
      // failing the same way. Its keys are listed as unconfirmed.
      ++stats_.script_errors;
      note(fmt::format("{} (a script replicated verbatim) ended with an error on {} as the source's run did: {}", what,
                       target_->describe(), r.str));
      return;
    }
    ++stats_.errors;
    if (r.str.rfind("NOSCRIPT", 0) == 0) {
      note(fmt::format("{}: the target does not have this script (NOSCRIPT): not applied", what));
      return;
    }
    note(fmt::format("{} failed on {}: {}", what, target_->describe(), r.str));
    if (!fatal_ && stops_writing(kind, r.str))
      fatal_ = fmt::format("{} rejected '{}': {} ({}); the target holds the stream up to offset {}", target_->describe(),
                           what, r.str, explain_error(kind), applied_offset_);
  });
}

void StreamApplier::select_target(int db) {
  if (target_db_ == db) return;
  send({"SELECT", std::to_string(db)});
  target_db_ = db;
}

// Expiries: a 7.0+ source sends them absolute (PEXPIREAT, SET ... PXAT); older ones send what the
// client sent. Relative forms become absolute here, and --ttl-extend is added to every one.
void StreamApplier::rewrite_expiry(std::vector<std::string>& args) {
  std::string name = upper(args[0]);
  long long ext = options_.ttl_extend_ms;
  auto add = [](const std::string& v, long long delta) { return std::to_string(std::atoll(v.c_str()) + delta); };
  if ((name == "EXPIRE" || name == "PEXPIRE") && args.size() >= 3) {
    long long ms = std::atoll(args[2].c_str()) * (name == "EXPIRE" ? 1000 : 1);
    args[0] = "PEXPIREAT";
    args[2] = std::to_string(unix_ms() + ms + ext);
  } else if ((name == "EXPIREAT" || name == "PEXPIREAT") && args.size() >= 3 && ext) {
    if (name == "EXPIREAT") {
      args[0] = "PEXPIREAT";
      args[2] = std::to_string(std::atoll(args[2].c_str()) * 1000 + ext);
    } else {
      args[2] = add(args[2], ext);
    }
  } else if ((name == "SETEX" || name == "PSETEX") && args.size() == 4) {
    long long ms = std::atoll(args[2].c_str()) * (name == "SETEX" ? 1000 : 1);
    args = {"SET", args[1], args[3], "PXAT", std::to_string(unix_ms() + ms + ext)};
  } else if (name == "SET" || name == "GETEX") {
    for (size_t i = name == "SET" ? 3 : 2; i + 1 < args.size(); ++i) {  // SET key value [opts]; GETEX key [opts]
      std::string opt = upper(args[i]);
      if (opt == "EX" || opt == "PX") {
        long long ms = std::atoll(args[i + 1].c_str()) * (opt == "EX" ? 1000 : 1);
        args[i] = "PXAT";
        args[i + 1] = std::to_string(unix_ms() + ms + ext);
      } else if ((opt == "EXAT" || opt == "PXAT") && ext) {
        long long at = std::atoll(args[i + 1].c_str()) * (opt == "EXAT" ? 1000 : 1);
        args[i] = "PXAT";
        args[i + 1] = std::to_string(at + ext);
      }
    }
  } else if (name == "RESTORE" && args.size() >= 4) {
    bool absttl = std::any_of(args.begin() + 4, args.end(), [](const std::string& a) { return upper(a) == "ABSTTL"; });
    long long ttl = std::atoll(args[2].c_str());
    if (ttl > 0) {
      args[2] = std::to_string((absttl ? ttl : unix_ms() + ttl) + ext);
      if (!absttl) args.push_back("ABSTTL");
    }
  }
  if (target_->version() < 60200 && upper(args[0]) == "SET") {
    // No PXAT before 6.2 (SETEX and SET ... EX became SET ... PXAT above, a 7.0+ source sends it):
    // the absolute time goes as the milliseconds left, at least 1.
    for (size_t i = 3; i + 1 < args.size(); ++i)
      if (upper(args[i]) == "PXAT") {
        args[i] = "PX";
        args[i + 1] = std::to_string(std::max(1LL, std::atoll(args[i + 1].c_str()) - unix_ms()));
      }
  }
}

void StreamApplier::apply(std::vector<std::string>& args, long long end_offset) {
  if (fatal_) throw FerryError(ExitCode::Failed, *fatal_);
  if (args.empty()) return;
  std::string name = upper(args[0]);
  if (name == "MULTI") {
    in_multi_ = true;  // the target holds nothing new until EXEC: the offset stays
    multi_.clear();
    return;
  }
  if (name == "EXEC") {
    in_multi_ = false;
    // Each queued command goes through the same rules as a single one; what they produce for the
    // target becomes one transaction there.
    std::vector<std::pair<int, std::vector<std::string>>> body;
    for (auto& cmd : multi_)
      translate(cmd, [&body](int db, std::vector<std::string> out) { body.emplace_back(db, std::move(out)); });
    multi_.clear();
    if (!body.empty()) {
      ++stats_.transactions;
      // SELECT before MULTI: inside, a SELECT only runs if EXEC does.
      select_target(body.front().first);
      send({"MULTI"});
      int db = target_db_;
      for (auto& [want, cmd] : body) {
        if (want != db) send({"SELECT", std::to_string(want)});
        db = want;
        send(std::move(cmd));
      }
      send_exec(db);
    }
    pending_offset_ = end_offset;
    return;
  }
  if (in_multi_) {
    multi_.push_back(std::move(args));
    return;
  }
  translate(args, [this](int db, std::vector<std::string> out) {
    select_target(db);
    bool restore = upper(out[0]) == "RESTORE";
    send(std::move(out));
    // A refused RESTORE payload is rewritten before anything after it, so order is kept.
    if (restore) {
      pipe_->drain();
      rewrite_rejected_restores();
    }
  });
  pending_offset_ = end_offset;
}

void StreamApplier::send_exec(int db_inside) {
  std::string what = fmt::format("EXEC of a transaction ending in DB {}", db_inside);
  target_db_ = db_inside;
  pipe_->send({"EXEC"}, [this, what](Reply&& r) {
    if (r.is_error()) {  // EXECABORT: nothing ran, not even the SELECTs inside
      target_db_ = -1;
      ++stats_.errors;
      note(fmt::format("{} failed on {}: {}", what, target_->describe(), r.str));
      if (!fatal_) fatal_ = fmt::format("{} rejected a transaction: {}", target_->describe(), r.str);
      return;
    }
    for (const auto& element : r.elements) {
      if (!element.is_error()) continue;
      ++stats_.errors;
      note(fmt::format("a command in {} failed on {}: {}", what, target_->describe(), element.str));
      auto kind = classify_error(element.str);
      if (!fatal_ && (stops_writing(kind, element.str) || kind == RedisErrorKind::BadPayload))
        fatal_ = fmt::format("{} rejected a command inside a transaction: {}", target_->describe(), element.str);
    }
  });
}

void StreamApplier::translate(std::vector<std::string>& args, const Emit& emit) {
  std::string name = upper(args[0]);
  if (name == "PING" || name == "REPLCONF") {
    ++stats_.skipped;
    return;
  }
  if (name == "SELECT") {
    stream_db_ = std::atoi(args.size() > 1 ? args[1].c_str() : "0");
    return;
  }
  if (args.size() > 1 && args[1].rfind(options_.heartbeat_prefix, 0) == 0) {
    if (name == "SET" && args.size() > 2) last_heartbeat_ms_ = std::atoll(args[2].c_str());
    ++stats_.skipped;
    return;
  }
  auto count = [&] {
    ++stats_.commands;
    ++stats_.per_command[name];
  };
  if (!options_.filter.empty() && !filter_keys(name, args)) return;
  name = upper(args[0]);  // the filter may have rewritten the command
  if (name == "FLUSHALL" || name == "FLUSHDB") {
    if (options_.block_flush)
      throw FerryError(ExitCode::Failed, fmt::format("the source ran {} (DB {}) and --block-flush is set: the task stops "
                                                     "with the target as it was before it",
                                                     name, stream_db_));
    if (name == "FLUSHDB" && !selected(stream_db_)) {
      ++stats_.skipped;
      return;
    }
    if (name == "FLUSHALL" && !dbs_.empty()) {  // only the selected DBs are ours to empty
      for (int db : dbs_) emit(target_db(db), {"FLUSHDB"});
      count();
      return;
    }
  } else if (name == "SWAPDB" && args.size() >= 3) {
    int a = std::atoi(args[1].c_str()), b = std::atoi(args[2].c_str());
    if (!selected(a) && !selected(b)) {
      ++stats_.skipped;
      return;
    }
    if (selected(a) != selected(b)) {
      ++stats_.unapplied;
      note(fmt::format("SWAPDB {} {} swaps a selected DB with an unselected one: not applied (divergence)", a, b));
      return;
    }
    count();  // both selected: whatever DB the client had selected
    args[1] = std::to_string(target_db(a));
    args[2] = std::to_string(target_db(b));
    emit(target_db(selected(stream_db_) ? stream_db_ : a), std::move(args));
    return;
  } else if (name == "MOVE" && args.size() >= 3) {
    int to = std::atoi(args[2].c_str());
    bool from_selected = selected(stream_db_), to_selected = selected(to);
    if (!from_selected && !to_selected) {
      ++stats_.skipped;
      return;
    }
    if (from_selected && !to_selected) {  // the key left the selected DBs
      count();
      emit(target_db(stream_db_), {"DEL", args[1]});
      return;
    }
    if (!from_selected) {
      ++stats_.unapplied;
      note(fmt::format("MOVE of '{}' from unselected DB {} into DB {}: its value is not known here (divergence)",
                       log::printable(args[1]), stream_db_, to));
      return;
    }
    args[2] = std::to_string(target_db(to));
  } else if (name == "COPY") {
    int to = stream_db_;
    for (size_t i = 3; i + 1 < args.size(); ++i)
      if (upper(args[i]) == "DB") {
        to = std::atoi(args[i + 1].c_str());
        args[i + 1] = std::to_string(target_db(to));
      }
    if (!selected(to)) {
      ++stats_.skipped;
      return;
    }
    if (!selected(stream_db_)) {
      ++stats_.unapplied;
      note(fmt::format("COPY of '{}' from unselected DB {} into DB {}: not applied (divergence)", log::printable(args[1]),
                       stream_db_, to));
      return;
    }
  }
  if (!selected(stream_db_)) {
    ++stats_.skipped;
    return;
  }
  if (options_.relative_expiries || options_.ttl_extend_ms || target_->version() < 60200) rewrite_expiry(args);
  if (target_->version() < 60200 && name == "LMOVE" && args.size() == 5) {
    // LMOVE (6.2+; BLMOVE arrives as LMOVE) for an older target: RPOPLPUSH, or the same pop and push
    // in one script (atomic like LMOVE).
    std::string from = upper(args[3]), to = upper(args[4]);
    if (from == "RIGHT" && to == "LEFT")
      args = {"RPOPLPUSH", args[1], args[2]};
    else
      args = {"EVAL", "local v = redis.call(ARGV[1], KEYS[1]) if v then redis.call(ARGV[2], KEYS[2], v) end return v",
              "2", args[1], args[2], from == "LEFT" ? "LPOP" : "RPOP", to == "LEFT" ? "LPUSH" : "RPUSH"};
  }
  if ((name == "EVAL" || name == "EVALSHA") && args.size() >= 3) {
    // Only sources older than 7.0 with verbatim script replication send scripts: the target runs
    // them again, so their outcome is not confirmed. The keys they declare are listed.
    ++stats_.unconfirmed_script_count;
    long long declared = std::atoll(args[2].c_str());
    for (long long k = 0; k < declared && 3 + k < static_cast<long long>(args.size()); ++k)
      if (stats_.unconfirmed_script_keys.size() < ApplierStats::kMaxKeys)
        stats_.unconfirmed_script_keys.emplace_back(stream_db_, log::printable(args[3 + k]));
    if (stats_.unconfirmed_scripts.size() < 20) {
      std::string keys;
      long long numkeys = std::atoll(args[2].c_str());
      for (long long k = 0; k < numkeys && 3 + k < static_cast<long long>(args.size()); ++k)
        keys += " '" + log::printable(args[3 + k], 60) + "'";
      stats_.unconfirmed_scripts.push_back(fmt::format("DB {} {} keys:{}", stream_db_, name, keys.empty() ? " (none)" : keys));
    }
  }
  count();
  emit(target_db(stream_db_), std::move(args));
}

bool StreamApplier::filter_keys(const std::string& name, std::vector<std::string>& args) {
  CommandKeys keys = command_keys(name, args);
  if (keys.keyless()) return true;
  auto sel = [&](size_t i) { return options_.filter.selects(args[i]); };
  size_t written = static_cast<size_t>(std::count_if(keys.written.begin(), keys.written.end(), sel));
  if (written == 0) {
    ++stats_.filtered;
    return false;
  }
  if (written == keys.written.size() && std::all_of(keys.read.begin(), keys.read.end(), sel)) return true;

  // Selected and excluded keys in one command.
  const size_t n = args.size();
  std::vector<std::string> kept;
  if (name == "DEL" || name == "UNLINK" || name == "TOUCH" || name == "EXISTS" || name == "PFCOUNT") {
    kept.push_back(args[0]);
    for (size_t i = 1; i < n; ++i)
      if (sel(i)) kept.push_back(args[i]);
  } else if ((name == "MSET" || name == "MSETNX") && n % 2 == 1) {
    kept.push_back(args[0]);
    for (size_t i = 1; i + 1 < n; i += 2)
      if (sel(i)) kept.insert(kept.end(), {args[i], args[i + 1]});
  } else if (n >= 3 && sel(1) && !sel(2)) {  // the first key's content leaves the selection
    if (name == "RENAME" || name == "RENAMENX") kept = {"DEL", args[1]};
    else if (name == "SMOVE" && n >= 4) kept = {"SREM", args[1], args[3]};
    else if (name == "RPOPLPUSH" || name == "BRPOPLPUSH") kept = {"RPOP", args[1]};
    else if ((name == "LMOVE" || name == "BLMOVE") && n >= 5) kept = {upper(args[3]) == "LEFT" ? "LPOP" : "RPOP", args[1]};
  }
  if (!kept.empty()) {
    ++stats_.reduced;
    args = std::move(kept);
    return true;
  }
  ++stats_.unapplied;
  std::vector<std::string> excluded;
  for (size_t i : keys.written) if (!sel(i)) excluded.push_back("'" + log::printable(args[i], 60) + "'");
  for (size_t i : keys.read) if (!sel(i)) excluded.push_back("'" + log::printable(args[i], 60) + "'");
  note(fmt::format("DB {} {} mixes selected keys with excluded ones ({}): not applied, the selected keys it writes may "
                   "diverge",
                   stream_db_, describe_command(args), fmt::format("{}", fmt::join(excluded, ", "))));
  return false;
}

// RESTORE key ttl payload [REPLACE] [ABSTTL] ...: the payload (type byte, value, 2-byte RDB version,
// CRC64) becomes a one-key RDB, imported with native commands by the same importer as RDB files.
void StreamApplier::restore_natively(int db, const std::vector<std::string>& args) {
  const std::string& payload = args[3];
  if (payload.size() < 11) {
    ++stats_.errors;
    note(fmt::format("RESTORE of '{}': payload too short", log::printable(args[1])));
    return;
  }
  bool replace = false, absttl = false;
  for (size_t i = 4; i < args.size(); ++i) {
    replace |= upper(args[i]) == "REPLACE";
    absttl |= upper(args[i]) == "ABSTTL";
  }
  int version = static_cast<unsigned char>(payload[payload.size() - 10]) |
                (static_cast<unsigned char>(payload[payload.size() - 9]) << 8);
  std::string rdb = version <= 12 ? fmt::format("REDIS{:04}", version) : "VALKEY080";
  auto put_len32 = [&](uint32_t n) {
    rdb.push_back(static_cast<char>(0x80));
    for (int shift = 24; shift >= 0; shift -= 8) rdb.push_back(static_cast<char>((n >> shift) & 0xff));
  };
  rdb.push_back(static_cast<char>(0xFE));  // SELECTDB
  put_len32(static_cast<uint32_t>(db));
  long long ttl = std::atoll(args[2].c_str());
  if (ttl > 0) {
    long long at = absttl ? ttl : unix_ms() + ttl;
    rdb.push_back(static_cast<char>(0xFC));  // EXPIRETIME_MS, little-endian
    for (int i = 0; i < 8; ++i) rdb.push_back(static_cast<char>((static_cast<unsigned long long>(at) >> (8 * i)) & 0xff));
  }
  rdb.push_back(payload[0]);
  put_len32(static_cast<uint32_t>(args[1].size()));
  rdb += args[1];
  rdb.append(payload, 1, payload.size() - 11);
  rdb.push_back(static_cast<char>(0xFF));
  if (version >= 5) rdb.append(8, '\0');  // checksum disabled

  rdb::ImportOptions options;
  options.copy.write_mode = WriteMode::Commands;
  options.copy.on_conflict = replace ? ConflictMode::Replace : ConflictMode::Block;
  options.copy.pipeline = options_.pipeline;
  MigrationReport report;
  try {
    io::MemorySource source(rdb, "a RESTORE payload from the stream");
    rdb::RdbImporter importer(*target_, options, report);
    rdb::RdbParser parser(source, importer);
    parser.parse();
    importer.finish();
  } catch (const FerryError& e) {
    report.stopped_because = e.what();
  }
  target_db_ = target_->selected_db();
  if (report.copied == 1) {
    ++stats_.per_command["RESTORE (native)"];
    return;
  }
  ++stats_.errors;
  note(fmt::format("RESTORE of '{}' (RDB version {}): {}", log::printable(args[1]), version,
                   !report.stopped_because.empty() ? report.stopped_because
                   : report.failures.empty()       ? std::string("not written")
                                                   : report.failures[0].error));
}

void StreamApplier::rewrite_rejected_restores() {
  if (rejected_restores_.empty()) return;
  auto todo = std::move(rejected_restores_);
  rejected_restores_.clear();
  target_->note_selected(target_db_);
  for (const auto& [db, args] : todo) restore_natively(db, args);
}

long long StreamApplier::flush() {
  pipe_->drain();
  rewrite_rejected_restores();
  target_->note_selected(target_db_);
  if (fatal_) throw FerryError(ExitCode::Failed, *fatal_);
  applied_offset_ = pending_offset_;
  return applied_offset_;
}

}  // namespace ferry::repl
