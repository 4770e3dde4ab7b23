#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/clock.hpp"
#include "edge/native/native_protocol.hpp"

using namespace presence;
using namespace presence::edge;
using json = nlohmann::json;
using strings = std::vector<std::string>;

namespace {

native_command parse_ok(const std::string& text) {
  native_command cmd;
  protocol_error err;
  INFO("frame " << text);
  bool ok = parse_native(text, cmd, err);
  INFO("error " << err.code << ": " << err.message);
  REQUIRE(ok);
  return cmd;
}

native_command parse_ok(const json& j) {
  return parse_ok(j.dump());
}

native_command parse_ok(const char* text) {
  return parse_ok(std::string{text});
}

protocol_error parse_err(const std::string& text) {
  native_command cmd;
  protocol_error err;
  INFO("frame " << text);
  REQUIRE_FALSE(parse_native(text, cmd, err));
  CHECK_FALSE(err.code.empty());
  CHECK_FALSE(err.message.empty());
  return err;
}

protocol_error parse_err(const json& j) {
  return parse_err(j.dump());
}

protocol_error parse_err(const char* text) {
  return parse_err(std::string{text});
}

std::string code_of(const json& j) {
  return parse_err(j).code;
}

json parse_json(const std::string& s) {
  INFO("encoded " << s);
  auto j = json::parse(s, nullptr, false);
  REQUIRE_FALSE(j.is_discarded());
  REQUIRE(j.is_object());
  return j;
}

strings numbered_ids(size_t n) {
  strings out;
  for (size_t i = 0; i < n; ++i)
    out.push_back("u" + std::to_string(i));
  return out;
}

constexpr millis t0 = 1'704'067'200'000; // 2024-01-01T00:00:00.000Z

user_status sample_user() {
  user_status s;
  s.user_id = "alice";
  s.online = true;
  s.status = presence_status::away;
  s.last_seen = t0 + 5'000;
  s.online_since = t0;
  s.version = 17;
  device_view d;
  d.device_id = "phone";
  d.user_agent = "UA/1.0";
  d.platform = "ios";
  d.status = presence_status::away;
  d.connected_at = t0;
  d.last_active = t0 + 5'000;
  s.devices.push_back(d);
  return s;
}

} // namespace

// -- parsing: every op --------------------------------------------------------

TEST_CASE("every type name and alias maps to its op", "[native]") {
  struct row {
    const char* type;
    native_op op;
    json extra;
  };
  const std::vector<row> rows = {
    {"join", native_op::join, json::object()},
    {"identify", native_op::join, json::object()},
    {"leave", native_op::leave, json::object()},
    {"ping", native_op::ping, json::object()},
    {"heartbeat", native_op::ping, json::object()},
    {"get_status", native_op::get_status, {{"user_id", "a"}}},
    {"get_statuses", native_op::get_statuses, {{"user_ids", {"a"}}}},
    {"batch_status", native_op::get_statuses, {{"user_ids", {"a"}}}},
    {"list_online", native_op::list_online, json::object()},
    {"count_online", native_op::count_online, json::object()},
    {"subscribe", native_op::subscribe, {{"global", true}}},
    {"unsubscribe", native_op::unsubscribe, {{"global", true}}},
    {"set_status", native_op::set_status, {{"status", "busy"}}},
    {"send", native_op::send, {{"conversation_id", "c"}}},
    {"activity", native_op::activity, json::object()},
    {"join_room", native_op::join_room, {{"room", "r"}}},
    {"leave_room", native_op::leave_room, {{"room", "r"}}},
    {"typing", native_op::typing, {{"room", "r"}}},
  };
  for (auto& r : rows) {
    json frame = r.extra;
    frame["type"] = r.type;
    INFO(r.type);
    auto cmd = parse_ok(frame);
    CHECK(cmd.op == r.op);
    CHECK(cmd.id_json.empty());
  }
}

TEST_CASE("type names are exact", "[native]") {
  CHECK(code_of({{"type", "JOIN"}}) == "unknown_type");
  CHECK(code_of({{"type", "join "}}) == "unknown_type");
  CHECK(code_of({{"type", ""}}) == "unknown_type");
  CHECK(code_of({{"type", "user.status.changed"}}) == "unknown_type");
  auto long_type = parse_err(json{{"type", std::string(5'000, 'x')}});
  CHECK(long_type.code == "unknown_type");
  CHECK(long_type.message.size() < 200); // the echo is cut
}

TEST_CASE("join reads every field", "[native]") {
  auto cmd = parse_ok(json{{"type", "join"},
                           {"user_id", "alice"},
                           {"device_id", "d1"},
                           {"user_agent", "UA/1"},
                           {"platform", "web"},
                           {"token", "t.o.k"},
                           {"status", "away"}});
  CHECK(cmd.op == native_op::join);
  CHECK(cmd.user_id == "alice");
  CHECK(cmd.device_id == "d1");
  CHECK(cmd.user_agent == "UA/1");
  CHECK(cmd.platform == "web");
  CHECK(cmd.token == "t.o.k");
  CHECK(cmd.has_status);
  CHECK(cmd.status == presence_status::away);

  auto bare = parse_ok(json{{"type", "identify"}});
  CHECK(bare.user_id.empty());
  CHECK(bare.device_id.empty());
  CHECK_FALSE(bare.has_status);
  CHECK(bare.status == presence_status::online);
}

TEST_CASE("join accepts camelCase aliases and snake_case wins", "[native]") {
  auto cmd = parse_ok(json{{"type", "join"},
                           {"userId", "bob"},
                           {"deviceId", "tab"},
                           {"userAgent", "UA/2"}});
  CHECK(cmd.user_id == "bob");
  CHECK(cmd.device_id == "tab");
  CHECK(cmd.user_agent == "UA/2");
  auto both = parse_ok(
    json{{"type", "join"}, {"user_id", "snake"}, {"userId", "camel"}});
  CHECK(both.user_id == "snake");
  auto null_snake = parse_ok(
    json{{"type", "join"}, {"user_id", nullptr}, {"userId", "camel"}});
  CHECK(null_snake.user_id == "camel");
}

TEST_CASE("numeric ids become strings", "[native]") {
  auto cmd = parse_ok(R"({"type":"join","user_id":42,"device_id":-7})");
  CHECK(cmd.user_id == "42");
  CHECK(cmd.device_id == "-7");
  auto get = parse_ok(R"({"type":"get_status","userId":123456789012})");
  CHECK(get.user_id == "123456789012");
  auto many = parse_ok(R"({"type":"get_statuses","user_ids":[1,"two",3]})");
  CHECK(many.user_ids == strings{"1", "two", "3"});
}

TEST_CASE("numeric ids above INT64_MAX keep their value", "[native]") {
  // Bug: opt_string/id_list read unsigned JSON integers with
  // get<long long>(), so 18446744073709551615 becomes "-1" (the id of
  // another user) and 9223372036854775808 becomes "-9223372036854775808".
  native_command cmd;
  protocol_error err;
  bool ok
    = parse_native(R"({"type":"get_status","user_id":18446744073709551615})",
                   cmd, err);
  CHECK((!ok || cmd.user_id == "18446744073709551615"));
  CHECK(cmd.user_id != "-1");
  ok = parse_native(
    R"({"type":"get_statuses","user_ids":[9223372036854775808]})", cmd, err);
  CHECK((!ok || cmd.user_ids == strings{"9223372036854775808"}));
}

TEST_CASE("join validates ids and status", "[native]") {
  CHECK(code_of({{"type", "join"}, {"user_id", "a b"}}) == "invalid_id");
  CHECK(code_of({{"type", "join"}, {"device_id", "\x01"}}) == "invalid_id");
  CHECK(code_of({{"type", "join"}, {"userId", std::string(129, 'u')}})
        == "invalid_id");
  CHECK(parse_ok(json{{"type", "join"}, {"user_id", std::string(128, 'u')}})
          .user_id.size()
        == 128);
  CHECK(code_of({{"type", "join"}, {"user_id", 1.5}}) == "bad_request");
  CHECK(code_of({{"type", "join"}, {"user_id", true}}) == "bad_request");
  CHECK(code_of({{"type", "join"}, {"user_id", json::array()}})
        == "bad_request");
  CHECK(code_of({{"type", "join"}, {"device_id", json::object()}})
        == "bad_request");
  CHECK(code_of({{"type", "join"}, {"token", false}}) == "bad_request");
  CHECK(code_of({{"type", "join"}, {"status", "offline"}}) == "bad_request");
  CHECK(code_of({{"type", "join"}, {"status", "Online"}}) == "bad_request");
  CHECK(code_of({{"type", "join"}, {"status", 1}}) == "bad_request");
  for (auto st : {"online", "away", "busy", "dnd"}) {
    auto cmd = parse_ok(json{{"type", "join"}, {"status", st}});
    CHECK(cmd.has_status);
    CHECK(status_name(cmd.status) == std::string{st});
  }
}

TEST_CASE("join truncates user_agent and platform", "[native]") {
  auto cmd = parse_ok(json{{"type", "join"},
                           {"user_agent", std::string(2'000, 'a')},
                           {"platform", std::string(500, 'p')}});
  CHECK(cmd.user_agent == std::string(512, 'a'));
  CHECK(cmd.platform == std::string(64, 'p'));
}

TEST_CASE("get_status needs a valid user id", "[native]") {
  CHECK(parse_ok(json{{"type", "get_status"}, {"user_id", "x"}}).user_id
        == "x");
  CHECK(parse_ok(json{{"type", "get_status"}, {"userId", "y"}}).user_id == "y");
  CHECK(code_of({{"type", "get_status"}}) == "bad_request");
  CHECK(code_of({{"type", "get_status"}, {"user_id", ""}}) == "bad_request");
  CHECK(code_of({{"type", "get_status"}, {"user_id", nullptr}})
        == "bad_request");
  CHECK(code_of({{"type", "get_status"}, {"user_id", "a\tb"}}) == "invalid_id");
  CHECK(code_of({{"type", "get_status"}, {"user_id", std::string(200, 'z')}})
        == "invalid_id");
}

TEST_CASE("get_statuses reads id lists under both names", "[native]") {
  auto cmd = parse_ok(json{{"type", "get_statuses"}, {"user_ids", {"a", "b"}}});
  CHECK(cmd.user_ids == strings{"a", "b"});
  auto camel = parse_ok(json{{"type", "batch_status"}, {"userIds", {"c"}}});
  CHECK(camel.user_ids == strings{"c"});
  auto none = parse_ok(json{{"type", "get_statuses"}});
  CHECK(none.user_ids.empty());
  auto empty = parse_ok(
    json{{"type", "get_statuses"}, {"user_ids", json::array()}});
  CHECK(empty.user_ids.empty());
}

TEST_CASE("id lists: at most 1000 valid ids", "[native]") {
  auto max = parse_ok(
    json{{"type", "get_statuses"}, {"user_ids", numbered_ids(1'000)}});
  CHECK(max.user_ids.size() == 1'000);
  CHECK(max.user_ids.back() == "u999");
  CHECK(code_of({{"type", "get_statuses"}, {"user_ids", numbered_ids(1'001)}})
        == "too_many_ids");
  CHECK(code_of({{"type", "subscribe"}, {"userIds", numbered_ids(5'000)}})
        == "too_many_ids");
  CHECK(code_of({{"type", "get_statuses"}, {"user_ids", "a"}})
        == "bad_request");
  CHECK(code_of({{"type", "get_statuses"}, {"user_ids", {{"k", "v"}}}})
        == "bad_request"); // an object, not an array
  CHECK(code_of({{"type", "get_statuses"},
                 {"user_ids", json::array({json::object({{"k", "v"}})})}})
        == "invalid_id");
  CHECK(code_of({{"type", "get_statuses"}, {"user_ids", {"ok", "not ok"}}})
        == "invalid_id");
  CHECK(code_of({{"type", "get_statuses"}, {"user_ids", {"ok", nullptr}}})
        == "invalid_id");
  CHECK(code_of({{"type", "get_statuses"}, {"user_ids", {"ok", 1.5}}})
        == "invalid_id");
  CHECK(code_of({{"type", "get_statuses"}, {"user_ids", {""}}})
        == "invalid_id");
  CHECK(
    code_of({{"type", "get_statuses"}, {"user_ids", {std::string(129, 'x')}}})
    == "invalid_id");
}

TEST_CASE("list_online: cursor and limit range", "[native]") {
  auto def = parse_ok(json{{"type", "list_online"}});
  CHECK(def.limit == default_page);
  CHECK(def.limit == 100);
  CHECK(def.cursor.empty());
  auto one = parse_ok(
    json{{"type", "list_online"}, {"limit", 1}, {"cursor", "u5"}});
  CHECK(one.limit == 1);
  CHECK(one.cursor == "u5");
  CHECK(parse_ok(json{{"type", "list_online"}, {"limit", 1000}}).limit == 1000);
  CHECK(parse_ok(json{{"type", "list_online"}, {"limit", nullptr}}).limit
        == 100);
  for (auto bad :
       {json(0), json(1001), json(-1), json(1.5), json("10"), json(true),
        json(4294967297LL), json(18446744073709551615ULL)}) {
    INFO("limit " << bad.dump());
    CHECK(code_of({{"type", "list_online"}, {"limit", bad}}) == "bad_request");
  }
  CHECK(code_of({{"type", "list_online"}, {"cursor", false}}) == "bad_request");
}

TEST_CASE("subscribe and unsubscribe need ids or global", "[native]") {
  auto ids = parse_ok(json{{"type", "subscribe"}, {"user_ids", {"a", "b"}}});
  CHECK(ids.user_ids == strings{"a", "b"});
  CHECK_FALSE(ids.global);
  auto glob = parse_ok(json{{"type", "unsubscribe"}, {"global", true}});
  CHECK(glob.global);
  CHECK(glob.user_ids.empty());
  auto camel = parse_ok(
    json{{"type", "subscribe"}, {"userIds", {"c"}}, {"global", false}});
  CHECK(camel.user_ids == strings{"c"});
  CHECK(code_of({{"type", "subscribe"}}) == "bad_request");
  CHECK(code_of({{"type", "subscribe"}, {"global", false}}) == "bad_request");
  CHECK(code_of({{"type", "subscribe"}, {"user_ids", json::array()}})
        == "bad_request");
  CHECK(code_of({{"type", "subscribe"}, {"global", "yes"}}) == "bad_request");
  CHECK(code_of({{"type", "unsubscribe"}, {"global", 1}}) == "bad_request");
  CHECK(code_of({{"type", "unsubscribe"}, {"user_ids", {"bad id"}}})
        == "invalid_id");
}

TEST_CASE("set_status needs a settable status", "[native]") {
  auto cmd = parse_ok(json{{"type", "set_status"}, {"status", "dnd"}});
  CHECK(cmd.has_status);
  CHECK(cmd.status == presence_status::dnd);
  CHECK(code_of({{"type", "set_status"}}) == "bad_request");
  CHECK(code_of({{"type", "set_status"}, {"status", "offline"}})
        == "bad_request");
  CHECK(code_of({{"type", "set_status"}, {"status", ""}}) == "bad_request");
  CHECK(code_of({{"type", "set_status"}, {"status", true}}) == "bad_request");
}

// -- parsing: the frame itself ------------------------------------------------

TEST_CASE("frames that are not JSON objects", "[native]") {
  CHECK(parse_err("").code == "bad_json");
  CHECK(parse_err("{").code == "bad_json");
  CHECK(parse_err("{\"type\":\"ping\"").code == "bad_json");
  CHECK(parse_err("ping").code == "bad_json");
  CHECK(parse_err("{\"type\":\"ping\"} trailing").code == "bad_json");
  CHECK(parse_err("{\"type\":\"p\xffng\"}").code == "bad_json"); // bad UTF-8
  CHECK(parse_err("[]").code == "bad_request");
  CHECK(parse_err("[{\"type\":\"ping\"}]").code == "bad_request");
  CHECK(parse_err("\"ping\"").code == "bad_request");
  CHECK(parse_err("42").code == "bad_request");
  CHECK(parse_err("null").code == "bad_request");
  CHECK(parse_err("{}").code == "bad_request");
  CHECK(parse_err("{\"type\":5}").code == "bad_request");
  CHECK(parse_err("{\"type\":null}").code == "bad_request");
  CHECK(parse_err("{\"Type\":\"ping\"}").code == "bad_request");
}

TEST_CASE("a frame with bytes after a NUL is not JSON", "[native]") {
  // Bug: nlohmann::json::parse treats a NUL byte as the end of the input, so
  // parse_native accepts "{...}\0<anything>" (a raw NUL is never valid
  // JSON). Suggested fix: refuse frames containing '\0' with bad_json
  // before parsing.
  native_command cmd;
  protocol_error err;
  CHECK_FALSE(
    parse_native(std::string("{\"type\":\"ping\"}\0garbage", 23), cmd, err));
  CHECK(err.code == "bad_json");
  CHECK_FALSE(parse_native(std::string("{\"type\":\"ping\"}\0", 16), cmd, err));
}

TEST_CASE("the id is echoed for strings and numbers", "[native]") {
  CHECK(parse_ok(R"({"type":"ping","id":"abc"})").id_json == "\"abc\"");
  CHECK(parse_ok(R"({"type":"ping","id":42})").id_json == "42");
  CHECK(parse_ok(R"({"type":"ping","id":-3})").id_json == "-3");
  CHECK(parse_ok(R"({"type":"ping","id":1.5})").id_json == "1.5");
  CHECK(parse_ok(R"({"type":"ping","id":""})").id_json == "\"\"");
  CHECK(parse_ok(R"({"type":"ping","id":"q\"uote"})").id_json
        == R"("q\"uote")");
  CHECK(parse_ok(json{{"type", "ping"}, {"id", std::string(256, 'i')}})
          .id_json.size()
        == 258);
  // Errors carry the id once it was read.
  auto unknown = parse_err(R"({"id":7,"type":"nope"})");
  CHECK(unknown.code == "unknown_type");
  CHECK(unknown.id_json == "7");
  auto bad_field = parse_err(R"({"type":"get_status","id":"r1"})");
  CHECK(bad_field.id_json == "\"r1\"");
  CHECK(parse_err("{").id_json.empty());
}

TEST_CASE("ids of the wrong type or size are refused", "[native]") {
  CHECK(code_of({{"type", "ping"}, {"id", nullptr}}) == "bad_request");
  CHECK(code_of({{"type", "ping"}, {"id", true}}) == "bad_request");
  CHECK(code_of({{"type", "ping"}, {"id", json::array()}}) == "bad_request");
  CHECK(code_of({{"type", "ping"}, {"id", {{"a", 1}}}}) == "bad_request");
  auto long_id = parse_err(
    json{{"type", "ping"}, {"id", std::string(257, 'i')}});
  CHECK(long_id.code == "bad_request");
  CHECK(long_id.id_json.empty()); // not echoed
}

TEST_CASE("parse_native resets its outputs", "[native]") {
  native_command cmd;
  protocol_error err;
  REQUIRE(parse_native(
    R"({"type":"subscribe","id":1,"user_ids":["a"],"global":true})", cmd, err));
  REQUIRE(parse_native(R"({"type":"ping"})", cmd, err));
  CHECK(cmd.id_json.empty());
  CHECK(cmd.user_ids.empty());
  CHECK_FALSE(cmd.global);
  REQUIRE_FALSE(parse_native(R"({"type":"x","id":9})", cmd, err));
  REQUIRE(err.id_json == "9");
  REQUIRE_FALSE(parse_native("{", cmd, err));
  CHECK(err.id_json.empty());
  CHECK(err.code == "bad_json");
}

// -- encoding -----------------------------------------------------------------

TEST_CASE("encode_error", "[native][encode]") {
  auto j = parse_json(encode_error("\"r1\"", "bad_request", "why"));
  CHECK(j["type"] == "error");
  CHECK(j["id"] == "r1");
  CHECK(j["code"] == "bad_request");
  CHECK(j["message"] == "why");
  auto no_id = parse_json(encode_error("", "bad_json", "x"));
  CHECK_FALSE(no_id.contains("id"));
  // Straight from a parse failure.
  native_command cmd;
  protocol_error err;
  REQUIRE_FALSE(parse_native(R"({"id":5,"type":"nope"})", cmd, err));
  auto e = parse_json(encode_error(err));
  CHECK(e["id"] == 5);
  CHECK(e["code"] == "unknown_type");
  CHECK(e["message"].get<std::string>().find("nope") != std::string::npos);
}

TEST_CASE("replies echo the id as the client sent it", "[native][encode]") {
  for (auto frame :
       {R"({"type":"leave","id":"abc"})", R"({"type":"leave","id":12})",
        R"({"type":"leave","id":-0.25})"}) {
    auto cmd = parse_ok(std::string{frame});
    auto sent = json::parse(frame)["id"];
    auto left = parse_json(encode_left(cmd.id_json));
    CHECK(left["type"] == "left");
    CHECK(left["id"] == sent);
    auto pong = parse_json(encode_pong(cmd.id_json, t0));
    CHECK(pong["id"] == sent);
  }
  CHECK_FALSE(parse_json(encode_left("")).contains("id"));
}

TEST_CASE("encode_pong carries an ISO timestamp", "[native][encode]") {
  auto j = parse_json(encode_pong("1", t0 + 123));
  CHECK(j["type"] == "pong");
  CHECK(j["id"] == 1);
  CHECK(j["timestamp"] == "2024-01-01T00:00:00.123Z");
  // Written by hand: the same bytes the JSON encoder gives.
  for (std::string id : {"", "1", R"("r7")", R"({"a":[1,"x"]})"}) {
    json want = {{"type", "pong"}, {"timestamp", "2024-01-01T00:00:00.123Z"}};
    if (!id.empty())
      want["id"] = json::parse(id);
    CHECK(encode_pong(id, t0 + 123) == want.dump());
  }
}

TEST_CASE("encode_delta", "[native][encode]") {
  presence_delta d;
  d.user_id = "bob";
  d.online = false;
  d.status = presence_status::offline;
  d.last_seen = t0;
  d.online_since = 0;
  d.version = 9;
  auto j = parse_json(encode_delta(d));
  CHECK(j["type"] == "user.status.changed");
  CHECK(j["user_id"] == "bob");
  CHECK(j["is_online"] == false);
  CHECK(j["status"] == "offline");
  CHECK(j["last_seen"] == iso8601(t0));
  CHECK(j["last_seen_ms"] == t0);
  CHECK(j["online_since"].is_null());
  CHECK(j["version"] == 9);
  presence_delta never;
  never.user_id = "new";
  auto n = parse_json(encode_delta(never));
  CHECK(n["last_seen"].is_null());
  CHECK(n["last_seen_ms"].is_null());
}

TEST_CASE("encode_joined and encode_status include devices",
          "[native][encode]") {
  join_ack ack;
  ack.device_id = "phone";
  ack.status = sample_user();
  auto j = parse_json(encode_joined("\"j1\"", ack));
  CHECK(j["type"] == "joined");
  CHECK(j["id"] == "j1");
  CHECK(j["user_id"] == "alice");
  CHECK(j["device_id"] == "phone");
  auto& u = j["user"];
  CHECK(u["user_id"] == "alice");
  CHECK(u["is_online"] == true);
  CHECK(u["status"] == "away");
  CHECK(u["last_seen"] == iso8601(t0 + 5'000));
  CHECK(u["last_seen_ms"] == t0 + 5'000);
  CHECK(u["online_since"] == "2024-01-01T00:00:00.000Z");
  CHECK(u["version"] == 17);
  REQUIRE(u["devices"].is_array());
  REQUIRE(u["devices"].size() == 1);
  auto& d = u["devices"][0];
  CHECK(d["device_id"] == "phone");
  CHECK(d["user_agent"] == "UA/1.0");
  CHECK(d["platform"] == "ios");
  CHECK(d["status"] == "away");
  CHECK(d["connected_at"] == iso8601(t0));
  CHECK(d["last_active"] == iso8601(t0 + 5'000));

  auto s = parse_json(encode_status("2", sample_user()));
  CHECK(s["type"] == "status");
  CHECK(s["id"] == 2);
  CHECK(s["user"]["devices"].size() == 1);
  auto set = parse_json(encode_status_set("", sample_user()));
  CHECK(set["type"] == "status_set");
  CHECK_FALSE(set.contains("id"));
  CHECK(set["user"]["status"] == "away");
}

TEST_CASE("encode_statuses lists users without devices", "[native][encode]") {
  user_status off;
  off.user_id = "zed";
  auto j = parse_json(encode_statuses("3", {sample_user(), off}));
  CHECK(j["type"] == "statuses");
  CHECK(j["id"] == 3);
  REQUIRE(j["users"].size() == 2);
  CHECK(j["users"][0]["user_id"] == "alice");
  CHECK_FALSE(j["users"][0].contains("devices"));
  CHECK(j["users"][1]["user_id"] == "zed");
  CHECK(j["users"][1]["is_online"] == false);
  CHECK(j["users"][1]["status"] == "offline");
  CHECK(j["users"][1]["last_seen"].is_null());
  auto empty = parse_json(encode_statuses("", {}));
  CHECK(empty["users"].is_array());
  CHECK(empty["users"].empty());
}

TEST_CASE("encode_online_list pages", "[native][encode]") {
  online_page page;
  presence_delta a;
  a.user_id = "a";
  a.online = true;
  a.status = presence_status::busy;
  page.users = {a};
  page.next_cursor = "a";
  page.total = 12;
  auto j = parse_json(encode_online_list("4", page));
  CHECK(j["type"] == "online_list");
  CHECK(j["id"] == 4);
  REQUIRE(j["users"].size() == 1);
  CHECK(j["users"][0]["user_id"] == "a");
  CHECK(j["users"][0]["status"] == "busy");
  CHECK(j["next_cursor"] == "a");
  CHECK(j["total"] == 12);
  page.next_cursor.clear();
  CHECK(parse_json(encode_online_list("", page))["next_cursor"].is_null());
}

TEST_CASE(
  "encode_count and encode_subscribed and encode_expired and encode_welcome",
  "[native][encode]") {
  auto c = parse_json(encode_count("\"c\"", 123456789012ULL));
  CHECK(c["type"] == "online_count");
  CHECK(c["id"] == "c");
  CHECK(c["count"] == 123456789012ULL);

  auto s = parse_json(encode_subscribed("5", true, {"a", "b"}, false));
  CHECK(s["type"] == "subscribed");
  CHECK(s["id"] == 5);
  CHECK(s["user_ids"] == json({"a", "b"}));
  CHECK(s["global"] == false);
  {
    user_status a;
    a.user_id = "a";
    a.online = true;
    a.version = 7;
    std::vector<user_status> states{a};
    online_page page;
    presence_delta d;
    d.user_id = "a";
    d.online = true;
    page.users = {d};
    page.total = 1;
    auto full = parse_json(
      encode_subscribed("6", true, {"a"}, true, &states, &page));
    CHECK(full["users"][0]["user_id"] == "a");
    CHECK(full["users"][0]["version"] == 7);
    CHECK(full["online"]["users"][0]["user_id"] == "a");
    CHECK(full["online"]["total"] == 1);
    CHECK(full["online"]["next_cursor"].is_null());
    CHECK_FALSE(s.contains("users"));
    CHECK_FALSE(s.contains("online"));
  }
  auto u = parse_json(encode_subscribed("", false, {}, true));
  CHECK(u["type"] == "unsubscribed");
  CHECK(u["user_ids"].is_array());
  CHECK(u["user_ids"].empty());
  CHECK(u["global"] == true);

  auto e = parse_json(encode_expired("phone", "ttl"));
  CHECK(e["type"] == "session.expired");
  CHECK(e["device_id"] == "phone");
  CHECK(e["reason"] == "ttl");
  CHECK_FALSE(e.contains("id"));

  auto w = parse_json(encode_welcome("alice", "d1", 90'000, true));
  CHECK(w["type"] == "welcome");
  CHECK(w["user_id"] == "alice");
  CHECK(w["device_id"] == "d1");
  CHECK(w["heartbeat_ttl_ms"] == 90'000);
  CHECK(w["global_feed"] == true);
  CHECK(w["server"] == "presenced");
  auto anon = parse_json(encode_welcome("", "", 1'000, false));
  CHECK(anon["user_id"].is_null());
  CHECK(anon["device_id"].is_null());
  CHECK(anon["global_feed"] == false);
}

TEST_CASE("encoders never throw on invalid UTF-8 in server data",
          "[native][encode]") {
  const std::string bad = "ab\xff\xc3";
  std::string out;
  REQUIRE_NOTHROW(out = encode_expired(bad, bad));
  auto e = parse_json(out);
  CHECK(e["device_id"].get<std::string>().find("ab") == 0);
  presence_delta d;
  d.user_id = bad;
  REQUIRE_NOTHROW(out = encode_delta(d));
  parse_json(out);
  auto s = sample_user();
  s.devices[0].user_agent = std::string(511, 'a') + "\xE2\x82"; // cut UTF-8
  REQUIRE_NOTHROW(out = encode_status("", s));
  parse_json(out);
  REQUIRE_NOTHROW(out = encode_error("", "c", bad));
  parse_json(out);
}

TEST_CASE("a truncated user agent encodes to valid JSON", "[native][encode]") {
  // 511 ASCII bytes then a 3-byte character: the 512-byte cut splits it.
  auto cmd = parse_ok(
    json{{"type", "join"},
         {"user_agent", std::string(511, 'a') + "\xE2\x82\xAC"}});
  REQUIRE(cmd.user_agent.size() == 512);
  auto s = sample_user();
  s.devices[0].user_agent = cmd.user_agent;
  std::string out;
  REQUIRE_NOTHROW(out = encode_status("", s));
  parse_json(out);
}

TEST_CASE("send reads the conversation, content and temp id", "[native]") {
  auto sub = parse_ok(R"({"type":"subscribe","global":true,"snapshot":true,)"
                      R"("limit":10})");
  CHECK(sub.snapshot);
  CHECK(sub.limit == 10);
  CHECK(parse_err(R"({"type":"subscribe","global":true,"snapshot":1})").code
        == "bad_request");
  auto cmd = parse_ok(R"({"type":"send","id":7,"conversation_id":"dm_1",)"
                      R"("content":"hi","temp_id":"t-1"})");
  CHECK(cmd.op == native_op::send);
  CHECK(cmd.id_json == "7");
  CHECK(cmd.conversation_id == "dm_1");
  CHECK(cmd.content == "hi");
  CHECK(cmd.temp_id == "t-1");
  // camelCase aliases, numeric ids as strings.
  auto alt = parse_ok(R"({"type":"send","conversationId":12,)"
                      R"("content":"x","tempId":99})");
  CHECK(alt.conversation_id == "12");
  CHECK(alt.temp_id == "99");
  // The content must be a string when given (empty is the chat's to refuse).
  CHECK(parse_err(R"({"type":"send","conversation_id":"c","content":5})").code
        == "bad_request");
  CHECK(parse_ok(R"({"type":"send","conversation_id":"c"})").content.empty());
}

TEST_CASE("sent and message frames carry the message", "[native]") {
  chat_message m;
  m.id = "dm_1:3";
  m.conversation_id = "dm_1";
  m.sender_id = "ann";
  m.content = "hi \"there\"";
  m.created_at = 1'700'000'000'000;
  auto sent = json::parse(encode_sent("\"r1\"", m, true));
  CHECK(sent["type"] == "sent");
  CHECK(sent["id"] == "r1");
  CHECK(sent["delivered"] == true);
  CHECK(sent["message"]["id"] == "dm_1:3");
  CHECK(sent["message"]["content"] == "hi \"there\"");
  CHECK(sent["message"]["temp_id"].is_null());
  CHECK(sent["message"]["created_at"] == iso8601(m.created_at));
  auto msg = json::parse(encode_message(m));
  CHECK(msg["type"] == "message");
  CHECK(msg["message"] == sent["message"]);
}

TEST_CASE("room frames read the room and the typing flag", "[native]") {
  auto t = parse_ok(R"({"type":"typing","room":"r1"})");
  CHECK(t.room == "r1");
  CHECK(t.typing); // start unless told
  CHECK_FALSE(
    parse_ok(R"({"type":"typing","room":"r1","typing":false})").typing);
  CHECK(parse_err(R"({"type":"join_room"})").code == "bad_request");
  CHECK(parse_err(R"({"type":"join_room","room":""})").code == "bad_request");
  CHECK(parse_err(R"({"type":"typing","room":"r","typing":"no"})").code
        == "bad_request");
  std::string long_room(max_room_bytes + 1, 'r');
  CHECK(parse_err(json{{"type", "join_room"}, {"room", long_room}}.dump()).code
        == "bad_request");
  auto j = json::parse(encode_typing(room_signal{"r1", "ann", true}));
  CHECK(j
        == json{{"type", "room.typing"},
                {"room", "r1"},
                {"user_id", "ann"},
                {"typing", true}});
  auto r = json::parse(encode_room_reply("3", "room_joined", "r1"));
  CHECK(r == json{{"type", "room_joined"}, {"id", 3}, {"room", "r1"}});
}

TEST_CASE("set_status takes a custom status message", "[native]") {
  auto both = parse_ok(
    R"({"type":"set_status","status":"busy",)"
    R"("status_text":"In a meeting","status_expires_in":3600})");
  CHECK(both.has_status);
  CHECK(both.has_text);
  CHECK(both.status_text == "In a meeting");
  CHECK(both.text_expires_in_s == 3600);
  auto text = parse_ok(R"({"type":"set_status","status_text":"Lunch"})");
  CHECK_FALSE(text.has_status);
  CHECK(text.has_text);
  CHECK(text.text_expires_in_s == 0);
  auto clear = parse_ok(R"({"type":"set_status","status_text":null})");
  CHECK(clear.has_text);
  CHECK(clear.status_text.empty());
  CHECK(parse_err(R"({"type":"set_status"})").code == "bad_request");
  CHECK(parse_err(R"({"type":"set_status","status_text":5})").code
        == "bad_request");
  CHECK(parse_err(
          json{{"type", "set_status"}, {"status_text", std::string(101, 'x')}}
            .dump())
          .code
        == "bad_request");
  for (auto bad : {"0", "-1", "604801", "1.5", "\"60\""})
    CHECK(parse_err(std::string{R"({"type":"set_status","status_text":"x",)"}
                    + R"("status_expires_in":)" + bad + "}")
            .code
          == "bad_request");
  user_status s;
  s.user_id = "ivy";
  s.online = true;
  s.status_text = "Lunch";
  s.status_expires = 1'700'000'000'000;
  auto j = json::parse(encode_status("\"1\"", s));
  CHECK(j["user"]["status_text"] == "Lunch");
  CHECK(j["user"]["status_expires_at"] == iso8601(s.status_expires));
  presence_delta d = delta_of(s);
  auto dj = json::parse(encode_delta(d));
  CHECK(dj["status_text"] == "Lunch");
  s.status_text.clear();
  s.status_expires = 0;
  auto none = json::parse(encode_status("", s));
  CHECK(none["user"]["status_text"].is_null());
  CHECK(none["user"]["status_expires_at"].is_null());
}

TEST_CASE("join asks for auto-away in seconds", "[native]") {
  CHECK(parse_ok(R"({"type":"join","user_id":"a"})").auto_away_s == -1);
  CHECK(parse_ok(R"({"type":"join","user_id":"a","auto_away":0})").auto_away_s
        == 0);
  CHECK(parse_ok(R"({"type":"join","user_id":"a","auto_away":300})").auto_away_s
        == 300);
  for (auto bad : {"-1", "86401", "1.5", "\"300\"", "true"})
    CHECK(parse_err(std::string{R"({"type":"join","user_id":"a","auto_away":)"}
                    + bad + "}")
            .code
          == "bad_request");
  auto a = json::parse(encode_active("\"x\""));
  CHECK(a == json{{"type", "active"}, {"id", "x"}});
}

namespace {

/// parse_native's answer to `text` is the whole parser's; returns whether
/// it accepted and sets `op` and `id_json` to what it read.
bool same_as_tree(const std::string& text, native_op& op,
                  std::string& id_json) {
  native_command a;
  protocol_error a_err;
  native_command b;
  protocol_error b_err;
  auto ok = parse_native(text, a, a_err);
  CHECK(ok == parse_native_tree(text, b, b_err));
  CHECK(a.op == b.op);
  CHECK(a.id_json == b.id_json);
  CHECK(a_err.code == b_err.code);
  op = b.op;
  id_json = b.id_json;
  return ok;
}

} // namespace

TEST_CASE("a plain ping is read without a JSON tree, as the tree reads it",
          "[native]") {
  // Taken by the fast path: the same command as the whole parser's.
  strings plain = {
    R"({"type":"ping"})",
    R"({"type":"ping","id":1})",
    R"({"id":1,"type":"ping"})",
    R"( { "type" : "ping" , "id" : "abc-1" } )",
    "{\n\t\"type\":\"ping\",\r\n\"id\":-42}",
    R"({"type":"ping","id":0})",
    R"({"type":"ping","id":123456789012345678})",
    R"({"type":"ping","id":""})",
    R"({"type":"ping","id":"a b/c{}[],:"})",
  };
  for (auto& text : plain) {
    INFO(text);
    std::string id;
    CHECK(fast_ping(text, id));
    native_op op{};
    std::string tree_id;
    REQUIRE(same_as_tree(text, op, tree_id));
    CHECK(op == native_op::ping);
    CHECK(id == tree_id);
  }
  // Not the plain form: the whole parser decides, accepting or refusing
  // exactly as before.
  strings other = {
    R"({"type":"ping","id":01})",                  // not JSON
    R"({"type":"ping","id":-0})",                  // the tree dumps it as 0
    R"({"type":"ping","id":1.5})",                 // a fraction
    R"({"type":"ping","id":1e3})",                 // an exponent
    R"({"type":"ping","id":1234567890123456789})", // 19 digits
    R"({"type":"ping","id":"a\"b"})",              // an escape
    R"({"type":"ping","id":"é"})",                 // not ASCII
    R"({"type":"ping","id":true})",     // refused: not a string or number
    R"({"type":"ping","id":null})",     // refused
    R"({"type":"ping","type":"ping"})", // a key twice
    R"({"type":"ping","other":1})",     // another key (accepted, ignored)
    R"({"type":"pong"})",               // another type
    R"({"type":"ping"} )"
    "x",                                      // trailing bytes
    R"({"type":"ping")",                      // cut short
    R"({"type":"p\u0069ng"})",                // an escape in the type
    std::string("{\"type\":\"ping\"}\0", 16), // a NUL
  };
  for (auto& text : other) {
    INFO(text);
    std::string id;
    CHECK_FALSE(fast_ping(text, id));
    native_op op{};
    std::string tree_id;
    same_as_tree(text, op, tree_id);
  }
}
