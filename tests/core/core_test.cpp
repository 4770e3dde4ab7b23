#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <csignal>
#include <functional>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.hpp"
#include "core/config.hpp"
#include "core/ids.hpp"
#include "core/messages.hpp"

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>
#include <caf/sec.hpp>

#include "tests/fuzz/reference_id.hpp"

using namespace presence;
using namespace std::chrono_literals;

namespace {

std::string repeat(const std::string& s, size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i)
    out += s;
  return out;
}

} // namespace

// -- ids ----------------------------------------------------------------------

TEST_CASE("valid_id accepts printable ASCII", "[ids]") {
  CHECK(valid_id("alice"));
  CHECK(valid_id("a"));
  CHECK(valid_id("user-1_x.y@example.com"));
  CHECK(valid_id("42"));
  CHECK(valid_id("-1"));
  // Every printable ASCII character except space, in one id (94 bytes).
  std::string all;
  for (char c = 0x21; c < 0x7f; ++c)
    all.push_back(c);
  REQUIRE(all.size() == 94);
  CHECK(valid_id(all));
}

TEST_CASE(
  "valid_id refuses empty ids and spaces and control characters and DEL",
  "[ids]") {
  CHECK_FALSE(valid_id(""));
  CHECK_FALSE(valid_id(" "));
  CHECK_FALSE(valid_id("a b"));
  CHECK_FALSE(valid_id(" a"));
  CHECK_FALSE(valid_id("a "));
  CHECK_FALSE(valid_id("a\tb"));
  CHECK_FALSE(valid_id("a\nb"));
  CHECK_FALSE(valid_id("a\rb"));
  CHECK_FALSE(valid_id(std::string("a\0b", 3)));
  CHECK_FALSE(valid_id(std::string(1, '\0')));
  CHECK_FALSE(valid_id("\x7f"));
  CHECK_FALSE(valid_id("a\x7f"));
  for (int c = 1; c < 0x20; ++c) {
    INFO("control character " << c);
    CHECK_FALSE(valid_id(std::string("x") + static_cast<char>(c)));
  }
}

TEST_CASE("valid_id accepts well-formed UTF-8", "[ids]") {
  CHECK(valid_id("\xC3\xA9"));                       // é U+00E9
  CHECK(valid_id("\xC2\x80"));                       // U+0080, smallest 2-byte
  CHECK(valid_id("\xDF\xBF"));                       // U+07FF, largest 2-byte
  CHECK(valid_id("\xE0\xA0\x80"));                   // U+0800, smallest 3-byte
  CHECK(valid_id("\xE2\x82\xAC"));                   // € U+20AC
  CHECK(valid_id("\xED\x9F\xBF"));                   // U+D7FF, below surrogates
  CHECK(valid_id("\xEE\x80\x80"));                   // U+E000, above surrogates
  CHECK(valid_id("\xEF\xBF\xBF"));                   // U+FFFF
  CHECK(valid_id("\xF0\x90\x80\x80"));               // U+10000
  CHECK(valid_id("\xF0\x9F\x98\x80"));               // 😀 U+1F600
  CHECK(valid_id("\xF4\x8F\xBF\xBF"));               // U+10FFFF, the last one
  CHECK(valid_id("\xE6\x97\xA5\xE6\x9C\xAC"));       // 日本
  CHECK(valid_id("j\xC3\xBCrgen-\xF0\x9F\x98\x80")); // mixed ASCII and UTF-8
}

TEST_CASE("valid_id refuses malformed UTF-8", "[ids]") {
  const std::vector<std::string> bad = {
    "\x80",                     // lone continuation byte
    "\xBF",                     // lone continuation byte
    "a\x80z",                   // continuation byte inside ASCII
    "\xC0\x80",                 // overlong NUL
    "\xC0\xAF",                 // overlong '/'
    "\xC1\xBF",                 // overlong U+007F
    "\xE0\x80\x80",             // overlong NUL, 3 bytes
    "\xE0\x9F\xBF",             // overlong U+07FF
    "\xF0\x80\x80\x80",         // overlong NUL, 4 bytes
    "\xF0\x8F\xBF\xBF",         // overlong U+FFFF
    "\xED\xA0\x80",             // U+D800, high surrogate
    "\xED\xAF\xBF",             // U+DBFF
    "\xED\xB0\x80",             // U+DC00, low surrogate
    "\xED\xBF\xBF",             // U+DFFF
    "\xED\xA0\xBD\xED\xB8\x80", // CESU-8 surrogate pair
    "\xF4\x90\x80\x80",         // U+110000, beyond Unicode
    "\xF5\x80\x80\x80",         // lead byte F5
    "\xF7\xBF\xBF\xBF",         // lead byte F7
    "\xF8\x88\x80\x80\x80",     // 5-byte form
    "\xFC\x84\x80\x80\x80\x80", // 6-byte form
    "\xFE",
    "\xFF",
    "\xC3",             // truncated 2-byte
    "a\xC3",            // truncated at the end
    "\xE2\x82",         // truncated 3-byte
    "\xF0\x9F\x98",     // truncated 4-byte
    "\xC3\x28",         // bad continuation
    "\xE2\x28\xA1",     // bad second byte
    "\xE2\x82\x28",     // bad third byte
    "\xF0\x9F\x28\x80", // bad third byte, 4-byte
    "\xC3\xA9\xA9",     // one continuation too many
  };
  for (auto& s : bad) {
    INFO("bytes " << Catch::Detail::stringify(s));
    CHECK_FALSE(valid_id(s));
    CHECK_FALSE(valid_id("ok" + s));
    CHECK_FALSE(valid_id(s + "ok"));
  }
}

TEST_CASE("valid_id limits ids to 128 bytes", "[ids]") {
  REQUIRE(max_id_length == 128);
  CHECK(valid_id(std::string(128, 'a')));
  CHECK_FALSE(valid_id(std::string(129, 'a')));
  CHECK_FALSE(valid_id(std::string(10'000, 'a')));
  // The limit counts bytes, not characters.
  CHECK(valid_id(repeat("\xC3\xA9", 64)));             // 128 bytes
  CHECK_FALSE(valid_id(repeat("\xC3\xA9", 64) + "a")); // 129 bytes
  CHECK(valid_id(repeat("\xE2\x82\xAC", 42) + "ab"));  // 128 bytes
  CHECK_FALSE(valid_id(repeat("\xE2\x82\xAC", 43)));   // 129 bytes
  CHECK(valid_id(repeat("\xF0\x9F\x98\x80", 32)));     // 128 bytes
  CHECK_FALSE(valid_id(repeat("\xF0\x9F\x98\x80", 32) + "a"));
}

// -- config -------------------------------------------------------------------

TEST_CASE("the default configuration is valid", "[config]") {
  config cfg;
  CHECK(validate(cfg) == "");
}

TEST_CASE("validate accepts the bounds of every range", "[config]") {
  const std::vector<std::pair<const char*, std::function<void(config&)>>> ok = {
    {"heartbeat_ttl 1000", [](config& c) { c.actors.heartbeat_ttl = 1000ms; }},
    {"reconnect_grace 0", [](config& c) { c.actors.reconnect_grace = 0ms; }},
    {"coalesce_window 0", [](config& c) { c.actors.coalesce_window = 0ms; }},
    {"coalesce_window 10000",
     [](config& c) { c.actors.coalesce_window = 10'000ms; }},
    {"max_devices 1", [](config& c) { c.actors.max_devices_per_user = 1; }},
    {"history_limit 1", [](config& c) { c.persistence.history_limit = 1; }},
    {"history_limit 100000",
     [](config& c) { c.persistence.history_limit = 100'000; }},
    {"checkpoint 0",
     [](config& c) { c.persistence.checkpoint_interval = 0ms; }},
    {"io_threads 1", [](config& c) { c.edge.io_threads = 1; }},
    {"io_threads 64", [](config& c) { c.edge.io_threads = 64; }},
    {"max_frame 1 KiB", [](config& c) { c.edge.max_frame_bytes = 1024; }},
    {"max_frame 64 MiB",
     [](config& c) { c.edge.max_frame_bytes = 64 * 1024 * 1024; }},
    // (max_body's lower bound is checked by the 1023 case below; a body
    // limit of exactly 1 KiB may conflict with limits derived from it.)
    {"max_body 64 MiB",
     [](config& c) { c.edge.max_body_bytes = 64 * 1024 * 1024; }},
    {"write_queue 4096", [](config& c) { c.edge.write_queue_bytes = 4096; }},
    {"write_queue_max == write_queue",
     [](config& c) {
       c.edge.write_queue_max_bytes = c.edge.write_queue_bytes;
     }},
    {"slow_consumer 100", [](config& c) { c.edge.slow_consumer_ms = 100ms; }},
    {"http_timeout 100", [](config& c) { c.edge.http_timeout = 100ms; }},
    {"rate_burst 1", [](config& c) { c.edge.rate_burst = 1.0; }},
    {"rate_limit tiny", [](config& c) { c.edge.rate_limit = 0.001; }},
    {"max_connections 1", [](config& c) { c.edge.max_connections = 1; }},
    {"scheduler 256", [](config& c) { c.scheduler_threads = 256; }},
    {"empty jwt secret (dev mode)", [](config& c) { c.edge.jwt_secret = ""; }},
  };
  for (auto& [what, mutate] : ok) {
    config cfg;
    mutate(cfg);
    INFO(what);
    CHECK(validate(cfg) == "");
  }
  for (auto level :
       {"trace", "debug", "info", "warn", "error", "critical", "off"}) {
    config cfg;
    cfg.log_level = level;
    INFO(level);
    CHECK(validate(cfg) == "");
  }
}

TEST_CASE("validate names each bad field", "[config]") {
  const auto nan = std::numeric_limits<double>::quiet_NaN();
  struct bad_case {
    const char* what;
    std::function<void(config&)> mutate;
    const char* expect; // part of the message
  };
  const std::vector<bad_case> bad = {
    {"heartbeat_ttl 999", [](config& c) { c.actors.heartbeat_ttl = 999ms; },
     "heartbeat-ttl"},
    {"heartbeat_ttl 0", [](config& c) { c.actors.heartbeat_ttl = 0ms; },
     "heartbeat-ttl"},
    {"reconnect_grace -1", [](config& c) { c.actors.reconnect_grace = -1ms; },
     "reconnect-grace"},
    {"coalesce_window -1", [](config& c) { c.actors.coalesce_window = -1ms; },
     "coalesce-window"},
    {"coalesce_window 10001",
     [](config& c) { c.actors.coalesce_window = 10'001ms; }, "coalesce-window"},
    {"max_devices 0", [](config& c) { c.actors.max_devices_per_user = 0; },
     "max-devices-per-user"},
    {"data_dir empty", [](config& c) { c.persistence.data_dir = ""; },
     "data-dir"},
    {"history_limit 0", [](config& c) { c.persistence.history_limit = 0; },
     "history-limit"},
    {"history_limit 100001",
     [](config& c) { c.persistence.history_limit = 100'001; }, "history-limit"},
    {"checkpoint -1",
     [](config& c) { c.persistence.checkpoint_interval = -1ms; },
     "checkpoint-interval"},
    {"io_threads 0", [](config& c) { c.edge.io_threads = 0; }, "io-threads"},
    {"io_threads 65", [](config& c) { c.edge.io_threads = 65; }, "io-threads"},
    {"max_frame 1023", [](config& c) { c.edge.max_frame_bytes = 1023; },
     "max-frame-bytes"},
    {"max_frame 64 MiB + 1",
     [](config& c) { c.edge.max_frame_bytes = 64 * 1024 * 1024 + 1; },
     "max-frame-bytes"},
    {"max_body 1023", [](config& c) { c.edge.max_body_bytes = 1023; },
     "max-body-bytes"},
    {"max_body 64 MiB + 1",
     [](config& c) { c.edge.max_body_bytes = 64 * 1024 * 1024 + 1; },
     "max-body-bytes"},
    {"write_queue 4095", [](config& c) { c.edge.write_queue_bytes = 4095; },
     "write-queue-bytes"},
    {"write_queue_max < write_queue",
     [](config& c) {
       c.edge.write_queue_max_bytes = c.edge.write_queue_bytes - 1;
     },
     "write-queue-max-bytes"},
    {"write_queue above default max",
     [](config& c) { c.edge.write_queue_bytes = 32 * 1024 * 1024; },
     "write-queue-max-bytes"},
    {"slow_consumer 99", [](config& c) { c.edge.slow_consumer_ms = 99ms; },
     "slow-consumer-ms"},
    {"http_timeout 99", [](config& c) { c.edge.http_timeout = 99ms; },
     "http-timeout"},
    {"rate_limit 0", [](config& c) { c.edge.rate_limit = 0; }, "rate-limit"},
    {"rate_limit -1", [](config& c) { c.edge.rate_limit = -1; }, "rate-limit"},
    {"rate_limit NaN", [nan](config& c) { c.edge.rate_limit = nan; },
     "rate-limit"},
    {"rate_burst 0.5", [](config& c) { c.edge.rate_burst = 0.5; },
     "rate-burst"},
    {"rate_burst NaN", [nan](config& c) { c.edge.rate_burst = nan; },
     "rate-burst"},
    {"max_connections 0", [](config& c) { c.edge.max_connections = 0; },
     "max-connections"},
    {"max_subscriptions 0", [](config& c) { c.actors.max_subscriptions = 0; },
     "max-subscriptions"},
    {"scheduler 257", [](config& c) { c.scheduler_threads = 257; },
     "scheduler-threads"},
    {"policy fifo", [](config& c) { c.scheduler_policy = "fifo"; },
     "scheduler-policy"},
    {"mmap threshold above glibc's 32 MiB",
     [](config& c) { c.mmap_threshold_kb = 32 * 1024 + 1; },
     "malloc-mmap-threshold-kb"},
    {"log_level empty", [](config& c) { c.log_level = ""; }, "log-level"},
    {"log_level verbose", [](config& c) { c.log_level = "verbose"; },
     "log-level"},
    {"log_level INFO (case)", [](config& c) { c.log_level = "INFO"; },
     "log-level"},
    {"log_level 'info '", [](config& c) { c.log_level = "info "; },
     "log-level"},
  };
  for (auto& b : bad) {
    config cfg;
    b.mutate(cfg);
    auto msg = validate(cfg);
    INFO(b.what << " -> '" << msg << "'");
    CHECK_FALSE(msg.empty());
    CHECK(msg.find(b.expect) != std::string::npos);
  }
}

// -- clock --------------------------------------------------------------------

TEST_CASE("iso8601 formats UTC with milliseconds", "[clock]") {
  CHECK(iso8601(0) == "1970-01-01T00:00:00.000Z");
  CHECK(iso8601(1) == "1970-01-01T00:00:00.001Z");
  CHECK(iso8601(999) == "1970-01-01T00:00:00.999Z");
  CHECK(iso8601(1'000) == "1970-01-01T00:00:01.000Z");
  CHECK(iso8601(1'700'000'000'000) == "2023-11-14T22:13:20.000Z");
  CHECK(iso8601(1'704'067'200'123) == "2024-01-01T00:00:00.123Z");
  CHECK(iso8601(951'782'400'000) == "2000-02-29T00:00:00.000Z"); // leap day
  CHECK(iso8601(253'402'300'799'999) == "9999-12-31T23:59:59.999Z");
}

TEST_CASE("iso8601 is right when the cached second changes and comes back",
          "[clock]") {
  // The date and time of a second are cached per thread.
  CHECK(iso8601(1'704'067'200'123) == "2024-01-01T00:00:00.123Z");
  CHECK(iso8601(1'704'067'200'999) == "2024-01-01T00:00:00.999Z");
  CHECK(iso8601(1'704'067'201'000) == "2024-01-01T00:00:01.000Z");
  CHECK(iso8601(1'704'067'200'005) == "2024-01-01T00:00:00.005Z");
  CHECK(iso8601(-1) == "1969-12-31T23:59:59.999Z");
  CHECK(iso8601(1'704'067'200'050) == "2024-01-01T00:00:00.050Z");
  // Past year 9999 the format widens and nothing is cached.
  CHECK(iso8601(253'402'300'800'000) == "10000-01-01T00:00:00.000Z");
  CHECK(iso8601(253'402'300'800'007) == "10000-01-01T00:00:00.007Z");
}

TEST_CASE("iso8601 in a fresh thread, first call one second before 1970",
          "[clock]") {
  std::string got;
  std::thread t{[&] { got = iso8601(-1); }};
  t.join();
  CHECK(got == "1969-12-31T23:59:59.999Z");
}

TEST_CASE("iso8601 handles times before the epoch", "[clock]") {
  CHECK(iso8601(-1) == "1969-12-31T23:59:59.999Z");
  CHECK(iso8601(-999) == "1969-12-31T23:59:59.001Z");
  CHECK(iso8601(-1'000) == "1969-12-31T23:59:59.000Z");
  CHECK(iso8601(-1'001) == "1969-12-31T23:59:58.999Z");
  CHECK(iso8601(-86'400'000) == "1969-12-31T00:00:00.000Z");
}

TEST_CASE("system_now is wall-clock milliseconds", "[clock]") {
  auto a = system_now();
  auto b = system_now();
  CHECK(a > 1'600'000'000'000); // after 2020
  CHECK(a < 4'102'444'800'000); // before 2100
  CHECK(b >= a);
}

// -- messages -----------------------------------------------------------------

TEST_CASE("status names round-trip and offline cannot be set", "[messages]") {
  for (auto s : {presence_status::online, presence_status::away,
                 presence_status::busy, presence_status::dnd}) {
    presence_status out = presence_status::offline;
    REQUIRE(parse_status(status_name(s), out));
    CHECK(out == s);
  }
  CHECK(std::string{status_name(presence_status::offline)} == "offline");
  presence_status out = presence_status::busy;
  CHECK_FALSE(parse_status("offline", out));
  CHECK_FALSE(parse_status("Online", out));
  CHECK_FALSE(parse_status("", out));
  CHECK(out == presence_status::busy); // untouched on failure
}

TEST_CASE("presence errors round-trip through caf::error", "[messages]") {
  for (auto x : {errc::too_many_devices, errc::shutting_down, errc::user_gone,
                 errc::invalid_argument}) {
    CHECK(presence_code(make_error(x)) == x);
  }
  CHECK(presence_code(caf::make_error(caf::sec::request_timeout))
        == errc::none);
  CHECK(std::string{to_string(errc::user_gone)} == "user_gone");
}

TEST_CASE("presence_code of an empty error is none", "[messages]") {
  // Bug: presence_code calls err.category() without checking for an empty
  // caf::error; in CAF 0.17 that dereferences a null pointer. Run it in a
  // child process so a crash fails this test only.
  auto pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    std::signal(SIGSEGV, SIG_DFL);
    std::signal(SIGBUS, SIG_DFL);
    _exit(presence_code(caf::error{}) == errc::none ? 0 : 1);
  }
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  INFO("child " << (WIFSIGNALED(status)
                      ? "died of signal " + std::to_string(WTERMSIG(status))
                      : "exited with " + std::to_string(WEXITSTATUS(status))));
  CHECK((WIFEXITED(status) && WEXITSTATUS(status) == 0));
}

TEST_CASE("valid_id agrees with a reference decoder on all short inputs",
          "[ids]") {
  // Every 1- and 2-byte string, every 3-byte string with a 3-byte lead and
  // every 4-byte string with a 4-byte lead and an interesting second byte.
  size_t mismatches = 0;
  std::string first_mismatch;
  auto compare = [&](const std::string& s) {
    if (valid_id(s) != presence::fuzz::reference_valid_id(s)) {
      if (mismatches++ == 0)
        first_mismatch = s;
    }
  };
  for (int a = 0; a < 256; ++a) {
    compare(std::string(1, static_cast<char>(a)));
    for (int b = 0; b < 256; ++b)
      compare(std::string{static_cast<char>(a), static_cast<char>(b)});
  }
  for (int a = 0xE0; a <= 0xEF; ++a)
    for (int b = 0x70; b <= 0xCF; ++b)
      for (int c = 0x70; c <= 0xCF; ++c)
        compare(std::string{static_cast<char>(a), static_cast<char>(b),
                            static_cast<char>(c)});
  for (int a = 0xEF; a <= 0xFF; ++a)
    for (int b : {0x7F, 0x80, 0x8F, 0x90, 0xBF, 0xC0})
      for (int c : {0x7F, 0x80, 0xBF, 0xC0})
        for (int d : {0x41, 0x80, 0xBF, 0xC0})
          compare(std::string{static_cast<char>(a), static_cast<char>(b),
                              static_cast<char>(c), static_cast<char>(d)});
  INFO("first mismatch: " << Catch::Detail::stringify(first_mismatch));
  CHECK(mismatches == 0);
}

// -- contacts and visibility ----------------------------------------------------

TEST_CASE("visibility: who may see a user who restricts it", "[core]") {
  contact_settings s;
  CHECK_FALSE(make_visibility(s, false).restricted());
  CHECK(make_visibility(s, true).restricted()); // the server's default
  s.mode = visibility_mode::everyone;
  CHECK_FALSE(make_visibility(s, true).restricted());
  s.mode = visibility_mode::contacts;
  s.ids = {"zed", "amy", "zed"};
  s.since = 40;
  auto v = make_visibility(s, false);
  CHECK(v.since() == 40);
  REQUIRE(v.restricted());
  CHECK(v.r->contacts == std::vector<std::string>{"amy", "zed"});
  CHECK(with_since(v, 7).since() == 7);
  CHECK(same_visibility(with_since(v, 7), v));
  CHECK_FALSE(with_since(visibility{}, 7).restricted());
  CHECK(may_see(viewer{"amy", false}, "cat", v));
  CHECK(may_see(viewer{"zed", false}, "cat", v));
  CHECK(may_see(viewer{"cat", false}, "cat", v)); // themselves
  CHECK(may_see(viewer::everything(), "cat", v)); // admins, the server
  CHECK_FALSE(may_see(viewer{"bob", false}, "cat", v));
  CHECK_FALSE(may_see(viewer{}, "cat", v)); // anonymous
  CHECK(may_see(viewer{}, "cat", visibility{}));
  // What someone outside sees: offline, never seen, the same version.
  presence_delta d{"cat", true, presence_status::busy, 10, 5, 42, "hi", 99, v};
  CHECK(hidden_from(viewer{"bob", false}, d));
  CHECK_FALSE(hidden_from(viewer{"amy", false}, d));
  auto h = hidden(d);
  CHECK(h.user_id == "cat");
  CHECK_FALSE(h.online);
  CHECK(h.status == presence_status::offline);
  CHECK(h.last_seen == 0);
  CHECK(h.online_since == 0);
  CHECK(h.status_text.empty());
  // Not the version of the user's latest change (a time): the one that hid
  // them. Only that change is sent to those left out.
  CHECK(h.version == 40);
  CHECK_FALSE(announced_to(viewer{"bob", false}, d));
  CHECK(announced_to(viewer{"amy", false}, d));
  d.version = 40;
  CHECK(announced_to(viewer{"bob", false}, d));
  auto st = status_of(d);
  st.devices.push_back(device_view{});
  hide(st);
  CHECK(st.version == 40);
  CHECK_FALSE(st.online);
  CHECK(st.last_seen == 0);
  CHECK(st.devices.empty());
  CHECK(same_visibility(v, make_visibility(s, false)));
  CHECK_FALSE(same_visibility(v, visibility{}));
  visibility_mode m;
  CHECK(parse_visibility("contacts", m));
  CHECK(m == visibility_mode::contacts);
  CHECK_FALSE(parse_visibility("friends", m));
  CHECK(std::string{visibility_name(visibility_mode::server_default)}
        == "default");
}

TEST_CASE("visibility crosses nodes with a delta (CAF serialization)",
          "[core]") {
  caf::actor_system_config cfg;
  register_types(cfg);
  caf::actor_system sys{cfg};
  contact_settings s{visibility_mode::contacts, {"amy", "bob"}, 17};
  for (auto vis : {visibility{}, make_visibility(s, false)}) {
    presence_delta d{"cat", true, presence_status::online, 1, 2, 3, "", 0, vis};
    std::vector<char> buf;
    caf::binary_serializer sink{sys, buf};
    REQUIRE_FALSE(sink(d));
    presence_delta back;
    back.vis = make_visibility(contact_settings{visibility_mode::contacts,
                                                {"junk"}},
                               false);
    caf::binary_deserializer source{sys, buf};
    REQUIRE_FALSE(source(back));
    CHECK(back.user_id == "cat");
    CHECK(back.version == 3);
    CHECK(same_visibility(back.vis, vis));
    CHECK(back.vis.since() == vis.since());
    CHECK(back.vis.restricted() == vis.restricted());
  }
}

TEST_CASE("scheduler threads: the cores the I/O threads leave, at least one",
          "[config]") {
  config c;
  CHECK(scheduler_threads(c, 2) == 1);
  CHECK(scheduler_threads(c, 8) == 7);
  CHECK(scheduler_threads(c, 1) == 1);
  c.edge.io_threads = 2;
  CHECK(scheduler_threads(c, 2) == 1);
  CHECK(scheduler_threads(c, 16) == 14);
  c.scheduler_threads = 4;
  CHECK(scheduler_threads(c, 2) == 4);
  c.scheduler_threads = 0;
  CHECK(scheduler_threads(c) >= 1);
}
