#include "scan/chunked_key_reader.h"

#include "core/log.h"

#include <fmt/format.h>

#include <charconv>

namespace ferry {
namespace {


std::optional<long long> integer_field(const Reply& map, std::string_view name) {
  const Reply* f = map.field(name);
  if (!f || !f->is_integer()) return std::nullopt;
  return f->integer;
}

std::optional<std::string> string_field(const Reply& map, std::string_view name) {
  const Reply* f = map.field(name);
  if (!f || !f->is_string()) return std::nullopt;
  return f->str;
}

}  // namespace

std::string next_stream_id(const std::string& id) {
  auto dash = id.find('-');
  unsigned long long ms = 0, seq = 0;
  std::from_chars(id.data(), id.data() + (dash == std::string::npos ? id.size() : dash), ms);
  if (dash != std::string::npos) std::from_chars(id.data() + dash + 1, id.data() + id.size(), seq);
  if (seq == UINT64_MAX) return fmt::format("{}-0", ms + 1);
  return fmt::format("{}-{}", ms, seq + 1);
}

bool ChunkedKeyReader::copy(const std::string& key, KeyType type, NativeWriter& writer) {
  switch (type) {
    case KeyType::String: return copy_string(key, writer);
    case KeyType::List: return copy_list(key, writer);
    case KeyType::Set:
    case KeyType::ZSet:
    case KeyType::Hash: return copy_scanned(key, type, writer);
    case KeyType::Stream: return copy_stream(key, writer);
  }
  return false;
}

bool ChunkedKeyReader::copy_string(const std::string& key, NativeWriter& writer) {
  if (source_.checked({"EXISTS", key}).integer == 0) return false;
  long long length = source_.checked({"STRLEN", key}).integer;
  if (length == 0) writer.string_chunk("");
  for (long long offset = 0; offset < length; offset += static_cast<long long>(limits_.string_bytes)) {
    long long end = std::min<long long>(offset + limits_.string_bytes, length) - 1;
    Reply part = source_.checked({"GETRANGE", key, std::to_string(offset), std::to_string(end)});
    if (part.str.empty()) break;  // shrank while reading
    writer.string_chunk(part.str);
  }
  return true;
}

bool ChunkedKeyReader::copy_list(const std::string& key, NativeWriter& writer) {
  bool any = false;
  for (long long start = 0;; start += static_cast<long long>(limits_.elements)) {
    Reply window = source_.checked({"LRANGE", key, std::to_string(start), std::to_string(start + limits_.elements - 1)});
    if (window.elements.empty()) break;
    std::vector<std::string> items;
    items.reserve(window.elements.size());
    for (auto& e : window.elements) items.push_back(std::move(e.str));
    writer.list_items(items);
    any = true;
    if (window.elements.size() < limits_.elements) break;
  }
  return any;
}

bool ChunkedKeyReader::copy_scanned(const std::string& key, KeyType type, NativeWriter& writer) {
  const char* cmd = type == KeyType::Set ? "SSCAN" : type == KeyType::ZSet ? "ZSCAN" : "HSCAN";
  std::string cursor = "0";
  bool any = false;
  do {
    Reply r = source_.checked({cmd, key, cursor, "COUNT", std::to_string(limits_.elements)});
    if (!r.is_array() || r.elements.size() != 2)
      throw CommandError(RedisErrorKind::Other, fmt::format("{} on {} gave an unexpected reply", cmd, source_.describe()));
    cursor = r.elements[0].str;
    auto& items = r.elements[1].elements;
    if (items.empty()) continue;
    any = true;
    if (type == KeyType::Set) {
      std::vector<std::string> members;
      members.reserve(items.size());
      for (auto& e : items) members.push_back(std::move(e.str));
      writer.set_members(members);
    } else {
      std::vector<FieldValue> pairs;
      pairs.reserve(items.size() / 2);
      for (size_t i = 0; i + 1 < items.size(); i += 2) pairs.emplace_back(std::move(items[i].str), std::move(items[i + 1].str));
      if (type == KeyType::ZSet) {
        writer.zset_members(pairs);
      } else {
        auto expiries = field_expiries(key, pairs);
        writer.hash_fields(pairs);
        if (!expiries.empty()) writer.hash_field_expiries(expiries);
      }
    }
  } while (cursor != "0");
  return any;
}

std::vector<std::pair<std::string, long long>> ChunkedKeyReader::field_expiries(const std::string& key,
                                                                                const std::vector<FieldValue>& fields) {
  std::vector<std::pair<std::string, long long>> out;
  if (source_.version() < 70400 || fields.empty()) return out;  // no per-field expiry before 7.4
  Args cmd{"HPEXPIRETIME", key, "FIELDS", std::to_string(fields.size())};
  for (const auto& f : fields) cmd.push_back(f.first);
  Reply r = source_.checked(cmd);
  for (size_t i = 0; i < r.elements.size() && i < fields.size(); ++i)
    if (r.elements[i].is_integer() && r.elements[i].integer >= 0) out.emplace_back(fields[i].first, r.elements[i].integer);
  return out;
}

bool ChunkedKeyReader::copy_stream(const std::string& key, NativeWriter& writer) {
  Reply info = source_.command({"XINFO", "STREAM", key});
  if (info.is_error()) {
    if (info.str.find("no such key") != std::string::npos) return false;
    throw CommandError(classify_error(info.str), fmt::format("XINFO STREAM on {} failed: {}", source_.describe(), info.str));
  }
  std::string start = "-";
  for (;;) {
    Reply window = source_.checked({"XRANGE", key, start, "+", "COUNT", std::to_string(limits_.elements)});
    if (window.elements.empty()) break;
    std::vector<StreamEntry> entries;
    entries.reserve(window.elements.size());
    for (auto& e : window.elements) {
      StreamEntry entry{std::move(e.elements[0].str), {}};
      for (auto& fv : e.elements[1].elements) entry.fields_values.push_back(std::move(fv.str));
      entries.push_back(std::move(entry));
    }
    start = next_stream_id(entries.back().id);
    writer.stream_entries(entries);
    if (window.elements.size() < limits_.elements) break;
  }
  StreamMeta meta;
  meta.last_id = string_field(info, "last-generated-id").value_or("0-0");
  meta.entries_added = integer_field(info, "entries-added");
  meta.max_deleted_id = string_field(info, "max-deleted-entry-id");
  writer.stream_meta(meta);
  copy_stream_groups(key, writer);
  return true;
}

void ChunkedKeyReader::copy_stream_groups(const std::string& key, NativeWriter& writer) {
  Reply groups = source_.checked({"XINFO", "GROUPS", key});
  for (const auto& g : groups.elements) {
    StreamGroup group;
    group.name = string_field(g, "name").value_or("");
    group.last_delivered_id = string_field(g, "last-delivered-id").value_or("0-0");
    group.entries_read = integer_field(g, "entries-read");
    writer.stream_group(group);

    // Consumers first, so ones without pending entries exist too.
    Reply consumers = source_.checked({"XINFO", "CONSUMERS", key, group.name});
    for (const auto& c : consumers.elements) writer.stream_consumer(group.name, string_field(c, "name").value_or(""));

    std::string start = "-";
    for (;;) {
      Reply pel = source_.checked({"XPENDING", key, group.name, start, "+", std::to_string(limits_.elements)});
      if (pel.elements.empty()) break;
      std::vector<StreamPendingEntry> pending;
      pending.reserve(pel.elements.size());
      for (const auto& p : pel.elements) {
        if (p.elements.size() < 4) continue;
        pending.push_back({p.elements[0].str, p.elements[1].str, p.elements[2].integer, p.elements[3].integer});
      }
      writer.stream_pending(group.name, pending);
      if (pel.elements.size() < limits_.elements) break;
      start = next_stream_id(pel.elements.back().elements[0].str);
    }
  }
}

}  // namespace ferry
