#include "sink/command_sink.h"

#include "core/log.h"
#include "redis/command_keys.h"
#include "target/cluster_slots.h"

#include <set>

#include <fmt/format.h>

namespace ferry {
namespace {

// The key a command is routed by: its first key, or none.
std::string routing_key(const std::vector<std::string>& args) {
  if (args.empty()) return {};
  CommandKeys keys = command_keys(ascii_upper(args[0]), args);
  if (!keys.written.empty()) return args[keys.written.front()];
  if (!keys.read.empty()) return args[keys.read.front()];
  return {};
}

bool is_script(const std::string& upper_name) { return upper_name == "EVAL" || upper_name == "EVALSHA"; }

// The keys a command names, each once.
size_t distinct_keys(const std::vector<std::string>& args) {
  CommandKeys keys = command_keys(ascii_upper(args[0]), args);
  std::set<std::string_view> names;
  for (size_t i : keys.written) names.insert(args[i]);
  for (size_t i : keys.read) names.insert(args[i]);
  return names.size();
}

// The slots of a command's keys (none for a keyless command).
std::set<int> slots_of(const std::vector<std::string>& args) {
  CommandKeys keys = command_keys(ascii_upper(args[0]), args);
  std::set<int> out;
  for (size_t i : keys.written) out.insert(key_slot(args[i]));
  for (size_t i : keys.read) out.insert(key_slot(args[i]));
  return out;
}

// Keyless commands a cluster runs on each master for its own keys (or scripts): FLUSHALL, FLUSHDB,
// SCRIPT, FUNCTION. Others (PUBLISH) go to one node.
bool every_master(const std::string& name) {
  return name == "FLUSHALL" || name == "FLUSHDB" || name == "SCRIPT" || name == "FUNCTION";
}

KeySinkOptions restore_options(const StreamOptions& o) {
  KeySinkOptions k;
  k.copy.skip_unsupported = o.skip_unsupported;
  return k;
}

}  // namespace

CommandSink::CommandSink(Target& target, StreamOptions options, MigrationReport& report, StreamStats& stats,
                         std::function<long long()> now_ms)
    : target_(target),
      stats_(stats),
      translator_(options, target.facts(), stats, std::move(now_ms)),
      options_cross_slot_(options.cross_slot),
      restores_(std::make_unique<KeySink>(target, restore_options(options), report)) {}

void CommandSink::target_replaced() {
  in_multi_ = false;
  multi_.clear();
  fatal_.reset();
}

void CommandSink::discard_open_transaction() {
  in_multi_ = false;
  multi_.clear();
}

void CommandSink::on_reply(const std::string& what, int source_db, const std::string& key, bool script, Reply&& r) {
  if (!r.is_error()) return;
  auto kind = classify_error(r.str);
  if (kind == RedisErrorKind::Oom) {
    ++stats_.oom_refused;
    if (!key.empty() && stats_.oom_rejected.size() < StreamStats::kMaxKeys)
      stats_.oom_rejected.emplace_back(source_db, log::printable(key));
  }
  const bool fatal = stops_writing(kind, r.str);
  if (script && !fatal && r.str.rfind("NOSCRIPT", 0) != 0) {
    // A replayed script that ended with an error (whatever its class: WRONGTYPE, ERR ...): the
    // source replicated it because it wrote before failing the same way. Its keys are unconfirmed.
    ++stats_.script_errors;
    stats_.note(fmt::format("{} (a script replicated verbatim) ended with an error on {} as the source's run did: {}",
                            what, target_.describe(), r.str));
    return;
  }
  ++stats_.errors;
  if (r.str.rfind("NOSCRIPT", 0) == 0) {
    stats_.note(fmt::format("{}: the target does not have this script (NOSCRIPT): not applied", what));
    return;
  }
  stats_.note(fmt::format("{} failed on {}: {}", what, target_.describe(), r.str));
  if (!fatal_ && fatal)
    fatal_ = fmt::format("{} {} '{}': {} ({}); the target holds the stream up to offset {}", target_.describe_for(key),
                         kind == RedisErrorKind::Oom ? "is out of memory at" : "rejected", what, r.str, explain_error(kind),
                         applied_offset_);
}

void CommandSink::send(int db, std::vector<std::string> args, bool in_transaction) {
  const std::string key = routing_key(args);
  // The command as the messages name it (name, key and a little more): kept until its reply.
  std::string what = fmt::format("DB {} {}", db, describe_command(args));
  const std::string name = ascii_upper(args[0]);
  const bool script = is_script(name);
  if (key.empty() && target_.facts().cluster && !in_transaction && every_master(name)) {
    // FLUSHALL, FLUSHDB, SCRIPT, FUNCTION: every master holds keys (or runs scripts).
    for (Pipeline* pipe : target_.every_pipeline(db))
      pipe->send(args, [this, what, source_db = stream_db(), script](Reply&& r) {
        on_reply(what, source_db, {}, script, std::move(r));
      });
    return;
  }
  Pipeline& pipe = target_.pipeline_for(db, name == "SPUBLISH" && args.size() > 1 ? args[1] : key);
  if (in_transaction) {  // errors inside a transaction come with EXEC
    pipe.send(args, [](Reply&&) {});
    return;
  }
  const bool fence = target_.facts().cluster && distinct_keys(args) > 1;
  pipe.send(args, [this, what = std::move(what), source_db = stream_db(), key, script](Reply&& r) {
    on_reply(what, source_db, key, script, std::move(r));
  });
  // A multi-key command answered TRYAGAIN (its slot migrating) is sent again: nothing for its node
  // may go before that, or a later write to one of its keys would be overtaken.
  if (fence) target_.drain();
}

void CommandSink::restore(int db, std::vector<std::string>& args) {
  KeyInfo key = KeyInfo::named(stream_db(), args[1]);  // before args is moved from
  restores_->restore(key, db, std::move(args));
}

void CommandSink::apply(std::vector<std::string>& args, long long end_offset) {
  if (fatal_) throw FerryError(ExitCode::Failed, *fatal_);
  if (restores_->fatal()) throw FerryError(ExitCode::Failed, *restores_->fatal());
  if (args.empty()) return;
  std::string name = ascii_upper(args[0]);
  if (name == "MULTI") {
    in_multi_ = true;  // the target holds nothing new until EXEC: the offset stays
    multi_.clear();
    return;
  }
  if (name == "EXEC") return apply_transaction(end_offset);
  if (in_multi_) {
    multi_.push_back(std::move(args));
    return;
  }
  if (moves_) wait_for_moves(&args, 1);
  try {
    translator_.translate(args, [this](int db, std::vector<std::string> out) {
      if (out.size() >= 4 && ascii_upper(out[0]) == "RESTORE") {
        restore(db, out);
      } else {
        send(db, std::move(out), false);
      }
    });
  } catch (const LinkError&) {
    throw;  // a broken connection is the caller's to recover (reconnect, resync), not a stop
  } catch (const FerryError& e) {
    throw stopped_at(e, end_offset);
  }
  if (auto hb = translator_.take_heartbeat()) heartbeat_ = Heartbeat{*hb, end_offset};
  pending_offset_ = end_offset;
  if (moves_ && moves_->flush_wanted(shard_)) flush();  // another shard's RESTORE waits for this one
}

void CommandSink::wait_for_moves(const std::vector<std::string>* commands, size_t count) {
  std::vector<std::string_view> keys;
  for (size_t c = 0; c < count; ++c) {
    const auto& args = commands[c];
    if (args.empty()) continue;
    CommandKeys k = command_keys(ascii_upper(args[0]), args);
    for (size_t i : k.written) keys.push_back(args[i]);
    for (size_t i : k.read) keys.push_back(args[i]);
  }
  moves_->before_write(shard_, keys);
}

FerryError CommandSink::stopped_at(const FerryError& e, long long end_offset) const {
  return FerryError(e.code(), fmt::format("{} (the command ending at stream offset {}; the stream before it, up to offset "
                                          "{}, went to the target)",
                                          e.what(), end_offset, pending_offset_));
}

// Each queued command goes through the same rules as a single one; what they produce for the
// target becomes one transaction there.
void CommandSink::apply_transaction(long long end_offset) {
  in_multi_ = false;
  if (moves_) wait_for_moves(multi_.data(), multi_.size());
  Body body;
  try {
    for (auto& cmd : multi_)
      translator_.translate(cmd, [&body](int db, std::vector<std::string> out) { body.emplace_back(db, std::move(out)); });
  } catch (const LinkError&) {
    multi_.clear();
    throw;
  } catch (const FerryError& e) {
    multi_.clear();
    throw stopped_at(e, end_offset);
  }
  multi_.clear();
  if (auto hb = translator_.take_heartbeat()) heartbeat_ = Heartbeat{*hb, end_offset};
  dispatch_transaction(std::move(body), end_offset);
  // Only now: a transaction that stops the task is not part of what the target holds.
  pending_offset_ = end_offset;
  if (moves_ && moves_->flush_wanted(shard_)) flush();
}

void CommandSink::dispatch_transaction(Body body, long long end_offset) {
  if (body.empty()) return;
  ++stats_.transactions;
  if (!target_.facts().cluster) return send_transaction(std::move(body));

  // A cluster runs a transaction on one node, over keys of one slot.
  // -1: a command for every master (FLUSHALL ...). A keyless command that one node serves for the
  // whole cluster (PUBLISH: the cluster bus carries it to every node) goes with the slot before it
  // (the first slot when it leads; -2, any node, when nothing in the transaction names a key).
  std::vector<int> slot_of(body.size());
  int first_slot = -2;
  for (size_t i = 0; i < body.size(); ++i) {
    const std::set<int> slots = slots_of(body[i].second);
    slot_of[i] = !slots.empty() ? *slots.begin() : every_master(ascii_upper(body[i].second[0])) ? -1 : -2;
    if (first_slot == -2 && slot_of[i] >= 0) first_slot = slot_of[i];
  }
  int last = first_slot;
  for (size_t i = 0; i < body.size(); ++i) {
    if (slot_of[i] == -2) slot_of[i] = last;
    else if (slot_of[i] >= 0) last = slot_of[i];
  }
  std::vector<std::pair<int, Body>> per_slot;
  for (size_t i = 0; i < body.size(); ++i) {
    auto& [db, cmd] = body[i];
    const int slot = slot_of[i];
    auto it = std::find_if(per_slot.begin(), per_slot.end(), [slot](const auto& g) { return g.first == slot; });
    if (it == per_slot.end()) it = per_slot.insert(per_slot.end(), {slot, Body{}});
    it->second.emplace_back(db, cmd);
  }
  if (first_slot == -2) {  // keyless only (FLUSHALL, PUBLISH): each where it belongs, as outside
    for (auto& [db, cmd] : body) send(db, std::move(cmd), false);
    return;
  }
  if (per_slot.size() == 1) {
    const bool fence = body.size() > 1;
    send_transaction(std::move(body));
    if (fence) target_.drain();  // a TRYAGAIN is sent again before anything else reaches that node
    return;
  }
  if (options_cross_slot_ == CrossSlot::Stop) {
    std::string slots;
    for (const auto& [slot, cmds] : per_slot)
      slots += fmt::format("{}{}", slots.empty() ? "" : ", ",
                           slot < 0 ? describe_command(cmds.front().second) + " (every master)"
                                    : fmt::format("{} in slot {}", describe_command(cmds.front().second), slot));
    throw stopped_at(FerryError(ExitCode::Failed,
                                fmt::format("a MULTI/EXEC of {} commands spans {} slots of the cluster target ({}): a "
                                            "cluster runs a transaction over keys of one slot; --cross-slot split applies "
                                            "it as one transaction per slot (not atomic)",
                                            body.size(), per_slot.size(), slots)),
                     end_offset);
  }
  ++stats_.split;
  if (stats_.split == 1)
    stats_.note("--cross-slot split: a transaction spanning slots of the cluster target was applied as one transaction per "
                "slot (not atomic across them)");
  for (auto& [slot, cmds] : per_slot) {
    if (slot < 0) {
      for (auto& [db, cmd] : cmds) send(db, std::move(cmd), false);
      continue;
    }
    send_transaction(std::move(cmds));
  }
  target_.drain();
}

void CommandSink::send_transaction(Body body) {
  // SELECT before MULTI: inside, a SELECT only runs if EXEC does.
  Pipeline& pipe = target_.pipeline_for(body.front().first, routing_key(body.front().second));
  pipe.send({"MULTI"}, [](Reply&&) {});
  std::vector<bool> scripts;
  for (auto& [db, cmd] : body) {
    scripts.push_back(is_script(ascii_upper(cmd[0])));
    send(db, std::move(cmd), true);
  }
  const int last_db = body.back().first;
  std::string what = fmt::format("EXEC of a transaction ending in DB {}", last_db);
  pipe.send({"EXEC"}, [this, what, scripts, p = &pipe](Reply&& r) {
    if (r.is_error()) {  // EXECABORT: nothing ran, not even the SELECTs inside
      target_.forget_selected_db(*p);
      ++stats_.errors;
      stats_.note(fmt::format("{} failed on {}: {}", what, target_.describe(), r.str));
      if (!fatal_) fatal_ = fmt::format("{} rejected a transaction: {}", target_.describe(), r.str);
      return;
    }
    size_t i = 0;
    for (const auto& element : r.elements) {
      const bool script = i < scripts.size() && scripts[i];
      ++i;
      if (!element.is_error()) continue;
      auto kind = classify_error(element.str);
      if (script && !stops_writing(kind, element.str) && element.str.rfind("NOSCRIPT", 0) != 0) {
        ++stats_.script_errors;
        stats_.note(fmt::format("a script in {} ended with an error on {} as the source's run did: {}", what,
                                target_.describe(), element.str));
        continue;
      }
      ++stats_.errors;
      stats_.note(fmt::format("a command in {} failed on {}: {}", what, target_.describe(), element.str));
      if (!fatal_ && (stops_writing(kind, element.str) || kind == RedisErrorKind::BadPayload))
        fatal_ = fmt::format("{} rejected a command inside a transaction: {}", target_.describe(), element.str);
    }
  });
}

long long CommandSink::flush() {
  restores_->flush();
  if (fatal_) throw FerryError(ExitCode::Failed, *fatal_);
  if (restores_->fatal()) throw FerryError(ExitCode::Failed, *restores_->fatal());
  applied_offset_ = pending_offset_;
  if (moves_) moves_->applied(shard_, applied_offset_);
  return applied_offset_;
}

}  // namespace ferry
