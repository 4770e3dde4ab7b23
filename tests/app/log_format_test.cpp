// --log-format json: every line is one JSON object, whatever the message
// holds (app/log_format).

#include <catch2/catch.hpp>

#include <memory>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>
#include <spdlog/logger.h>
#include <spdlog/sinks/ostream_sink.h>

#include "app/log_format.hpp"

using presence::app::append_json_escaped;
using presence::app::json_log_formatter;

namespace {

std::string escaped(std::string_view s) {
  spdlog::memory_buf_t buf;
  append_json_escaped(s, buf);
  return std::string{buf.data(), buf.size()};
}

/// What a logger with the JSON formatter writes for one message.
std::string logged(spdlog::level::level_enum level, const std::string& name,
                   const std::string& msg) {
  std::ostringstream out;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_st>(out);
  sink->set_formatter(std::make_unique<json_log_formatter>());
  spdlog::logger l{name, sink};
  l.set_level(spdlog::level::trace);
  l.log(level, "{}", msg);
  l.flush();
  return out.str();
}

} // namespace

TEST_CASE("a log line is one JSON object with time, level, logger, msg",
          "[log]") {
  auto line = logged(spdlog::level::warn, "edge", "ws: closing slow consumer");
  REQUIRE(!line.empty());
  CHECK(line.back() == '\n');
  CHECK(line.find('\n') == line.size() - 1);
  auto j = nlohmann::json::parse(line);
  CHECK(j.size() == 4);
  CHECK(j["level"] == "warning");
  CHECK(j["logger"] == "edge");
  CHECK(j["msg"] == "ws: closing slow consumer");
  // UTC with milliseconds: 2026-12-01T18:40:00.123Z
  auto t = j["time"].get<std::string>();
  REQUIRE(t.size() == 24);
  CHECK(t[10] == 'T');
  CHECK(t[19] == '.');
  CHECK(t.back() == 'Z');
}

TEST_CASE("messages are escaped: quotes, backslashes, control characters",
          "[log]") {
  CHECK(escaped("plain") == "plain");
  CHECK(escaped("a\"b\\c") == "a\\\"b\\\\c");
  CHECK(escaped("line\nnext\r\t") == "line\\nnext\\r\\t");
  CHECK(escaped(std::string_view{"\x01\x1f\x7f", 3})
        == "\\u0001\\u001f\\u007f");
  CHECK(escaped(std::string_view{"nul\0end", 7}) == "nul\\u0000end");
  // Valid UTF-8 passes as it is.
  CHECK(escaped("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80")
        == "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
}

TEST_CASE("bytes that are not UTF-8 become U+FFFD, one per byte", "[log]") {
  CHECK(escaped("\xff") == "\\ufffd");
  CHECK(escaped("a\xc3") == "a\\ufffd");                     // cut short
  CHECK(escaped("\xc0\xaf") == "\\ufffd\\ufffd");            // overlong
  CHECK(escaped("\xed\xa0\x80") == "\\ufffd\\ufffd\\ufffd"); // a surrogate
  CHECK(escaped("\xf4\x90\x80\x80")                          // above U+10FFFF
        == "\\ufffd\\ufffd\\ufffd\\ufffd");
  CHECK(escaped("\xe2\x82") == "\\ufffd\\ufffd");
}

TEST_CASE("any bytes in a message still make a line that parses", "[log]") {
  // Every byte value, and a few random strings of them.
  std::string all;
  for (int c = 0; c < 256; ++c)
    all += static_cast<char>(c);
  auto j = nlohmann::json::parse(logged(spdlog::level::info, "x", all));
  auto msg = j["msg"].get<std::string>();
  CHECK(msg.size() == 128 + 128 * 3); // ASCII as it is, the rest U+FFFD
  CHECK(msg[0] == '\0');
  CHECK(msg.find("0123456789") != std::string::npos);
  uint32_t seed = 12345;
  for (int round = 0; round < 500; ++round) {
    std::string s;
    for (int i = 0; i < 40; ++i) {
      seed = seed * 1103515245u + 12345u;
      s += static_cast<char>((seed >> 16) & 0xFF);
    }
    auto line = logged(spdlog::level::err, "fuzz\"name", s);
    REQUIRE_NOTHROW(nlohmann::json::parse(line));
    CHECK(nlohmann::json::parse(line)["logger"] == "fuzz\"name");
  }
}
