// Redis Cluster's key space: 16384 hash slots, a key's slot from the CRC16 of its hash tag, and
// the map of which master owns which slot.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ferry {

constexpr int kClusterSlots = 16384;

// CRC16-CCITT (XMODEM), as Redis' crc16.c computes it.
uint16_t crc16(std::string_view bytes);
// The part of a key that decides its slot: the text between the first '{' and the next '}' when
// that is not empty, else the whole key.
std::string_view hash_tag(std::string_view key);
int key_slot(std::string_view key);
// A short hash tag whose slot is `slot` (for temporary keys that must live beside a key whatever
// its name holds).
const std::string& tag_for_slot(int slot);

// slot -> the index of the master that owns it (-1: none).
struct SlotMap {
  std::array<int, kClusterSlots> owner;
  SlotMap() { owner.fill(-1); }
  bool complete() const;
  // "0-5460" style ranges owned by `master`.
  std::string ranges_of(int master) const;
};

}  // namespace ferry
