#include "sink/key_transform.h"

#include "rdb/format.h"
#include "sink/key_sink.h"

namespace ferry {

std::optional<KeyValue> ValueCollector::take() {
  if (valueless_ || type_ == KeyType::Stream) return std::nullopt;
  return std::move(value_);
}

void play_value(rdb::RdbVisitor& to, KeyType type, KeyValue value) {
  switch (type) {
    case KeyType::String: return to.on_string_chunk(value.string);
    case KeyType::List: return to.on_list_items(value.members);
    case KeyType::Set: return to.on_set_members(value.members);
    case KeyType::ZSet: return to.on_zset_members(value.scored);
    case KeyType::Hash: return to.on_hash_fields(value.fields);
    case KeyType::Stream: return;
  }
}

uint8_t plain_rdb_type(KeyType type) {
  switch (type) {
    case KeyType::String: return rdb::kTypeString;
    case KeyType::List: return rdb::kTypeList;
    case KeyType::Set: return rdb::kTypeSet;
    case KeyType::ZSet: return rdb::kTypeZset2;
    case KeyType::Hash: return rdb::kTypeHash;
    case KeyType::Stream: return rdb::kTypeStreamListpacks;
  }
  return rdb::kTypeString;
}

KeyTransformStage::KeyTransformStage(KeySink& sink, Transform& transform, size_t value_limit)
    : sink_(sink), transform_(transform), value_limit_(value_limit) {}

void KeyTransformStage::on_header(int version) { sink_.on_header(version); }
void KeyTransformStage::on_aux(const std::string& name, const std::string& value) { sink_.on_aux(name, value); }
void KeyTransformStage::on_function(const std::string& code) { sink_.on_function(code); }
void KeyTransformStage::on_module_aux(const std::string& module_type) { sink_.on_module_aux(module_type); }
void KeyTransformStage::on_trailing_bytes(uint64_t offset) { sink_.on_trailing_bytes(offset); }

size_t KeyTransformStage::on_key_begin(const KeyInfo& key) {
  pieces_.clear();
  bytes_ = 0;
  state_ = sink_.admit(key) ? State::Hold : State::Skip;
  key_ = key;
  return state_ == State::Hold ? value_limit_ : 0;
}

KeyInfo KeyTransformStage::renamed(const KeyInfo& key, const KeyRecord& out) const {
  KeyInfo k = key;
  k.db = out.db;
  k.key = out.key;
  k.expire_ms = out.expire_ms;
  if (out.value) {
    k.type = out.type;
    k.rdb_type = plain_rdb_type(out.type);
    k.empty = out.type != KeyType::String && out.value->bytes() == 0;
  }
  return k;
}

void KeyTransformStage::hold(Piece piece, size_t bytes) {
  if (state_ == State::Skip) return;
  if (state_ == State::Pass) return play(piece, sink_);
  pieces_.push_back(std::move(piece));
  bytes_ += bytes;
  if (bytes_ > value_limit_) outgrown();
}

// The key is bigger than a script gets to see: it is renamed, moved or dropped without its value,
// and streamed into the sink from here on.
void KeyTransformStage::outgrown() {
  KeyRecord in{key_.db, key_.key, key_.type, key_.expire_ms, std::nullopt};
  auto outs = transform_.key(in, nullptr, false);
  if (outs.empty()) {
    sink_.transform_dropped();
    state_ = State::Skip;
    pieces_.clear();
    return;
  }
  out_ = renamed(key_, outs.front());
  state_ = State::Pass;
  sink_.route(out_);
  for (auto& p : pieces_) play(p, sink_);
  pieces_.clear();
}

void KeyTransformStage::on_key_end(const KeyInfo& key, const std::string* raw) {
  if (state_ == State::Skip) return sink_.on_key_end(key, nullptr);  // progress only
  if (state_ == State::Pass) {
    KeyInfo out = out_;
    out.end_offset = key.end_offset;
    out.empty = key.empty;
    return sink_.on_key_end(out, raw);
  }
  KeyRecord in{key.db, key.key, key.type, key.expire_ms, std::nullopt};
  Transform::ValueLoader load = [&]() -> std::optional<KeyValue> {
    ValueCollector collect(key.type);
    for (const auto& p : pieces_) {
      Piece copy = p;
      play(copy, collect);
    }
    return collect.take();
  };
  auto outs = transform_.key(in, load, true);
  if (outs.empty()) {
    sink_.transform_dropped();
    return sink_.on_key_end(key, nullptr);
  }
  sink_.transform_added(outs.size() - 1);
  for (size_t i = 0; i < outs.size(); ++i) {
    const bool last = i + 1 == outs.size();
    KeyInfo out = renamed(key, outs[i]);
    sink_.route(out);
    if (outs[i].value) {
      play_value(sink_, out.type, std::move(*outs[i].value));
      sink_.on_key_end(out, nullptr);
      continue;
    }
    if (last) {
      for (auto& p : pieces_) play(p, sink_);
    } else {
      for (const auto& p : pieces_) {
        Piece copy = p;
        play(copy, sink_);
      }
    }
    sink_.on_key_end(out, raw);
  }
}

void KeyTransformStage::play(Piece& p, rdb::RdbVisitor& to) {
  switch (p.kind) {
    case Piece::Chunk: return to.on_string_chunk(p.text);
    case Piece::List: return to.on_list_items(p.items);
    case Piece::Set: return to.on_set_members(p.items);
    case Piece::ZSet: return to.on_zset_members(p.scored);
    case Piece::Hash: return to.on_hash_fields(p.fields);
    case Piece::HashExpiries: return to.on_hash_field_expiries(p.expiries);
    case Piece::Entries: return to.on_stream_entries(p.entries);
    case Piece::Meta: return to.on_stream_meta(p.meta, p.length);
    case Piece::Group: return to.on_stream_group(p.group);
    case Piece::Consumer: return to.on_stream_consumer(p.name, p.text);
    case Piece::Pending: return to.on_stream_pending(p.name, p.pending);
    case Piece::Module: return to.on_module_value(p.text);
  }
}

void KeyTransformStage::on_string_chunk(std::string_view chunk) {
  Piece p{Piece::Chunk};
  p.text = std::string(chunk);
  hold(std::move(p), chunk.size());
}

void KeyTransformStage::on_list_items(std::vector<std::string>& items) {
  size_t bytes = 0;
  for (const auto& i : items) bytes += i.size() + 8;
  Piece p{Piece::List};
  p.items = std::move(items);
  hold(std::move(p), bytes);
}

void KeyTransformStage::on_set_members(std::vector<std::string>& members) {
  size_t bytes = 0;
  for (const auto& i : members) bytes += i.size() + 8;
  Piece p{Piece::Set};
  p.items = std::move(members);
  hold(std::move(p), bytes);
}

void KeyTransformStage::on_zset_members(std::vector<std::pair<std::string, double>>& members) {
  size_t bytes = 0;
  for (const auto& [m, s] : members) bytes += m.size() + 16;
  Piece p{Piece::ZSet};
  p.scored = std::move(members);
  hold(std::move(p), bytes);
}

void KeyTransformStage::on_hash_fields(std::vector<FieldValue>& fields) {
  size_t bytes = 0;
  for (const auto& [f, v] : fields) bytes += f.size() + v.size() + 8;
  Piece p{Piece::Hash};
  p.fields = std::move(fields);
  hold(std::move(p), bytes);
}

void KeyTransformStage::on_hash_field_expiries(std::vector<std::pair<std::string, long long>>& expiries) {
  Piece p{Piece::HashExpiries};
  const size_t bytes = expiries.size() * 16;
  p.expiries = std::move(expiries);
  hold(std::move(p), bytes);
}

void KeyTransformStage::on_stream_entries(std::vector<StreamEntry>& entries) {
  size_t bytes = 0;
  for (const auto& e : entries)
    for (const auto& x : e.fields_values) bytes += x.size() + 8;
  Piece p{Piece::Entries};
  p.entries = std::move(entries);
  hold(std::move(p), bytes);
}

void KeyTransformStage::on_stream_meta(const StreamMeta& meta, uint64_t length) {
  Piece p{Piece::Meta};
  p.meta = meta;
  p.length = length;
  hold(std::move(p), 64);
}

void KeyTransformStage::on_stream_group(const StreamGroup& group) {
  Piece p{Piece::Group};
  p.group = group;
  hold(std::move(p), 64 + group.name.size());
}

void KeyTransformStage::on_stream_consumer(const std::string& group, const std::string& consumer) {
  Piece p{Piece::Consumer};
  p.name = group;
  p.text = consumer;
  hold(std::move(p), 64);
}

void KeyTransformStage::on_stream_pending(const std::string& group, std::vector<StreamPendingEntry>& pending) {
  Piece p{Piece::Pending};
  p.name = group;
  const size_t bytes = pending.size() * 48;
  p.pending = std::move(pending);
  hold(std::move(p), bytes);
}

void KeyTransformStage::on_module_value(const std::string& module_type) {
  Piece p{Piece::Module};
  p.text = module_type;
  hold(std::move(p), 0);
}

}  // namespace ferry
