// Where bytes come from: a file, a memory buffer, or (later) a socket. Parsers read through this
// and never care which.
#pragma once

#include <cstddef>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>

namespace ferry::io {

class ByteSource {
 public:
  virtual ~ByteSource() = default;
  // Reads up to `max` bytes; returns 0 only at the end of the stream. Throws on an I/O error.
  virtual size_t read_some(char* buffer, size_t max) = 0;
  // Total size when known (files, memory): lets a parser reject lengths past the end up front.
  virtual std::optional<uint64_t> size() const { return std::nullopt; }
  // "file dump.rdb", "memory": names the input in error messages.
  virtual std::string describe() const = 0;
};

class FileSource : public ByteSource {
 public:
  // Throws FerryError(CorruptInput) when the file cannot be opened. `from`: the first byte read
  // (size() stays the whole file's).
  explicit FileSource(const std::string& path, uint64_t from = 0);
  ~FileSource() override;
  size_t read_some(char* buffer, size_t max) override;
  std::optional<uint64_t> size() const override { return size_; }
  std::string describe() const override { return "file " + path_; }

 private:
  std::string path_;
  std::FILE* file_ = nullptr;
  std::optional<uint64_t> size_;
};

class MemorySource : public ByteSource {
 public:
  // The bytes are not copied: they must outlive the source (a temporary string would not).
  explicit MemorySource(std::string_view data, std::string name = "memory") : data_(data), name_(std::move(name)) {}
  MemorySource(std::string&&, std::string = {}) = delete;
  size_t read_some(char* buffer, size_t max) override;
  std::optional<uint64_t> size() const override { return data_.size(); }
  std::string describe() const override { return name_; }

 private:
  std::string_view data_;
  size_t pos_ = 0;
  std::string name_;
};

}  // namespace ferry::io
