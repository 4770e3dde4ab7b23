// The frames written directly (edge/common/json_out) against the json
// trees they replaced, byte for byte: clients see exactly what they saw.

#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/clock.hpp"
#include "edge/common/json_out.hpp"
#include "edge/common/seed_payloads.hpp"
#include "edge/native/native_protocol.hpp"

using namespace presence;
using namespace presence::edge;
using json = nlohmann::json;

namespace {

constexpr millis t0 = 1'704'067'200'000; // 2024-01-01T00:00:00Z

std::string dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

json or_null(const std::string& s) {
  return s.empty() ? json(nullptr) : json(s);
}

// What encode_status, encode_joined and encode_delta built before (the
// json tree of the native protocol's user, with its devices).
json tree_user(const user_status& s, bool with_devices) {
  auto j = seeds::native_user(delta_of(s));
  if (with_devices) {
    auto devs = json::array();
    for (auto& d : s.devices)
      devs.push_back({
        {"device_id", d.device_id},
        {"user_agent", d.user_agent},
        {"platform", d.platform},
        {"status", status_name(d.status)},
        {"connected_at", seeds::iso_or_null(d.connected_at)},
        {"last_active", seeds::iso_or_null(d.last_active)},
      });
    j["devices"] = std::move(devs);
  }
  return j;
}

json tree_reply(const char* type, const std::string& id_json) {
  json j = {{"type", type}};
  if (!id_json.empty())
    j["id"] = json::parse(id_json);
  return j;
}

// Strings a client or the server's data may hold: plain, every escape,
// control bytes, DEL, multi-byte UTF-8, and invalid or cut UTF-8.
const std::vector<std::string> texts = {
  "",
  "alice",
  "with space and ~!@#$%^&*()_+{}|:<>?",
  "quote\" back\\slash /slash",
  std::string("nul\0byte", 8),
  "\b\f\n\r\t\x01\x1f",
  "del\x7f",
  "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
  "bad\xff\xfe",
  "cut\xe2\x82",
  "\xc3",
};

user_status sample(const std::string& text, int devices) {
  user_status s;
  s.user_id = text.empty() ? "u" : text;
  s.online = devices > 0;
  s.status = devices > 0 ? presence_status::away : presence_status::offline;
  s.last_seen = devices == 1 ? 0 : t0 + 5'123; // 0: never seen (null)
  s.online_since = devices > 0 ? t0 : 0;
  s.version = 18'446'744'073'709'551'000ull;
  s.status_text = text;
  s.status_expires = text.empty() ? 0 : t0 + 60'000;
  for (int i = 0; i < devices; ++i) {
    device_view d;
    d.device_id = "d" + std::to_string(i) + text;
    d.user_agent = text;
    d.platform = i == 0 ? "web" : text;
    d.status = i == 0 ? presence_status::online : presence_status::dnd;
    d.connected_at = t0 + i;
    d.last_active = i == 0 ? 0 : t0 + 999;
    s.devices.push_back(d);
  }
  return s;
}

} // namespace

TEST_CASE("append_json_string writes nlohmann's bytes", "[json_out]") {
  for (auto& t : texts) {
    INFO(
      "text " << json(t).dump(-1, ' ', true, json::error_handler_t::replace));
    std::string out = "x";
    append_json_string(out, t);
    CHECK(out == "x" + dump(json(t)));
  }
}

TEST_CASE("the directly written frames are the json trees' bytes",
          "[json_out][native][encode]") {
  for (auto& t : texts) {
    INFO(
      "text " << json(t).dump(-1, ' ', true, json::error_handler_t::replace));
    for (int devices : {0, 1, 2}) {
      auto s = sample(t, devices);
      for (std::string id :
           {"", "7", "-3", "1.5", "1e+20", R"("j1")", R"("q\"\u0001")"}) {
        auto st = tree_reply("status", id);
        st["user"] = tree_user(s, true);
        CHECK(encode_status(id, s) == dump(st));
        auto set = tree_reply("status_set", id);
        set["user"] = tree_user(s, true);
        CHECK(encode_status_set(id, s) == dump(set));
        join_ack ack;
        ack.device_id = devices > 0 ? s.devices[0].device_id : t;
        ack.status = s;
        auto j = tree_reply("joined", id);
        j["user_id"] = s.user_id;
        j["device_id"] = ack.device_id;
        j["user"] = tree_user(s, true);
        CHECK(encode_joined(id, ack) == dump(j));
      }
      auto d = delta_of(s);
      auto dj = seeds::native_user(d);
      dj["type"] = "user.status.changed";
      CHECK(encode_delta(d) == dump(dj));
    }
    for (bool feed : {false, true}) {
      json w = {{"type", "welcome"},
                {"user_id", or_null(t)},
                {"device_id", or_null(t + "d")},
                {"heartbeat_ttl_ms", 90'000},
                {"global_feed", feed},
                {"server", "presenced"}};
      CHECK(encode_welcome(t, t + "d", 90'000, feed) == dump(w));
    }
  }
}
