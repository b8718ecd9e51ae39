// The transform (transform/transform.h) in front of the key sink, for decoded records (an RDB file,
// a replication snapshot, an AOF preamble): KeySink::input() is this stage when the task has a
// transform. Each selected key's records are held until its end, up to --big-key-threshold, so the
// script can see the value and return several records; then they are played into the sink under
// the name, DB and expiry the script gave (a replaced value as plain records, written natively). A
// bigger key is given to the script without its value when it outgrows the buffer, and streamed.
#pragma once

#include "rdb/rdb_parser.h"
#include "transform/transform.h"

#include <optional>
#include <string>
#include <vector>

namespace ferry {

class KeySink;

// Collects decoded records into the value a script sees: strings, lists, sets, sorted sets and
// hashes; none for streams, modules and hashes with field expiries.
class ValueCollector : public rdb::RdbVisitor {
 public:
  explicit ValueCollector(KeyType type) : type_(type) {}
  void on_string_chunk(std::string_view chunk) override { value_.string.append(chunk); }
  void on_list_items(std::vector<std::string>& v) override { append(v); }
  void on_set_members(std::vector<std::string>& v) override { append(v); }
  void on_zset_members(std::vector<std::pair<std::string, double>>& v) override {
    value_.scored.insert(value_.scored.end(), v.begin(), v.end());
  }
  void on_hash_fields(std::vector<FieldValue>& v) override { value_.fields.insert(value_.fields.end(), v.begin(), v.end()); }
  void on_hash_field_expiries(std::vector<std::pair<std::string, long long>>&) override { valueless_ = true; }
  void on_module_value(const std::string&) override { valueless_ = true; }
  std::optional<KeyValue> take();

 private:
  void append(const std::vector<std::string>& v) { value_.members.insert(value_.members.end(), v.begin(), v.end()); }
  KeyType type_;
  KeyValue value_;
  bool valueless_ = false;
};

// Plays a value (a script's) into a visitor as decoded records.
void play_value(rdb::RdbVisitor& to, KeyType type, KeyValue value);
// The RDB type byte of a value written as plain records.
uint8_t plain_rdb_type(KeyType type);

class KeyTransformStage : public rdb::RdbVisitor {
 public:
  KeyTransformStage(KeySink& sink, Transform& transform, size_t value_limit);

  void on_header(int version) override;
  void on_aux(const std::string& name, const std::string& value) override;
  void on_function(const std::string& code) override;
  void on_module_aux(const std::string& module_type) override;
  void on_trailing_bytes(uint64_t offset) override;
  size_t on_key_begin(const KeyInfo& key) override;
  void on_string_chunk(std::string_view chunk) override;
  void on_list_items(std::vector<std::string>& items) override;
  void on_set_members(std::vector<std::string>& members) override;
  void on_zset_members(std::vector<std::pair<std::string, double>>& members) override;
  void on_hash_fields(std::vector<FieldValue>& fields) override;
  void on_hash_field_expiries(std::vector<std::pair<std::string, long long>>& expiries) override;
  void on_stream_entries(std::vector<StreamEntry>& entries) override;
  void on_stream_meta(const StreamMeta& meta, uint64_t length) override;
  void on_stream_group(const StreamGroup& group) override;
  void on_stream_consumer(const std::string& group, const std::string& consumer) override;
  void on_stream_pending(const std::string& group, std::vector<StreamPendingEntry>& pending) override;
  void on_module_value(const std::string& module_type) override;
  void on_key_end(const KeyInfo& key, const std::string* raw) override;

 private:
  // One held record call.
  struct Piece {
    enum Kind { Chunk, List, Set, ZSet, Hash, HashExpiries, Entries, Meta, Group, Consumer, Pending, Module } kind;
    std::string text, name;
    std::vector<std::string> items;
    std::vector<std::pair<std::string, double>> scored;
    std::vector<FieldValue> fields;
    std::vector<std::pair<std::string, long long>> expiries;
    std::vector<StreamEntry> entries;
    StreamMeta meta;
    uint64_t length = 0;
    StreamGroup group;
    std::vector<StreamPendingEntry> pending;
  };
  enum class State { Skip, Hold, Pass };

  void hold(Piece piece, size_t bytes);
  void outgrown();
  static void play(Piece& piece, rdb::RdbVisitor& to);
  KeyInfo renamed(const KeyInfo& key, const KeyRecord& out) const;

  KeySink& sink_;
  Transform& transform_;
  size_t value_limit_;
  State state_ = State::Skip;
  KeyInfo key_;   // as the source has it
  KeyInfo out_;   // as it is written (State::Pass)
  std::vector<Piece> pieces_;
  size_t bytes_ = 0;
};

}  // namespace ferry
