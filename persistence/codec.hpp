#pragma once

// The byte encoding of stored records: explicit little-endian integers and
// length-prefixed strings, stable across compilers and CAF versions. Keys
// that must sort by a number use big-endian (put_be64).

#include <cstdint>
#include <string>

namespace presence::persistence::codec {

inline void put_u64(std::string& out, uint64_t x) {
  for (int i = 0; i < 8; ++i)
    out.push_back(static_cast<char>((x >> (8 * i)) & 0xff));
}

inline bool get_u64(const char*& p, const char* end, uint64_t& x) {
  if (end - p < 8)
    return false;
  x = 0;
  for (int i = 0; i < 8; ++i)
    x |= static_cast<uint64_t>(static_cast<unsigned char>(p[i])) << (8 * i);
  p += 8;
  return true;
}

inline void put_str(std::string& out, const std::string& s) {
  put_u64(out, s.size());
  out += s;
}

inline bool get_str(const char*& p, const char* end, std::string& s) {
  uint64_t n = 0;
  if (!get_u64(p, end, n) || static_cast<uint64_t>(end - p) < n)
    return false;
  s.assign(p, n);
  p += n;
  return true;
}

/// Big-endian: keys ending in it sort by the number.
inline void put_be64(std::string& out, uint64_t x) {
  for (int i = 7; i >= 0; --i)
    out.push_back(static_cast<char>((x >> (8 * i)) & 0xff));
}

/// The big-endian number in the 8 bytes at `p`.
inline uint64_t get_be64(const char* p) {
  uint64_t x = 0;
  for (int i = 0; i < 8; ++i)
    x = (x << 8) | static_cast<unsigned char>(p[i]);
  return x;
}

} // namespace presence::persistence::codec
