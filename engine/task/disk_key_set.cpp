#include "task/disk_key_set.h"

#include "core/error.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <unordered_set>

namespace ferry {

DiskKeySet::DiskKeySet(const std::string& parent, size_t buckets) {
  std::string tmpl = parent + "/ferry-keys-XXXXXX";
  if (!::mkdtemp(tmpl.data()))
    throw FerryError(ExitCode::Failed, fmt::format("cannot create a key-set directory under {}: {}", parent, std::strerror(errno)));
  dir_ = tmpl;
  for (size_t b = 0; b < buckets; ++b) {
    std::FILE* f = std::fopen(fmt::format("{}/{}", dir_, b).c_str(), "w+b");
    if (!f) throw FerryError(ExitCode::Failed, fmt::format("cannot create key-set files in {}: {}", dir_, std::strerror(errno)));
    files_.push_back(f);
  }
}

DiskKeySet::~DiskKeySet() {
  for (auto* f : files_) std::fclose(f);
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

size_t DiskKeySet::bucket_of(int db, std::string_view key) const {
  return (std::hash<std::string_view>{}(key) ^ (static_cast<size_t>(db) * 0x9E3779B97F4A7C15ULL)) % files_.size();
}

void DiskKeySet::add(int db, std::string_view key) {
  std::FILE* f = files_[bucket_of(db, key)];
  uint32_t header[2] = {static_cast<uint32_t>(db), static_cast<uint32_t>(key.size())};
  if (std::fwrite(header, sizeof header, 1, f) != 1 || (key.size() && std::fwrite(key.data(), key.size(), 1, f) != 1))
    throw FerryError(ExitCode::Failed, fmt::format("cannot write the key set in {}: {}", dir_, std::strerror(errno)));
  ++count_;
}

void DiskKeySet::flush() {
  for (auto* f : files_) std::fflush(f);
}

void DiskKeySet::read_bucket(size_t b, const std::function<void(int, std::string&&)>& each) {
  std::FILE* f = files_[b];
  std::fflush(f);
  std::rewind(f);
  uint32_t header[2];
  while (std::fread(header, sizeof header, 1, f) == 1) {
    std::string key(header[1], '\0');
    if (header[1] && std::fread(key.data(), header[1], 1, f) != 1)
      throw FerryError(ExitCode::Failed, fmt::format("the key set in {} is damaged", dir_));
    each(static_cast<int>(header[0]), std::move(key));
  }
  std::fseek(f, 0, SEEK_END);  // further adds append
}

std::optional<std::pair<int, std::string>> DiskKeySet::find_duplicate() {
  for (size_t b = 0; b < files_.size(); ++b) {
    std::unordered_set<std::string> seen;  // "db:key" of this bucket
    std::optional<std::pair<int, std::string>> dup;
    read_bucket(b, [&](int db, std::string&& key) {
      if (!dup && !seen.insert(std::to_string(db) + ":" + key).second) dup.emplace(db, key);
    });
    if (dup) return dup;
  }
  return std::nullopt;
}

void DiskKeySet::for_each_not_in(DiskKeySet& candidates, const std::vector<DiskKeySet*>& excluded,
                                 const std::function<void(int db, const std::string& key)>& visit) {
  for (auto* e : excluded)
    if (e->files_.size() != candidates.files_.size())
      throw FerryError(ExitCode::Failed, "key sets with different bucket counts cannot be compared");
  for (size_t b = 0; b < candidates.files_.size(); ++b) {
    std::unordered_set<std::string> present;  // "db:key" of this bucket in the excluded sets
    for (auto* e : excluded) e->read_bucket(b, [&](int db, std::string&& key) { present.insert(std::to_string(db) + ":" + key); });
    candidates.read_bucket(b, [&](int db, std::string&& key) {
      if (!present.count(std::to_string(db) + ":" + key)) visit(db, key);
    });
  }
}

}  // namespace ferry
