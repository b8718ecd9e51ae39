// A streaming RDB parser: reads any RDB (versions 1-12, Valkey 80) from a byte source and calls a
// visitor with what it finds. Big values arrive in chunks (strings by the MB, collections by the
// thousand elements): a value is never held whole, except the compact blobs (ziplist, listpack,
// intset) Redis itself stores as one piece. Parsing is separate from applying: visitors write
// to a target (import), count (inspect) or compare (tests).
#pragma once

#include "io/byte_source.h"
#include "model/key_record.h"
#include "rdb/rdb_input.h"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace ferry::rdb {

class RdbVisitor {
 public:
  virtual ~RdbVisitor() = default;
  virtual void on_header(int version) {}
  virtual void on_aux(const std::string& name, const std::string& value) {}
  virtual void on_select_db(int db) {}
  virtual void on_resize_db(uint64_t keys, uint64_t expires) {}
  virtual void on_slot_info(uint64_t slot, uint64_t keys, uint64_t expires) {}
  virtual void on_function(const std::string& code) {}
  virtual void on_module_aux(const std::string& module_type) {}

  // A key starts. Return how many bytes of the value's raw encoding to keep for on_key_end
  // (0: none); a value bigger than that is not kept.
  virtual size_t on_key_begin(const KeyInfo& key) { return 0; }
  virtual void on_string_chunk(std::string_view chunk) {}  // at least one call, maybe empty
  virtual void on_list_items(std::vector<std::string>& items) {}
  virtual void on_set_members(std::vector<std::string>& members) {}
  virtual void on_zset_members(std::vector<std::pair<std::string, double>>& members) {}
  virtual void on_hash_fields(std::vector<FieldValue>& fields) {}
  // Fields with their own expiry (Redis 7.4+ hashes), absolute ms; sent after their fields.
  virtual void on_hash_field_expiries(std::vector<std::pair<std::string, long long>>& expiries) {}
  virtual void on_stream_entries(std::vector<StreamEntry>& entries) {}
  virtual void on_stream_meta(const StreamMeta& meta, uint64_t length) {}
  virtual void on_stream_group(const StreamGroup& group) {}
  virtual void on_stream_consumer(const std::string& group, const std::string& consumer) {}
  virtual void on_stream_pending(const std::string& group, std::vector<StreamPendingEntry>& pending) {}
  // A module value: the parser skips its content.
  virtual void on_module_value(const std::string& module_type) {}
  // raw: the value's bytes (without type byte and key) when kept, else nullptr. key.empty: a
  // collection without elements, which redis-server skips when loading.
  virtual void on_key_end(const KeyInfo& key, const std::string* raw) {}
  // checksum_verified: false when the writer disabled checksums (CRC 0) or the version has none.
  virtual void on_end(bool checksum_verified) {}
  // Bytes follow the end marker and checksum, from `offset` (redis-server ignores them).
  virtual void on_trailing_bytes(uint64_t offset) {}
};

struct ParserLimits {
  size_t chunk_elements = 1000;
  size_t string_chunk = 1 << 20;
};

class RdbParser {
 public:
  RdbParser(io::ByteSource& source, RdbVisitor& visitor, ParserLimits limits = {});
  // Parses to the end marker (and checksum). Throws RdbError (exit 5) on truncated or corrupt input.
  void parse();
  // Parses one value (type byte, then the value) of an input in RDB `version`: a DUMP payload.
  void parse_value(KeyInfo key, int version);
  uint64_t offset() const { return in_.offset(); }
  int version() const { return version_; }

 private:
  // Reads one length; `encoded` is set when the 11|XXXXXX form holds a special string encoding.
  uint64_t read_length(bool* encoded = nullptr);
  uint64_t read_count(const char* what);  // a length used as an element count (checked)
  std::string read_string();              // whole: keys, blobs, small fields
  void read_string_chunks(const std::function<void(std::string_view)>& sink);  // streamed
  double read_string_double();
  double read_binary_double();
  long long read_ms_time();
  std::string read_module_type_name();
  void skip_module_value(const std::string& module_type);

  void read_value(KeyInfo& key);
  void read_list(uint8_t type);
  void read_set(uint8_t type);
  void read_zset(uint8_t type);
  void read_hash(uint8_t type);
  void read_hash_with_ttl(uint8_t type);
  void read_stream(uint8_t type);
  std::vector<std::string> decode_blob(std::string_view blob, uint8_t kind);
  void emit_pairs_as_hash(std::vector<std::string>& flat);
  void emit_pairs_as_zset(std::vector<std::string>& flat);

  RdbInput in_;
  RdbVisitor& visitor_;
  uint64_t elements_ = 0;  // of the value being read
  ParserLimits limits_;
  int version_ = 0;
  int db_ = 0;
};

std::string format_score(double score);  // as Redis prints it: "inf", "-inf", %.17g

// DUMP payloads (what DUMP returns and RESTORE takes): the type byte, the value as an RDB holds it,
// the 2-byte RDB version and a CRC64 of all that, little-endian. A mirrored pair.
std::string make_dump_payload(uint8_t rdb_type, std::string_view value, int rdb_version);
// Checks the trailer (a version ferry reads, the CRC64) and visits the value as the one key `key`
// (its db, name and expiry; the type comes from the payload). Throws RdbError when it is corrupt.
void decode_dump_payload(std::string_view payload, KeyInfo key, RdbVisitor& visitor, ParserLimits limits = {});

}  // namespace ferry::rdb
