#pragma once

// An independent reference for presence::valid_id, written from the
// definition (RFC 3629 UTF-8, no ASCII controls, space or DEL, 1..128 bytes)
// rather than from core/ids.cpp. Differential tests and fuzzers compare the
// two.

#include <cstdint>
#include <string>

namespace presence::fuzz {

inline bool reference_valid_id(const std::string& s) {
  if (s.empty() || s.size() > 128)
    return false;
  size_t i = 0;
  while (i < s.size()) {
    uint32_t c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      if (c <= 0x20 || c == 0x7f)
        return false;
      ++i;
      continue;
    }
    size_t n = 0;
    uint32_t cp = 0;
    uint32_t min = 0;
    if ((c & 0xE0) == 0xC0) {
      n = 2;
      cp = c & 0x1F;
      min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
      n = 3;
      cp = c & 0x0F;
      min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
      n = 4;
      cp = c & 0x07;
      min = 0x10000;
    } else {
      return false; // continuation byte or 5/6-byte lead
    }
    if (i + n > s.size())
      return false;
    for (size_t k = 1; k < n; ++k) {
      uint32_t b = static_cast<unsigned char>(s[i + k]);
      if ((b & 0xC0) != 0x80)
        return false;
      cp = (cp << 6) | (b & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    i += n;
  }
  return true;
}

} // namespace presence::fuzz
