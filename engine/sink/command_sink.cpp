#include "sink/command_sink.h"

#include "core/log.h"
#include "redis/command_keys.h"

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
  if (kind == RedisErrorKind::Oom && !key.empty() && stats_.oom_rejected.size() < StreamStats::kMaxKeys)
    stats_.oom_rejected.emplace_back(source_db, log::printable(key));
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
    fatal_ = fmt::format("{} rejected '{}': {} ({}); the target holds the stream up to offset {}", target_.describe(), what,
                         r.str, explain_error(kind), applied_offset_);
}

void CommandSink::send(int db, std::vector<std::string> args, bool in_transaction) {
  const std::string key = routing_key(args);
  // The command as the messages name it (name, key and a little more): kept until its reply.
  std::string what = fmt::format("DB {} {}", db, describe_command(args));
  const bool script = is_script(ascii_upper(args[0]));
  Pipeline& pipe = target_.pipeline_for(db, key);
  if (in_transaction) {  // errors inside a transaction come with EXEC
    pipe.send(args, [](Reply&&) {});
    return;
  }
  pipe.send(args, [this, what = std::move(what), source_db = stream_db(), key, script](Reply&& r) {
    on_reply(what, source_db, key, script, std::move(r));
  });
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
  translator_.translate(args, [this](int db, std::vector<std::string> out) {
    if (out.size() >= 4 && ascii_upper(out[0]) == "RESTORE") {
      restore(db, out);
    } else {
      send(db, std::move(out), false);
    }
  });
  if (auto hb = translator_.take_heartbeat()) heartbeat_ = Heartbeat{*hb, end_offset};
  pending_offset_ = end_offset;
}

// Each queued command goes through the same rules as a single one; what they produce for the
// target becomes one transaction there.
void CommandSink::apply_transaction(long long end_offset) {
  in_multi_ = false;
  std::vector<std::pair<int, std::vector<std::string>>> body;
  for (auto& cmd : multi_)
    translator_.translate(cmd, [&body](int db, std::vector<std::string> out) { body.emplace_back(db, std::move(out)); });
  multi_.clear();
  if (auto hb = translator_.take_heartbeat()) heartbeat_ = Heartbeat{*hb, end_offset};
  pending_offset_ = end_offset;
  if (body.empty()) return;
  ++stats_.transactions;
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
  return applied_offset_;
}

}  // namespace ferry
