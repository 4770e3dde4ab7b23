#include "core/ids.hpp"

namespace presence {

namespace {

// Length of the UTF-8 sequence starting at s[i], or 0 if it is malformed.
size_t utf8_seq(const std::string& s, size_t i) {
  auto c = static_cast<unsigned char>(s[i]);
  size_t n = c < 0xC2 ? 0 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : c < 0xF5 ? 4 : 0;
  if (n == 0 || i + n > s.size())
    return 0;
  for (size_t k = 1; k < n; ++k)
    if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80)
      return 0;
  auto c1 = static_cast<unsigned char>(s[i + 1]);
  // Overlong forms, UTF-16 surrogates and code points above U+10FFFF.
  if ((c == 0xE0 && c1 < 0xA0) || (c == 0xED && c1 > 0x9F)
      || (c == 0xF0 && c1 < 0x90) || (c == 0xF4 && c1 > 0x8F))
    return 0;
  return n;
}

} // namespace

bool valid_id(const std::string& id) {
  if (id.empty() || id.size() > max_id_length)
    return false;
  for (size_t i = 0; i < id.size();) {
    auto c = static_cast<unsigned char>(id[i]);
    if (c < 0x80) {
      // Control characters (including NUL, which the store uses as a key
      // separator), space and DEL are refused.
      if (c <= 0x20 || c == 0x7f)
        return false;
      ++i;
    } else {
      auto n = utf8_seq(id, i);
      if (n == 0)
        return false;
      i += n;
    }
  }
  return true;
}

} // namespace presence
