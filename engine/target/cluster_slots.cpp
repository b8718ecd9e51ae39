#include "target/cluster_slots.h"

#include <fmt/format.h>

namespace ferry {

uint16_t crc16(std::string_view bytes) {
  uint16_t crc = 0;
  for (unsigned char b : bytes) {
    crc ^= static_cast<uint16_t>(b) << 8;
    for (int i = 0; i < 8; ++i) crc = (crc & 0x8000) ? static_cast<uint16_t>((crc << 1) ^ 0x1021) : static_cast<uint16_t>(crc << 1);
  }
  return crc;
}

std::string_view hash_tag(std::string_view key) {
  auto open = key.find('{');
  if (open == std::string_view::npos) return key;
  auto close = key.find('}', open + 1);
  if (close == std::string_view::npos || close == open + 1) return key;
  return key.substr(open + 1, close - open - 1);
}

int key_slot(std::string_view key) { return crc16(hash_tag(key)) & (kClusterSlots - 1); }

const std::string& tag_for_slot(int slot) {
  static const std::vector<std::string> tags = [] {
    std::vector<std::string> out(kClusterSlots);
    int found = 0;
    for (long n = 0; found < kClusterSlots; ++n) {
      std::string tag = fmt::format("{:x}", n);
      std::string& at = out[key_slot(tag)];
      if (at.empty()) {
        at = tag;
        ++found;
      }
    }
    return out;
  }();
  return tags.at(static_cast<size_t>(slot));
}

bool SlotMap::complete() const {
  for (int o : owner)
    if (o < 0) return false;
  return true;
}

std::string SlotMap::ranges_of(int master) const {
  std::string out;
  for (int s = 0; s < kClusterSlots;) {
    if (owner[s] != master) {
      ++s;
      continue;
    }
    int e = s;
    while (e + 1 < kClusterSlots && owner[e + 1] == master) ++e;
    out += (out.empty() ? "" : ",") + (s == e ? std::to_string(s) : fmt::format("{}-{}", s, e));
    s = e + 1;
  }
  return out;
}

}  // namespace ferry
