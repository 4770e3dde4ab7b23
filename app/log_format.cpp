#include "app/log_format.hpp"

#include <chrono>
#include <ctime>

#include <spdlog/spdlog.h>

namespace presence::app {

namespace {

void append(spdlog::memory_buf_t& out, std::string_view s) {
  out.append(s.data(), s.data() + s.size());
}

/// Length of the valid UTF-8 sequence at `s` (0 if it is not one):
/// shortest forms only, no surrogates, at most U+10FFFF.
size_t utf8_length(const unsigned char* s, size_t n) {
  auto c = s[0];
  size_t len;
  uint32_t cp;
  if (c < 0x80)
    return 1;
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
    cp = c & 0x1Fu;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    cp = c & 0x0Fu;
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    cp = c & 0x07u;
  } else {
    return 0;
  }
  if (n < len)
    return 0;
  for (size_t i = 1; i < len; ++i) {
    if ((s[i] & 0xC0u) != 0x80u)
      return 0;
    cp = (cp << 6) | (s[i] & 0x3Fu);
  }
  if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000)
      || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
    return 0;
  return len;
}

} // namespace

void append_json_escaped(std::string_view s, spdlog::memory_buf_t& out) {
  static constexpr char hex[] = "0123456789abcdef";
  auto* p = reinterpret_cast<const unsigned char*>(s.data());
  size_t n = s.size();
  size_t i = 0;
  while (i < n) {
    auto c = p[i];
    switch (c) {
      case '"':
        append(out, "\\\"");
        ++i;
        continue;
      case '\\':
        append(out, "\\\\");
        ++i;
        continue;
      case '\n':
        append(out, "\\n");
        ++i;
        continue;
      case '\r':
        append(out, "\\r");
        ++i;
        continue;
      case '\t':
        append(out, "\\t");
        ++i;
        continue;
      default:
        break;
    }
    if (c < 0x20 || c == 0x7F) {
      char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xF]};
      out.append(esc, esc + 6);
      ++i;
      continue;
    }
    auto len = utf8_length(p + i, n - i);
    if (len == 0) {
      append(out, "\\ufffd");
      ++i;
      continue;
    }
    out.append(s.data() + i, s.data() + i + len);
    i += len;
  }
}

void json_log_formatter::format(const spdlog::details::log_msg& msg,
                                spdlog::memory_buf_t& dest) {
  using namespace std::chrono;
  auto since = msg.time.time_since_epoch();
  auto secs = duration_cast<seconds>(since);
  auto ms = duration_cast<milliseconds>(since - secs).count();
  std::time_t t = secs.count();
  std::tm tm{};
  gmtime_r(&t, &tm);
  char when[40];
  auto len = std::snprintf(when, sizeof(when),
                           "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                           tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                           tm.tm_hour, tm.tm_min, tm.tm_sec,
                           static_cast<int>(ms));
  append(dest, "{\"time\":\"");
  dest.append(when, when + len);
  append(dest, "\",\"level\":\"");
  auto level = spdlog::level::to_string_view(msg.level);
  dest.append(level.data(), level.data() + level.size());
  append(dest, "\",\"logger\":\"");
  append_json_escaped(std::string_view{msg.logger_name.data(),
                                       msg.logger_name.size()},
                      dest);
  append(dest, "\",\"msg\":\"");
  append_json_escaped(std::string_view{msg.payload.data(), msg.payload.size()},
                      dest);
  append(dest, "\"}\n");
}

std::unique_ptr<spdlog::formatter> json_log_formatter::clone() const {
  return std::make_unique<json_log_formatter>();
}

void set_log_format(const std::string& format) {
  if (format == "json")
    spdlog::set_formatter(std::make_unique<json_log_formatter>());
  else
    spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ [%n] %v");
}

} // namespace presence::app
