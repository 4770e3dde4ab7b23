#pragma once

// --log-format: the text lines people read, or one JSON object per line
// for log pipelines (Loki, Elasticsearch, journald's JSON export):
//   {"time":"2026-12-01T18:40:00.123Z","level":"warn","logger":"edge",
//    "msg":"ws: closing slow consumer (1048576 bytes queued)"}
// The message is escaped as a JSON string; bytes that are not UTF-8 (a
// client's id, say) become U+FFFD, so every line parses.

#include <memory>
#include <string>
#include <string_view>

#include <spdlog/formatter.h>

namespace presence::app {

/// spdlog's formatter for --log-format json.
class json_log_formatter final : public spdlog::formatter {
public:
  void format(const spdlog::details::log_msg& msg,
              spdlog::memory_buf_t& dest) override;
  std::unique_ptr<spdlog::formatter> clone() const override;
};

/// Appends `s` to `out` as the inside of a JSON string: quotes,
/// backslashes and control characters escaped, invalid UTF-8 as U+FFFD.
void append_json_escaped(std::string_view s, spdlog::memory_buf_t& out);

/// Sets the default logger's (and so every folder logger's) format:
/// "text" or "json" (validated by config).
void set_log_format(const std::string& format);

} // namespace presence::app
