#include "rdb/rdb_parser.h"
#include "core/clock.h"

#include "core/log.h"
#include "rdb/encodings.h"
#include "rdb/format.h"

#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>

namespace ferry::rdb {
namespace {

enum BlobKind : uint8_t { kZiplist, kListpack, kIntset, kZipmap };

std::string stream_id_text(uint64_t ms, uint64_t seq) { return fmt::format("{}-{}", ms, seq); }

uint64_t be64(const unsigned char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | p[i];
  return v;
}

// Pushes elements into a vector and hands it over every `limit` elements.
template <typename T, typename Emit>
struct Batcher {
  std::vector<T> items;
  size_t limit;
  Emit emit;
  uint64_t* count;  // every element added, in all
  void add(T item) {
    ++*count;
    items.push_back(std::move(item));
    if (items.size() >= limit) flush();
  }
  void flush() {
    if (!items.empty()) emit(items);
    items.clear();
  }
};
template <typename T, typename Emit>
Batcher<T, Emit> make_batcher(size_t limit, Emit emit, uint64_t* count) {
  return Batcher<T, Emit>{{}, limit, std::move(emit), count};
}

}  // namespace

std::string format_score(double score) {
  if (std::isinf(score)) return score > 0 ? "inf" : "-inf";
  return fmt::format("{:.17g}", score);
}

RdbParser::RdbParser(io::ByteSource& source, RdbVisitor& visitor, ParserLimits limits)
    : in_(source), visitor_(visitor), limits_(limits) {}

uint64_t RdbParser::read_length(bool* encoded) {
  if (encoded) *encoded = false;
  uint8_t first = in_.u8();
  switch (first >> 6) {
    case kLen6Bit: return first & 0x3f;
    case kLen14Bit: return (static_cast<uint64_t>(first & 0x3f) << 8) | in_.u8();
    case kLenEncoded:
      if (!encoded) in_.corrupt(fmt::format("an encoded string (0x{:02x}) where a length was expected", first));
      *encoded = true;
      return first & 0x3f;
    default:
      if (first == kLen32Bit) {
        unsigned char b[4];
        in_.read(b, 4);
        return (static_cast<uint64_t>(b[0]) << 24) | (b[1] << 16) | (b[2] << 8) | b[3];
      }
      if (first == kLen64Bit) {
        unsigned char b[8];
        in_.read(b, 8);
        return be64(b);
      }
      in_.corrupt(fmt::format("unknown length encoding 0x{:02x}", first));
  }
}

uint64_t RdbParser::read_count(const char* what) {
  uint64_t n = read_length();
  // Every element takes at least one byte: a count beyond the remaining bytes is a lie.
  if (auto left = in_.remaining(); left && n > *left)
    in_.truncated(fmt::format("{} count {} exceeds the {} bytes left", what, n, *left));
  return n;
}

void RdbParser::read_string_chunks(const std::function<void(std::string_view)>& sink) {
  bool encoded = false;
  uint64_t len = read_length(&encoded);
  if (encoded) {
    switch (len) {
      case kEncInt8: sink(std::to_string(static_cast<int8_t>(in_.u8()))); return;
      case kEncInt16: {
        unsigned char b[2];
        in_.read(b, 2);
        sink(std::to_string(static_cast<int16_t>(b[0] | (b[1] << 8))));
        return;
      }
      case kEncInt32: sink(std::to_string(static_cast<int32_t>(in_.u32_le()))); return;
      case kEncLzf: {
        uint64_t clen = read_length(), ulen = read_length();
        in_.check_available(clen, "compressed string");
        if (clen == 0) in_.corrupt("LZF string with zero compressed length");
        bool any = false;
        LzfStreamDecoder decoder(ulen, [&](std::string_view out) { any = true; sink(out); }, limits_.string_chunk);
        std::string piece;
        try {
          for (uint64_t left = clen; left > 0;) {
            size_t take = static_cast<size_t>(std::min<uint64_t>(left, 64 * 1024));
            piece.resize(take);
            in_.read(piece.data(), take);
            decoder.feed(piece);
            left -= take;
          }
          decoder.finish();
        } catch (const EncodingError& e) {
          in_.corrupt(e.what());
        }
        if (!any) sink("");
        return;
      }
      default: in_.corrupt(fmt::format("unknown string encoding {}", len));
    }
  }
  in_.check_available(len, "string");
  if (len == 0) {
    sink("");
    return;
  }
  std::string piece;
  for (uint64_t left = len; left > 0;) {
    size_t take = static_cast<size_t>(std::min<uint64_t>(left, limits_.string_chunk));
    piece.resize(take);
    in_.read(piece.data(), take);
    sink(piece);
    left -= take;
  }
}

std::string RdbParser::read_string() {
  std::string out;
  read_string_chunks([&](std::string_view chunk) { out.append(chunk); });
  return out;
}

double RdbParser::read_string_double() {
  uint8_t len = in_.u8();
  if (len == 253) return std::nan("");
  if (len == 254) return INFINITY;
  if (len == 255) return -INFINITY;
  char buf[256];
  in_.read(buf, len);
  buf[len] = '\0';
  char* end = nullptr;
  double v = std::strtod(buf, &end);
  if (end != buf + len) in_.corrupt(fmt::format("score '{}' is not a number", log::printable(std::string_view(buf, len))));
  return v;
}

double RdbParser::read_binary_double() {
  uint64_t bits = in_.u64_le();
  double v;
  std::memcpy(&v, &bits, 8);
  return v;
}

long long RdbParser::read_ms_time() { return static_cast<long long>(in_.u64_le()); }

std::string RdbParser::read_module_type_name() {
  static constexpr char kCharset[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  uint64_t id = read_length();
  std::string name(9, ' ');
  uint64_t bits = id >> 10;
  for (int j = 8; j >= 0; --j) {
    name[j] = kCharset[bits & 63];
    bits >>= 6;
  }
  return name;
}

void RdbParser::skip_module_value(const std::string& module_type) {
  // Module values written with the v2 API are self-describing: typed opcodes until EOF.
  for (;;) {
    uint64_t op = read_length();
    switch (op) {
      case kModEof: return;
      case kModSint:
      case kModUint: read_length(); break;
      case kModFloat: in_.skip(4); break;
      case kModDouble: in_.skip(8); break;
      case kModString: read_string_chunks([](std::string_view) {}); break;
      default: in_.corrupt(fmt::format("module '{}' value has unknown opcode {}", module_type, op));
    }
  }
}

std::vector<std::string> RdbParser::decode_blob(std::string_view blob, uint8_t kind) {
  try {
    switch (kind) {
      case kZiplist: return ziplist_entries(blob);
      case kListpack: return listpack_entries(blob);
      case kIntset: return intset_members(blob);
      default: return zipmap_entries(blob);
    }
  } catch (const EncodingError& e) {
    in_.corrupt(e.what());
  }
}

void RdbParser::parse() {
  char magic[9];
  in_.read(magic, 9);
  if (std::memcmp(magic, "REDIS", 5) == 0 && std::isdigit(magic[5]) && std::isdigit(magic[6]) &&
      std::isdigit(magic[7]) && std::isdigit(magic[8])) {
    version_ = std::atoi(std::string(magic + 5, 4).c_str());
    if (version_ < 1 || version_ > kMaxRedisVersion)
      in_.corrupt(fmt::format("RDB version {} is not one ferry reads (1-{}, or Valkey {})", version_, kMaxRedisVersion,
                              kValkeyVersion));
  } else if (std::memcmp(magic, "VALKEY", 6) == 0 && std::isdigit(magic[6]) && std::isdigit(magic[7]) &&
             std::isdigit(magic[8])) {
    version_ = std::atoi(std::string(magic + 6, 3).c_str());
    if (version_ != kValkeyVersion)
      in_.corrupt(fmt::format("Valkey RDB version {} is not one ferry reads ({})", version_, kValkeyVersion));
  } else {
    in_.corrupt("not an RDB file (no REDIS or VALKEY signature)");
  }
  visitor_.on_header(version_);

  KeyInfo key;
  for (;;) {
    in_.set_context(fmt::format("DB {}", db_));
    uint64_t type_offset = in_.offset();
    uint8_t type = in_.u8();
    switch (type) {
      case kOpExpireTime: key.expire_ms = static_cast<long long>(static_cast<int32_t>(in_.u32_le())) * 1000; continue;
      case kOpExpireTimeMs: key.expire_ms = read_ms_time(); continue;
      case kOpIdle: key.idle_seconds = read_length(); continue;
      case kOpFreq: key.lfu_freq = in_.u8(); continue;
      case kOpSelectDb: {
        uint64_t db = read_length();
        if (db > 1u << 20) in_.corrupt(fmt::format("DB number {} is out of range", db));
        db_ = static_cast<int>(db);
        visitor_.on_select_db(db_);
        continue;
      }
      case kOpResizeDb: {
        uint64_t keys = read_length(), expires = read_length();
        visitor_.on_resize_db(keys, expires);
        continue;
      }
      case kOpSlotInfo: {
        uint64_t slot = read_length(), keys = read_length(), expires = read_length();
        visitor_.on_slot_info(slot, keys, expires);
        continue;
      }
      case kOpAux: {
        std::string name = read_string();
        std::string value = read_string();
        visitor_.on_aux(name, value);
        continue;
      }
      case kOpModuleAux: {
        std::string module_type = read_module_type_name();
        uint64_t when_opcode = read_length();
        if (when_opcode != kModUint) in_.corrupt(fmt::format("module '{}' aux data has bad 'when' opcode", module_type));
        read_length();
        skip_module_value(module_type);
        visitor_.on_module_aux(module_type);
        continue;
      }
      case kOpFunctionPreGa: {  // 7.0 rc1/rc2: name, engine, an optional description, the code
        std::string name = read_string(), engine = read_string();
        if (read_length()) read_string();  // the description, not kept (as 7.0 does)
        std::string code = read_string();
        visitor_.on_function(fmt::format("#!{} name={}\n{}", engine, name, code));
        continue;
      }
      case kOpFunction2: visitor_.on_function(read_string()); continue;
      case kOpEof: {
        bool verified = false;
        if (version_ >= 5) {
          uint64_t computed = in_.crc();
          uint64_t stored = in_.u64_le();
          if (stored != 0) {
            if (stored != computed)
              in_.corrupt(fmt::format("checksum mismatch: file says {:016x}, content gives {:016x}", stored, computed));
            verified = true;
          }
        }
        visitor_.on_end(verified);
        // Bytes after the checksum: redis-server ignores them (an AOF reads its own tail itself).
        if (!in_.at_end()) visitor_.on_trailing_bytes(in_.offset());
        return;
      }
      default: break;
    }

    // A key: type byte, key string, value.
    key.rdb_type = type;
    key.offset = type_offset;
    key.db = db_;
    key.key = read_string();
    in_.set_key_context(db_, key.key);
    read_value(key);
    key = KeyInfo{};
  }
}

void RdbParser::parse_value(KeyInfo key, int version) {
  version_ = version;
  visitor_.on_header(version_);
  key.offset = in_.offset();
  key.rdb_type = in_.u8();
  in_.set_key_context(key.db, key.key);
  read_value(key);
  if (!in_.at_end()) in_.corrupt("bytes after the value");
}

void RdbParser::read_value(KeyInfo& key) {
  uint8_t type = key.rdb_type;
  if (auto known = key_type_of(type)) key.type = *known;
  switch (type) {
    case kTypeModule2: {
      size_t keep = visitor_.on_key_begin(key);
      std::string raw;
      if (keep) in_.start_capture(&raw, keep);
      std::string module_type = read_module_type_name();
      visitor_.on_module_value(module_type);
      skip_module_value(module_type);
      in_.stop_capture();
      key.end_offset = in_.offset();
      visitor_.on_key_end(key, keep && !in_.capture_overflowed() ? &raw : nullptr);
      return;
    }
    case kTypeModulePreGa: in_.corrupt("module value in the pre-4.0 format is not supported");
    default:
      if (!key_type_of(type)) in_.corrupt(fmt::format("unknown value type {}", type));
  }

  size_t keep = visitor_.on_key_begin(key);
  std::string raw;
  if (keep) in_.start_capture(&raw, keep);
  elements_ = 0;
  switch (key.type) {
    case KeyType::String:
      read_string_chunks([&](std::string_view chunk) { visitor_.on_string_chunk(chunk); });
      break;
    case KeyType::List: read_list(type); break;
    case KeyType::Set: read_set(type); break;
    case KeyType::ZSet: read_zset(type); break;
    case KeyType::Hash:
      if (type >= kTypeHashMetadataPreGa) read_hash_with_ttl(type);
      else read_hash(type);
      break;
    case KeyType::Stream: read_stream(type); break;
  }
  in_.stop_capture();
  key.end_offset = in_.offset();
  // A collection with no element: redis-server skips such a key when it loads the file (an empty
  // stream is a value of its own).
  key.empty = elements_ == 0 && key.type != KeyType::String && key.type != KeyType::Stream;
  visitor_.on_key_end(key, keep && !in_.capture_overflowed() ? &raw : nullptr);
}

void RdbParser::read_list(uint8_t type) {
  auto out = make_batcher<std::string>(limits_.chunk_elements, [&](auto& v) { visitor_.on_list_items(v); }, &elements_);
  if (type == kTypeList) {
    for (uint64_t n = read_count("list"); n > 0; --n) out.add(read_string());
  } else if (type == kTypeListZiplist) {
    for (auto& e : decode_blob(read_string(), kZiplist)) out.add(std::move(e));
  } else {
    for (uint64_t nodes = read_count("quicklist node"); nodes > 0; --nodes) {
      uint64_t container = kQuicklistPacked;
      if (type == kTypeListQuicklist2) {
        container = read_length();
        if (container != kQuicklistPlain && container != kQuicklistPacked)
          in_.corrupt(fmt::format("quicklist node container {} unknown", container));
      }
      std::string node = read_string();
      if (container == kQuicklistPlain) {
        out.add(std::move(node));
        continue;
      }
      auto entries = decode_blob(node, type == kTypeListQuicklist ? kZiplist : kListpack);  // an empty node is skipped
      for (auto& e : entries) out.add(std::move(e));
    }
  }
  out.flush();
}

void RdbParser::read_set(uint8_t type) {
  auto out = make_batcher<std::string>(limits_.chunk_elements, [&](auto& v) { visitor_.on_set_members(v); }, &elements_);
  if (type == kTypeSet) {
    for (uint64_t n = read_count("set"); n > 0; --n) out.add(read_string());
  } else {
    for (auto& e : decode_blob(read_string(), type == kTypeSetIntset ? kIntset : kListpack)) out.add(std::move(e));
  }
  out.flush();
}

void RdbParser::emit_pairs_as_zset(std::vector<std::string>& flat) {
  if (flat.size() % 2) in_.corrupt("sorted set blob has an odd number of entries");
  auto out = make_batcher<std::pair<std::string, double>>(limits_.chunk_elements,
                                                          [&](auto& v) { visitor_.on_zset_members(v); }, &elements_);
  for (size_t i = 0; i < flat.size(); i += 2) {
    char* end = nullptr;
    double score = std::strtod(flat[i + 1].c_str(), &end);
    if (flat[i + 1].empty() || end != flat[i + 1].c_str() + flat[i + 1].size() || std::isnan(score))
      in_.corrupt(fmt::format("sorted set score '{}' is not a number", log::printable(flat[i + 1])));
    out.add({std::move(flat[i]), score});
  }
  out.flush();
}

void RdbParser::read_zset(uint8_t type) {
  if (type == kTypeZsetZiplist || type == kTypeZsetListpack) {
    auto flat = decode_blob(read_string(), type == kTypeZsetZiplist ? kZiplist : kListpack);
    emit_pairs_as_zset(flat);
    return;
  }
  auto out = make_batcher<std::pair<std::string, double>>(limits_.chunk_elements,
                                                          [&](auto& v) { visitor_.on_zset_members(v); }, &elements_);
  for (uint64_t n = read_count("sorted set"); n > 0; --n) {
    std::string member = read_string();
    double score = type == kTypeZset2 ? read_binary_double() : read_string_double();
    if (std::isnan(score)) in_.corrupt("sorted set score is NaN");
    out.add({std::move(member), score});
  }
  out.flush();
}

void RdbParser::emit_pairs_as_hash(std::vector<std::string>& flat) {
  if (flat.size() % 2) in_.corrupt("hash blob has an odd number of entries");
  auto out = make_batcher<FieldValue>(limits_.chunk_elements, [&](auto& v) { visitor_.on_hash_fields(v); }, &elements_);
  for (size_t i = 0; i < flat.size(); i += 2) out.add({std::move(flat[i]), std::move(flat[i + 1])});
  out.flush();
}

void RdbParser::read_hash(uint8_t type) {
  if (type == kTypeHash) {
    auto out = make_batcher<FieldValue>(limits_.chunk_elements, [&](auto& v) { visitor_.on_hash_fields(v); }, &elements_);
    for (uint64_t n = read_count("hash"); n > 0; --n) {
      std::string field = read_string();
      out.add({std::move(field), read_string()});
    }
    out.flush();
    return;
  }
  auto flat = decode_blob(read_string(), type == kTypeHashZipmap ? kZipmap : type == kTypeHashZiplist ? kZiplist : kListpack);
  emit_pairs_as_hash(flat);
}

void RdbParser::read_hash_with_ttl(uint8_t type) {
  std::vector<FieldValue> fields;
  std::vector<std::pair<std::string, long long>> expiries;
  auto flush = [&] {
    elements_ += fields.size();
    if (!fields.empty()) visitor_.on_hash_fields(fields);
    if (!expiries.empty()) visitor_.on_hash_field_expiries(expiries);
    fields.clear();
    expiries.clear();
  };
  if (type == kTypeHashMetadataPreGa && version_ == kValkeyVersion) {
    // Valkey 9 (RDB 80) reuses type 22 as RDB_TYPE_HASH_2: a count, then field, value and the
    // field's absolute expiry in ms (8 bytes, little-endian; -1: none) for each.
    for (uint64_t n = read_count("hash"); n > 0; --n) {
      std::string field = read_string();
      std::string value = read_string();
      long long at = read_ms_time();
      if (at < -1) in_.corrupt("hash field expiry out of range");
      if (at >= 0) expiries.emplace_back(field, at);
      fields.emplace_back(std::move(field), std::move(value));
      if (fields.size() >= limits_.chunk_elements) flush();
    }
    flush();
    return;
  }
  long long min_expire = 0;
  if (type == kTypeHashMetadata || type == kTypeHashListpackEx) min_expire = read_ms_time();

  if (type == kTypeHashListpackEx || type == kTypeHashListpackExPreGa) {
    auto flat = decode_blob(read_string(), kListpack);
    if (flat.size() % 3) in_.corrupt("hash listpack with field expiry is not made of field/value/ttl triplets");
    for (size_t i = 0; i < flat.size(); i += 3) {
      long long ttl = std::atoll(flat[i + 2].c_str());
      if (ttl != 0) expiries.emplace_back(flat[i], ttl);
      fields.emplace_back(std::move(flat[i]), std::move(flat[i + 1]));
      if (fields.size() >= limits_.chunk_elements) flush();
    }
    flush();
    return;
  }
  for (uint64_t n = read_count("hash"); n > 0; --n) {
    uint64_t ttl = read_length();
    long long at = 0;
    if (ttl != 0 && (ttl > static_cast<uint64_t>(std::numeric_limits<long long>::max()) ||
                     (type == kTypeHashMetadata && __builtin_add_overflow(static_cast<long long>(ttl) - 1, min_expire, &at))))
      in_.corrupt("hash field expiry out of range");
    if (ttl != 0 && type != kTypeHashMetadata) at = static_cast<long long>(ttl);
    std::string field = read_string();
    if (at) expiries.emplace_back(field, at);
    fields.emplace_back(std::move(field), read_string());
    if (fields.size() >= limits_.chunk_elements) flush();
  }
  flush();
}

void RdbParser::read_stream(uint8_t type) {
  // Entries: listpacks keyed by a 16-byte master id (big-endian ms, seq). Each listpack starts with
  // a master entry: count, deleted, n master fields, the fields, 0. Each entry then: flags,
  // ms-diff, seq-diff, [n fields, field, value ...] or [values of the master fields], lp-count.
  auto out = make_batcher<StreamEntry>(limits_.chunk_elements, [&](auto& v) { visitor_.on_stream_entries(v); }, &elements_);
  uint64_t last_node_ms = 0, last_node_seq = 0;
  bool first_node = true;
  for (uint64_t nodes = read_count("stream node"); nodes > 0; --nodes) {
    std::string node_key = read_string();
    if (node_key.size() != 16) in_.corrupt("stream node key is not a 16-byte id");
    auto* k = reinterpret_cast<const unsigned char*>(node_key.data());
    uint64_t master_ms = be64(k), master_seq = be64(k + 8);
    if (!first_node && (master_ms < last_node_ms || (master_ms == last_node_ms && master_seq <= last_node_seq)))
      in_.corrupt("stream nodes are not in id order");
    first_node = false;
    last_node_ms = master_ms;
    last_node_seq = master_seq;
    auto lp = decode_blob(read_string(), kListpack);
    if (lp.empty()) in_.corrupt("empty listpack in a stream");
    size_t i = 0;
    auto next = [&]() -> const std::string& {
      if (i >= lp.size()) in_.corrupt("stream listpack ends inside an entry");
      return lp[i++];
    };
    auto next_int = [&]() -> long long {
      const std::string& s = next();
      char* end = nullptr;
      long long v = std::strtoll(s.c_str(), &end, 10);
      if (s.empty() || end != s.c_str() + s.size()) in_.corrupt("stream listpack holds text where a number belongs");
      return v;
    };
    long long count = next_int(), deleted = next_int(), master_fields = next_int();
    if (count < 0 || deleted < 0 || master_fields < 0 || static_cast<size_t>(master_fields) > lp.size() ||
        static_cast<size_t>(count) > lp.size() || static_cast<size_t>(deleted) > lp.size())  // each entry takes elements
      in_.corrupt("stream master entry is inconsistent");
    std::vector<std::string> fields;
    for (long long f = 0; f < master_fields; ++f) fields.push_back(next());
    if (next_int() != 0) in_.corrupt("stream master entry does not end with 0");
    for (long long e = 0; e < count + deleted; ++e) {
      long long flags = next_int();
      uint64_t ms = master_ms + static_cast<uint64_t>(next_int());
      uint64_t seq = master_seq + static_cast<uint64_t>(next_int());
      StreamEntry entry{stream_id_text(ms, seq), {}};
      if (flags & kStreamItemSameFields) {
        for (const auto& f : fields) {
          entry.fields_values.push_back(f);
          entry.fields_values.push_back(next());
        }
      } else {
        long long n = next_int();
        if (n < 0 || static_cast<size_t>(n) * 2 > lp.size()) in_.corrupt("stream entry field count is out of range");
        for (long long f = 0; f < n * 2; ++f) entry.fields_values.push_back(next());
      }
      next_int();  // lp-count, for backward iteration
      if (!(flags & kStreamItemDeleted)) out.add(std::move(entry));
    }
    if (i != lp.size()) in_.corrupt("stream listpack has entries past its count");
  }
  out.flush();

  uint64_t length = read_length();
  StreamMeta meta;
  uint64_t last_ms = read_length(), last_seq = read_length();
  meta.last_id = stream_id_text(last_ms, last_seq);
  if (type >= kTypeStreamListpacks2) {
    read_length();  // first id ms
    read_length();  // first id seq
    uint64_t del_ms = read_length(), del_seq = read_length();
    meta.max_deleted_id = stream_id_text(del_ms, del_seq);
    meta.entries_added = static_cast<long long>(read_length());
  }
  visitor_.on_stream_meta(meta, length);

  long long now = unix_ms();
  for (uint64_t groups = read_count("stream group"); groups > 0; --groups) {
    StreamGroup group;
    group.name = read_string();
    uint64_t gms = read_length(), gseq = read_length();
    group.last_delivered_id = stream_id_text(gms, gseq);
    if (type >= kTypeStreamListpacks2) {
      uint64_t entries_read = read_length();
      // SCG_INVALID_ENTRIES_READ (-1 as unsigned) means unknown.
      if (entries_read != UINT64_MAX) group.entries_read = static_cast<long long>(entries_read);
    }
    visitor_.on_stream_group(group);

    // The group PEL (id, delivery time, count), then consumers naming their ids in it.
    std::map<std::string, std::pair<long long, uint64_t>> pel;
    for (uint64_t n = read_count("stream PEL"); n > 0; --n) {
      unsigned char raw[16];
      in_.read(raw, 16);
      long long delivered = read_ms_time();
      uint64_t deliveries = read_length();
      if (!pel.emplace(std::string(reinterpret_cast<char*>(raw), 16), std::make_pair(delivered, deliveries)).second)
        in_.corrupt("duplicate stream PEL entry");
    }
    for (uint64_t consumers = read_count("stream consumer"); consumers > 0; --consumers) {
      std::string consumer = read_string();
      read_ms_time();                                      // seen-time: not reproducible
      if (type >= kTypeStreamListpacks3) read_ms_time();   // active-time
      visitor_.on_stream_consumer(group.name, consumer);
      std::vector<StreamPendingEntry> pending;
      for (uint64_t n = read_count("consumer PEL"); n > 0; --n) {
        unsigned char raw[16];
        in_.read(raw, 16);
        auto it = pel.find(std::string(reinterpret_cast<char*>(raw), 16));
        if (it == pel.end()) in_.corrupt("consumer PEL entry missing from the group PEL");
        long long idle = 0;  // a delivery time from the far past (or a corrupt one) saturates
        if (__builtin_sub_overflow(now, it->second.first, &idle)) idle = std::numeric_limits<long long>::max();
        idle = std::max(0LL, idle);
        pending.push_back({stream_id_text(be64(raw), be64(raw + 8)), consumer, idle,
                           static_cast<long long>(it->second.second)});
        if (pending.size() >= limits_.chunk_elements) {
          visitor_.on_stream_pending(group.name, pending);
          pending.clear();
        }
      }
      if (!pending.empty()) visitor_.on_stream_pending(group.name, pending);
    }
  }
}

}  // namespace ferry::rdb
