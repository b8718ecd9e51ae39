#include "io/byte_source.h"

#include "core/error.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <sys/stat.h>

namespace ferry::io {

FileSource::FileSource(const std::string& path, uint64_t from) : path_(path) {
  file_ = std::fopen(path.c_str(), "rb");
  if (!file_)
    throw FerryError(ExitCode::CorruptInput, fmt::format("cannot open {}: {}", path, std::strerror(errno)));
  struct stat st {};
  if (::fstat(fileno(file_), &st) == 0 && S_ISREG(st.st_mode)) size_ = static_cast<uint64_t>(st.st_size);
  if (from && ::fseeko(file_, static_cast<off_t>(from), SEEK_SET) != 0) {
    std::fclose(file_);
    file_ = nullptr;
    throw FerryError(ExitCode::CorruptInput, fmt::format("cannot read {} from byte {}: {}", path, from, std::strerror(errno)));
  }
}

FileSource::~FileSource() {
  if (file_) std::fclose(file_);
}

size_t FileSource::read_some(char* buffer, size_t max) {
  size_t n = std::fread(buffer, 1, max, file_);
  if (n == 0 && std::ferror(file_))
    throw FerryError(ExitCode::CorruptInput, fmt::format("cannot read {}: {}", path_, std::strerror(errno)));
  return n;
}

size_t MemorySource::read_some(char* buffer, size_t max) {
  size_t n = std::min(max, data_.size() - pos_);
  std::memcpy(buffer, data_.data() + pos_, n);
  pos_ += n;
  return n;
}

}  // namespace ferry::io
