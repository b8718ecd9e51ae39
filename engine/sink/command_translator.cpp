#include "sink/command_translator.h"

#include "core/clock.h"
#include "core/log.h"
#include "redis/command_keys.h"
#include "target/cluster_slots.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

namespace ferry {
namespace {

std::string upper(std::string s) { return ascii_upper(std::move(s)); }

}  // namespace

std::string describe_command(const std::vector<std::string>& args) {
  std::string out;
  for (size_t i = 0; i < args.size() && i < 4; ++i) out += (i ? " " : "") + log::printable(args[i], 40);
  if (args.size() > 4) out += " ...";
  return out;
}

void StreamStats::merge(const StreamStats& o) {
  commands += o.commands;
  skipped += o.skipped;
  transactions += o.transactions;
  errors += o.errors;
  script_errors += o.script_errors;
  unapplied += o.unapplied;
  filtered += o.filtered;
  reduced += o.reduced;
  publish_dropped += o.publish_dropped;
  split += o.split;
  moved_keys += o.moved_keys;
  oom_refused += o.oom_refused;
  transformed_dropped += o.transformed_dropped;
  transformed_added += o.transformed_added;
  for (const auto& [name, n] : o.per_command) per_command[name] += n;
  unconfirmed_script_count += o.unconfirmed_script_count;
  for (const auto& x : o.unconfirmed_scripts)
    if (unconfirmed_scripts.size() < 20) unconfirmed_scripts.push_back(x);
  for (const auto& n : o.notes) note(n);
  for (const auto& k : o.unconfirmed_script_keys)
    if (unconfirmed_script_keys.size() < kMaxKeys) unconfirmed_script_keys.push_back(k);
  for (const auto& k : o.oom_rejected)
    if (oom_rejected.size() < kMaxKeys) oom_rejected.push_back(k);
}

nlohmann::json printable_counts(const std::map<std::string, uint64_t>& counts) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [name, n] : counts) j[log::printable(name, 64)] = n;  // JSON holds UTF-8 only
  return j;
}

nlohmann::json StreamStats::to_json() const {
  nlohmann::json j{{"commands", commands},     {"skipped", skipped},
          {"transactions", transactions}, {"errors", errors}, {"script_errors", script_errors},
          {"unapplied", unapplied},   {"filtered", filtered},
          {"reduced", reduced},       {"publish_dropped", publish_dropped},       {"split", split},
          {"moved_keys", moved_keys},
          {"oom_refused", oom_refused},
          {"transformed_dropped", transformed_dropped}, {"transformed_added", transformed_added},
          {"per_command", printable_counts(per_command)},
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

CommandTranslator::CommandTranslator(StreamOptions options, TargetFacts facts, StreamStats& stats,
                                     std::function<long long()> now_ms)
    : options_(std::move(options)),
      facts_(std::move(facts)),
      stats_(stats),
      now_ms_(now_ms ? std::move(now_ms) : std::function<long long()>(unix_ms)),
      dbs_(options_.dbs.begin(), options_.dbs.end()) {
  if (options_.transform && options_.transform->has_on_command) transform_ = std::make_unique<Transform>(options_.transform);
}

CommandTranslator::~CommandTranslator() = default;

// Expiries: a 7.0+ source sends them absolute (PEXPIREAT, SET ... PXAT); older ones send what the
// client sent. Relative forms become absolute here, and --ttl-extend is added to every one.
void CommandTranslator::rewrite_expiry(Command& args) {
  std::string name = upper(args[0]);
  long long ext = options_.ttl_extend_ms;
  auto add = [](const std::string& v, long long delta) { return std::to_string(std::atoll(v.c_str()) + delta); };
  if ((name == "EXPIRE" || name == "PEXPIRE") && args.size() >= 3) {
    long long ms = std::atoll(args[2].c_str()) * (name == "EXPIRE" ? 1000 : 1);
    args[0] = "PEXPIREAT";
    args[2] = std::to_string(now_ms_() + ms + ext);
  } else if ((name == "EXPIREAT" || name == "PEXPIREAT") && args.size() >= 3 && ext) {
    if (name == "EXPIREAT") {
      args[0] = "PEXPIREAT";
      args[2] = std::to_string(std::atoll(args[2].c_str()) * 1000 + ext);
    } else {
      args[2] = add(args[2], ext);
    }
  } else if ((name == "SETEX" || name == "PSETEX") && args.size() == 4) {
    long long ms = std::atoll(args[2].c_str()) * (name == "SETEX" ? 1000 : 1);
    args = {"SET", args[1], args[3], "PXAT", std::to_string(now_ms_() + ms + ext)};
  } else if (name == "SET" || name == "GETEX") {
    for (size_t i = name == "SET" ? 3 : 2; i + 1 < args.size(); ++i) {  // SET key value [opts]; GETEX key [opts]
      std::string opt = upper(args[i]);
      if (opt == "EX" || opt == "PX") {
        long long ms = std::atoll(args[i + 1].c_str()) * (opt == "EX" ? 1000 : 1);
        args[i] = "PXAT";
        args[i + 1] = std::to_string(now_ms_() + ms + ext);
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
      args[2] = std::to_string((absttl ? ttl : now_ms_() + ttl) + ext);
      if (!absttl) args.push_back("ABSTTL");
    }
  }
  if (!facts_.takes_pxat() && upper(args[0]) == "SET") {
    // No PXAT before 6.2 (SETEX and SET ... EX became SET ... PXAT above, a 7.0+ source sends it):
    // the absolute time goes as the milliseconds left, at least 1.
    for (size_t i = 3; i + 1 < args.size(); ++i)
      if (upper(args[i]) == "PXAT") {
        args[i] = "PX";
        args[i + 1] = std::to_string(std::max(1LL, std::atoll(args[i + 1].c_str()) - now_ms_()));
      }
  }
}

void CommandTranslator::translate(Command& args, const Emit& emit) {
  std::string name = upper(args[0]);
  if (name == "PING" || name == "REPLCONF") {
    ++stats_.skipped;
    return;
  }
  if (name == "RESTORE-ASKING" && args.size() >= 4) {
    // A slot migration's write on the key's new owner (a cluster source). Here, in one keyspace, it
    // replaces the old owner's copy, whose DEL may not have been applied yet.
    ++stats_.moved_keys;
    name = "RESTORE";
    args[0] = name;
    if (std::none_of(args.begin() + 4, args.end(), [](const std::string& a) { return upper(a) == "REPLACE"; }))
      args.push_back("REPLACE");
  }
  if (name == "PUBLISH" && !options_.publish) {
    ++stats_.publish_dropped;
    return;
  }
  if (name == "SELECT") {
    stream_db_ = std::atoi(args.size() > 1 ? args[1].c_str() : "0");
    return;
  }
  if (args.size() > 1 && args[1].rfind(options_.heartbeat_prefix, 0) == 0) {
    if (name == "SET" && args.size() > 2) heartbeat_ms_ = std::atoll(args[2].c_str());
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
    if (facts_.cluster)
      throw FerryError(ExitCode::Failed, fmt::format("the source ran SWAPDB {} {}, which swaps a migrated DB: a cluster "
                                                     "target has DB 0 only, where this has no meaning",
                                                     a, b));
    if (selected(a) != selected(b)) {
      ++stats_.unapplied;
      stats_.note(fmt::format("SWAPDB {} {} swaps a selected DB with an unselected one: not applied (divergence)", a, b));
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
    if (facts_.cluster && to_selected)
      throw FerryError(ExitCode::Failed, fmt::format("the source ran MOVE '{}' {} into a migrated DB: a cluster target has DB "
                                                     "0 only, where this has no meaning",
                                                     log::printable(args[1]), to));
    if (!from_selected) {
      ++stats_.unapplied;
      stats_.note(fmt::format("MOVE of '{}' from unselected DB {} into DB {}: its value is not known here (divergence)",
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
      stats_.note(fmt::format("COPY of '{}' from unselected DB {} into DB {}: not applied (divergence)", log::printable(args[1]),
                       stream_db_, to));
      return;
    }
  }
  if (!selected(stream_db_)) {
    ++stats_.skipped;
    return;
  }
  if (!transform_) return finish(stream_db_, args, emit);
  auto outs = transform_->command(stream_db_, args);  // selected on the source's names; then the script
  if (outs.empty()) {
    ++stats_.transformed_dropped;
    return;
  }
  stats_.transformed_added += outs.size() - 1;
  for (auto& out : outs) finish(out.db, out.args, emit);
}

void CommandTranslator::finish(int db, Command& args, const Emit& emit) {
  const std::string name = upper(args[0]);
  if (options_.relative_expiries || options_.ttl_extend_ms || !facts_.takes_pxat()) rewrite_expiry(args);
  if (!facts_.takes_pxat()) rewrite_for_old_target(name, args);
  if ((name == "EVAL" || name == "EVALSHA") && args.size() >= 3) note_script(name, args);
  ++stats_.commands;
  ++stats_.per_command[name];
  if (facts_.cluster && split_across_slots(upper(args[0]), db, args, emit)) return;
  emit(target_db(db), std::move(args));
}

bool CommandTranslator::split_across_slots(const std::string& name, int db, Command& args, const Emit& emit) {
  CommandKeys keys = command_keys(name, args);
  std::vector<size_t> all = keys.written;
  all.insert(all.end(), keys.read.begin(), keys.read.end());
  if (all.size() < 2) return false;
  const int first = key_slot(args[all.front()]);
  size_t other = 0;
  for (size_t i : all)
    if (key_slot(args[i]) != first) other = i;
  if (!other) return false;
  const bool pairs = name == "MSET" || name == "MSETNX";
  if (pairs || name == "DEL" || name == "UNLINK" || name == "TOUCH" || name == "EXISTS") {
    std::vector<std::pair<int, Command>> per_slot;  // in the order the slots first appear
    const size_t step = pairs ? 2 : 1;
    for (size_t i = 1; i + step - 1 < args.size(); i += step) {
      const int slot = key_slot(args[i]);
      auto it = std::find_if(per_slot.begin(), per_slot.end(), [slot](const auto& g) { return g.first == slot; });
      if (it == per_slot.end()) it = per_slot.insert(per_slot.end(), {slot, Command{args[0]}});
      for (size_t j = i; j < i + step; ++j) it->second.push_back(std::move(args[j]));
    }
    ++stats_.split;
    if (name == "MSETNX" && !noted_msetnx_split_) {
      noted_msetnx_split_ = true;
      stats_.note("MSETNX across slots of the cluster target is applied per slot: not atomic there (the source ran it, so "
                  "none of its keys existed)");
    }
    for (auto& [slot, command] : per_slot) emit(target_db(db), std::move(command));
    return true;
  }
  const bool script = name == "EVAL" || name == "EVALSHA" || name == "FCALL";
  throw FerryError(ExitCode::Failed,
                   fmt::format("{} names keys in different slots of the cluster target ('{}' in slot {}, '{}' in slot {}): "
                               "{} (the source is not a cluster, so it ran there)",
                               describe_command(args), log::printable(args[all.front()]), first, log::printable(args[other]),
                               key_slot(args[other]),
                               script ? "a script runs on one node, over keys of one slot"
                                      : "a cluster runs a command only over keys of one slot"));
}

// Commands a target before 6.2 lacks, as what it has, each as atomic as the original.
void CommandTranslator::rewrite_for_old_target(const std::string& name, Command& args) {
  if (name == "LMOVE" && args.size() == 5) {  // BLMOVE arrives as LMOVE: RPOPLPUSH, or a pop and push
    std::string from = upper(args[3]), to = upper(args[4]);
    if (from == "RIGHT" && to == "LEFT")
      args = {"RPOPLPUSH", args[1], args[2]};
    else
      args = {"EVAL", "local v = redis.call(ARGV[1], KEYS[1]) if v then redis.call(ARGV[2], KEYS[2], v) end return v",
              "2", args[1], args[2], from == "LEFT" ? "LPOP" : "RPOP", to == "LEFT" ? "LPUSH" : "RPUSH"};
  } else if (name == "COPY" && args.size() >= 3) {  // COPY src dst [DB n] [REPLACE]: DUMP and RESTORE in one script
    std::string db, replace;
    for (size_t i = 3; i < args.size(); ++i) {
      if (upper(args[i]) == "REPLACE") replace = "1";
      else if (upper(args[i]) == "DB" && i + 1 < args.size()) db = args[++i];
    }
    args = {"EVAL",
            "local v = redis.call('DUMP', KEYS[1]) if not v then return 0 end "
            "local ttl = redis.call('PTTL', KEYS[1]) if ttl < 0 then ttl = 0 end "
            "if ARGV[1] ~= '' then redis.call('SELECT', ARGV[1]) end "
            "if redis.call('EXISTS', KEYS[2]) == 1 then if ARGV[2] == '' then return 0 end redis.call('DEL', KEYS[2]) end "
            "redis.call('RESTORE', KEYS[2], ttl, v) return 1",
            "2", args[1], args[2], db, replace};
  } else if (name == "XGROUP" && args.size() == 5 && upper(args[1]) == "CREATECONSUMER") {
    // A consumer is created by reading its (empty) history; one that exists is left as it is.
    args = {"EVAL",
            "for _, c in ipairs(redis.call('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])) do "
            "if c[2] == ARGV[2] then return 0 end end "
            "redis.call('XREADGROUP', 'GROUP', ARGV[1], ARGV[2], 'COUNT', 1, 'STREAMS', KEYS[1], '0') return 1",
            "1", args[2], args[3], args[4]};
  }
}

// Only sources older than 7.0 with verbatim script replication send scripts: the target runs them
// again, so their outcome is not confirmed. The keys they declare are listed.
void CommandTranslator::note_script(const std::string& name, const Command& args) {
  ++stats_.unconfirmed_script_count;
  long long declared = std::atoll(args[2].c_str());
  for (long long k = 0; k < declared && 3 + k < static_cast<long long>(args.size()); ++k)
    if (stats_.unconfirmed_script_keys.size() < StreamStats::kMaxKeys)
      stats_.unconfirmed_script_keys.emplace_back(stream_db_, log::printable(args[3 + k]));
  if (stats_.unconfirmed_scripts.size() < 20) {
    std::string keys;
    long long numkeys = std::atoll(args[2].c_str());
    for (long long k = 0; k < numkeys && 3 + k < static_cast<long long>(args.size()); ++k)
      keys += " '" + log::printable(args[3 + k], 60) + "'";
    stats_.unconfirmed_scripts.push_back(fmt::format("DB {} {} keys:{}", stream_db_, name, keys.empty() ? " (none)" : keys));
  }
}

bool CommandTranslator::filter_keys(const std::string& name, Command& args) {
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
  stats_.note(fmt::format("DB {} {} mixes selected keys with excluded ones ({}): not applied, the selected keys it writes may "
                   "diverge",
                   stream_db_, describe_command(args), fmt::format("{}", fmt::join(excluded, ", "))));
  return false;
}

}  // namespace ferry
