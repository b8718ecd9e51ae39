#include "repl/stream_applier.h"
#include "core/clock.h"

#include "core/log.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <chrono>

namespace ferry::repl {
namespace {

std::string upper(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

std::string describe_command(const std::vector<std::string>& args) {
  std::string out;
  for (size_t i = 0; i < args.size() && i < 4; ++i) out += (i ? " " : "") + log::printable(args[i], 40);
  if (args.size() > 4) out += " ...";
  return out;
}

}  // namespace

nlohmann::json ApplierStats::to_json() const {
  return {{"commands", commands},     {"skipped", skipped},
          {"transactions", transactions}, {"errors", errors},
          {"unapplied", unapplied},   {"per_command", per_command},
          {"unconfirmed_scripts", unconfirmed_script_count},
          {"unconfirmed_script_examples", unconfirmed_scripts},
          {"notes", notes}};
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
  fatal_.reset();
}

void StreamApplier::note(std::string text) {
  if (stats_.notes.size() < 20) stats_.notes.push_back(std::move(text));
}

void StreamApplier::send(std::vector<std::string> args) {
  // The command as the messages name it (name, key and a little more): kept until its reply.
  std::string what = fmt::format("DB {} {}", target_db_, describe_command(args));
  pipe_->send(args, [this, what](Reply&& r) {
    if (!r.is_error()) return;
    auto kind = classify_error(r.str);
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
    for (size_t i = 3; i + 1 < args.size(); ++i) {
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
    // Only what concerns selected DBs goes into the target's transaction.
    std::vector<std::vector<std::string>> body;
    int db_before = stream_db_;
    for (auto& cmd : multi_) {
      std::string n = upper(cmd[0]);
      if (n == "SELECT") {
        stream_db_ = std::atoi(cmd[1].c_str());
        continue;
      }
      if (!selected(stream_db_)) {
        ++stats_.skipped;
        continue;
      }
      if (!cmd.empty() && cmd.size() > 1 && cmd[1].rfind(options_.heartbeat_prefix, 0) == 0) continue;
      if (options_.relative_expiries || options_.ttl_extend_ms) rewrite_expiry(cmd);
      body.push_back({"SELECT", std::to_string(stream_db_)});
      body.push_back(std::move(cmd));
    }
    int db_after = stream_db_;
    stream_db_ = db_before;
    if (!body.empty()) {
      ++stats_.transactions;
      send({"MULTI"});
      int db = target_db_;
      for (auto& cmd : body) {
        if (cmd[0] == "SELECT") {
          int want = std::atoi(cmd[1].c_str());
          if (want != db) send(cmd);
          db = want;
          continue;
        }
        ++stats_.commands;
        ++stats_.per_command[upper(cmd[0])];
        send(std::move(cmd));
      }
      target_db_ = db;
      send({"EXEC"});
    }
    stream_db_ = db_after;
    multi_.clear();
    pending_offset_ = end_offset;
    return;
  }
  if (in_multi_) {
    multi_.push_back(std::move(args));
    return;
  }
  apply_one(args);
  pending_offset_ = end_offset;
}

void StreamApplier::apply_one(std::vector<std::string>& args) {
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
      for (int db : dbs_) {
        select_target(db);
        send({"FLUSHDB"});
      }
      ++stats_.commands;
      ++stats_.per_command[name];
      return;
    }
  } else if (name == "SWAPDB" && args.size() >= 3 && !dbs_.empty()) {
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
  } else if (name == "MOVE" && args.size() >= 3) {
    int to = std::atoi(args[2].c_str());
    bool from_selected = selected(stream_db_), to_selected = selected(to);
    if (!from_selected && !to_selected) {
      ++stats_.skipped;
      return;
    }
    if (from_selected && !to_selected) {  // the key left the selected DBs
      select_target(stream_db_);
      send({"DEL", args[1]});
      ++stats_.commands;
      ++stats_.per_command[name];
      return;
    }
    if (!from_selected) {
      ++stats_.unapplied;
      note(fmt::format("MOVE of '{}' from unselected DB {} into DB {}: its value is not known here (divergence)",
                       log::printable(args[1]), stream_db_, to));
      return;
    }
  } else if (name == "COPY" && !dbs_.empty()) {
    int to = stream_db_;
    for (size_t i = 3; i + 1 < args.size(); ++i)
      if (upper(args[i]) == "DB") to = std::atoi(args[i + 1].c_str());
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
  if (options_.relative_expiries || options_.ttl_extend_ms) rewrite_expiry(args);
  if ((name == "EVAL" || name == "EVALSHA") && args.size() >= 3) {
    // Only sources older than 7.0 with verbatim script replication send scripts: the target runs
    // them again, so their outcome is not confirmed. The keys they declare are listed.
    ++stats_.unconfirmed_script_count;
    if (stats_.unconfirmed_scripts.size() < 20) {
      std::string keys;
      long long numkeys = std::atoll(args[2].c_str());
      for (long long k = 0; k < numkeys && 3 + k < static_cast<long long>(args.size()); ++k)
        keys += " '" + log::printable(args[3 + k], 60) + "'";
      stats_.unconfirmed_scripts.push_back(fmt::format("DB {} {} keys:{}", stream_db_, name, keys.empty() ? " (none)" : keys));
    }
  }
  select_target(stream_db_);
  ++stats_.commands;
  ++stats_.per_command[name];
  send(std::move(args));
}

long long StreamApplier::flush() {
  pipe_->drain();
  target_->note_selected(target_db_);
  if (fatal_) throw FerryError(ExitCode::Failed, *fatal_);
  applied_offset_ = pending_offset_;
  return applied_offset_;
}

}  // namespace ferry::repl
