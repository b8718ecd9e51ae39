#include "sink/native_writer.h"

#include "core/log.h"
#include "target/cluster_slots.h"

#include <fmt/format.h>
#include <unistd.h>

#include <memory>

namespace ferry {
namespace {
// A crashed ferry must not leave temporary keys forever: they expire after a day unless committed.
constexpr long long kTempKeySafetyTtlMs = 24LL * 3600 * 1000;
}  // namespace

NativeWriter::NativeWriter(Target& target) : target_(target), facts_(target.facts()) {}

void NativeWriter::begin(int db, const std::string& key, KeyType type) {
  db_ = db;
  key_ = key;
  type_ = type;
  created_ = false;
  first_error_.reset();
  first_error_kind_.reset();
  dropped_pending_ = 0;
  bytes_ = 0;
  if (in_place_) {
    temp_ = key;
    pipe_ = &target_.pipeline_for(db_, key_);
    return;
  }
  // In the key's slot (its hash tag's), so that the RENAME onto it stays on one cluster node.
  temp_ = fmt::format("ferry:tmp:{{{}}}:{}:{}", tag_for_slot(key_slot(key)), getpid(), ++counter_);
  pipe_ = &target_.pipeline_for(db_, key_);
  pipe_->send({"DEL", temp_});  // a leftover of an earlier run with the same pid
}

void NativeWriter::note_reply(const Reply& r) {
  if (r.is_error() && !first_error_) {
    first_error_ = r.str;
    first_error_kind_ = classify_error(r.str);
  }
}

void NativeWriter::send(Args args) {
  for (size_t i = 2; i < args.size(); ++i) bytes_ += args[i].size();
  pipe_ = &target_.pipeline_for(db_, key_);  // selects db_ again if another writer selected another DB
  pipe_->send(args, [this](Reply&& r) { note_reply(r); });
  if (!created_) {
    created_ = true;
    if (!in_place_) pipe_->send({"PEXPIRE", temp_, std::to_string(kTempKeySafetyTtlMs)}, [](Reply&&) {});
  }
}

void NativeWriter::string_chunk(std::string_view bytes) {
  send({created_ ? "APPEND" : "SET", temp_, std::string(bytes)});
}

void NativeWriter::list_items(const std::vector<std::string>& items) {
  if (items.empty()) return;
  Args a{"RPUSH", temp_};
  a.insert(a.end(), items.begin(), items.end());
  send(std::move(a));
}

void NativeWriter::set_members(const std::vector<std::string>& members) {
  if (members.empty()) return;
  Args a{"SADD", temp_};
  a.insert(a.end(), members.begin(), members.end());
  send(std::move(a));
}

void NativeWriter::zset_members(const std::vector<FieldValue>& member_score) {
  if (member_score.empty()) return;
  Args a{"ZADD", temp_};
  for (const auto& [member, score] : member_score) {
    a.push_back(score);
    a.push_back(member);
  }
  send(std::move(a));
}

void NativeWriter::hash_fields(const std::vector<FieldValue>& fields) {
  if (fields.empty()) return;
  Args a{"HSET", temp_};
  for (const auto& [f, v] : fields) {
    a.push_back(f);
    a.push_back(v);
  }
  send(std::move(a));
}

void NativeWriter::hash_field_expiries(const std::vector<std::pair<std::string, long long>>& expiries) {
  if (!expiries.empty() && !facts_.takes_field_expiry())
    throw UnsupportedValue(fmt::format("hash fields with their own expiry need Redis 7.4+, and the target runs {}",
                                       facts_.version_string));
  for (const auto& [field, at] : expiries) send({"HPEXPIREAT", temp_, std::to_string(at), "FIELDS", "1", field});
}

void NativeWriter::stream_entries(const std::vector<StreamEntry>& entries) {
  for (const auto& e : entries) {
    Args a{"XADD", temp_, e.id};
    a.insert(a.end(), e.fields_values.begin(), e.fields_values.end());
    send(std::move(a));
  }
}

void NativeWriter::ensure_stream_exists() {
  if (created_) return;
  // An empty stream can only be made through MKSTREAM; the helper group goes again at once.
  send({"XGROUP", "CREATE", temp_, "ferry:mkstream", "0", "MKSTREAM"});
  send({"XGROUP", "DESTROY", temp_, "ferry:mkstream"});
}

void NativeWriter::stream_meta(const StreamMeta& meta) {
  ensure_stream_exists();
  Args a{"XSETID", temp_, meta.last_id};
  if (facts_.version >= 70000) {
    if (meta.entries_added) {
      a.push_back("ENTRIESADDED");
      a.push_back(std::to_string(*meta.entries_added));
    }
    if (meta.max_deleted_id) {
      a.push_back("MAXDELETEDID");
      a.push_back(*meta.max_deleted_id);
    }
  }
  send(std::move(a));
}

void NativeWriter::stream_group(const StreamGroup& group) {
  ensure_stream_exists();
  Args a{"XGROUP", "CREATE", temp_, group.name, group.last_delivered_id};
  if (facts_.version >= 70000 && group.entries_read) {
    a.push_back("ENTRIESREAD");
    a.push_back(std::to_string(*group.entries_read));
  }
  send(std::move(a));
}

void NativeWriter::stream_consumer(const std::string& group, const std::string& consumer) {
  if (facts_.takes_pxat()) return send({"XGROUP", "CREATECONSUMER", temp_, group, consumer});
  // Before 6.2: reading the (empty) history of a consumer creates it, and delivers nothing.
  send({"XREADGROUP", "GROUP", group, consumer, "COUNT", "1", "STREAMS", temp_, "0"});
}

void NativeWriter::stream_pending(const std::string& group, const std::vector<StreamPendingEntry>& pending) {
  pipe_ = &target_.pipeline_for(db_, key_);
  for (const auto& p : pending) {
    // FORCE puts the id into the PEL; IDLE and RETRYCOUNT restore its delivery time and count.
    pipe_->send({"XCLAIM", temp_, group, p.consumer, "0", p.id, "IDLE", std::to_string(p.idle_ms), "RETRYCOUNT",
                 std::to_string(p.deliveries), "FORCE", "JUSTID"},
                [this](Reply&& r) {
                  note_reply(r);
                  if (r.is_array() && r.elements.empty()) ++dropped_pending_;  // the message was deleted from the stream
                });
  }
}

void NativeWriter::check_error() {
  if (!first_error_) return;
  std::string message = fmt::format("writing {} key '{}' to {} failed: {}", key_type_name(type_), log::printable(key_),
                                    target_.describe(), *first_error_);
  RedisErrorKind kind = *first_error_kind_;
  abort();
  throw CommandError(kind, message);
}

WriteOutcome NativeWriter::commit(std::optional<long long> abs_expire_ms, bool replace) {
  pipe_ = &target_.pipeline_for(db_, key_);
  pipe_->drain();
  check_error();
  if (!created_) return WriteOutcome::Gone;
  if (dropped_pending_)
    log::warn("stream '{}': {} pending entries refer to deleted messages and cannot be recreated", log::printable(key_),
              dropped_pending_);
  if (in_place_) {
    if (abs_expire_ms) pipe_->send({"PEXPIREAT", key_, std::to_string(*abs_expire_ms)}, [](Reply&&) {});
    else pipe_->send({"PERSIST", key_}, [](Reply&&) {});
    pipe_->drain();
    created_ = false;
    return WriteOutcome::Written;
  }
  auto exec_reply = std::make_shared<Reply>();  // outlives this frame if an exception unwinds it
  auto multi_error = std::make_shared<std::string>();
  pipe_->send({"MULTI"}, [multi_error](Reply&& r) {
    if (r.is_error()) *multi_error = r.str;
  });
  if (abs_expire_ms) pipe_->send({"PEXPIREAT", temp_, std::to_string(*abs_expire_ms)}, [](Reply&&) {});
  else pipe_->send({"PERSIST", temp_}, [](Reply&&) {});
  pipe_->send({replace ? "RENAME" : "RENAMENX", temp_, key_}, [](Reply&&) {});
  pipe_->send({"EXEC"}, [exec_reply](Reply&& r) { *exec_reply = std::move(r); });
  pipe_->drain();
  if (!multi_error->empty()) {  // without MULTI the RENAME ran on its own: report, never guess
    abort();
    throw CommandError(classify_error(*multi_error), fmt::format("MULTI on {} failed while moving key '{}' into place: {}",
                                                                 target_.describe(), log::printable(key_),
                                                                 *multi_error));
  }
  Reply& exec = *exec_reply;
  if (exec.is_error() || !exec.is_array() || exec.elements.size() != 2) {
    std::string why = exec.is_error() ? exec.str : exec.summary();
    abort();
    throw CommandError(classify_error(why), fmt::format("moving key '{}' into place on {} failed: {}", log::printable(key_),
                                                        target_.describe(), why));
  }
  const Reply& renamed = exec.elements[1];
  if (renamed.is_error()) {
    abort();
    // The expiry passed between the check and EXEC: the temp key expired away.
    if (renamed.str.find("no such key") != std::string::npos) return WriteOutcome::Gone;
    throw CommandError(classify_error(renamed.str),
                       fmt::format("moving key '{}' into place on {} failed: {}", log::printable(key_),
                                   target_.describe(), renamed.str));
  }
  if (!replace && renamed.is_integer() && renamed.integer == 0) {
    abort();
    return WriteOutcome::Conflict;
  }
  created_ = false;
  return WriteOutcome::Written;
}

void NativeWriter::abort() {
  if (temp_.empty() || in_place_ || !pipe_) return;
  pipe_ = &target_.pipeline_for(db_, key_);
  pipe_->send({"DEL", temp_}, [](Reply&&) {});
  pipe_->drain();
  created_ = false;
}

}  // namespace ferry
