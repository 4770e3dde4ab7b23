// Engine.IO 4 / Socket.IO 5 packet codecs (edge/socketio/socketio_codec.*):
// each packet type both ways, the limits, the refusals, and the exact wire
// strings socket.io-client@4 sends and expects.

#include <catch2/catch.hpp>

#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "edge/socketio/seed000_list.hpp"
#include "edge/socketio/socketio_codec.hpp"

using namespace presence::edge::sio;
using strings = std::vector<std::string>;

namespace {

eio_packet eio_ok(const std::string& text) {
  eio_packet p;
  INFO("packet \"" << text << "\"");
  REQUIRE(parse_eio(text, p));
  return p;
}

bool eio_parses(const std::string& text) {
  eio_packet p;
  return parse_eio(text, p);
}

std::vector<eio_packet> payload_ok(const std::string& body,
                                   size_t max_packets = 1000) {
  std::vector<eio_packet> out;
  INFO("payload \"" << body << "\"");
  REQUIRE(parse_eio_payload(body, out, max_packets));
  return out;
}

bool payload_parses(const std::string& body, size_t max_packets = 1000) {
  std::vector<eio_packet> out;
  return parse_eio_payload(body, out, max_packets);
}

sio_packet sio_ok(const std::string& text) {
  sio_packet p;
  std::string err;
  INFO("packet \"" << text << "\"");
  bool ok = parse_sio(text, p, err);
  INFO("error: " << err);
  REQUIRE(ok);
  CHECK(err.empty());
  return p;
}

/// The error of a packet parse_sio must refuse.
std::string sio_err(const std::string& text) {
  sio_packet p;
  std::string err;
  INFO("packet \"" << text << "\"");
  REQUIRE_FALSE(parse_sio(text, p, err));
  CHECK_FALSE(err.empty());
  return err;
}

/// A complete Engine.IO message as a client sends it ("42[...]"): the
/// Socket.IO packet inside.
sio_packet wire_ok(const std::string& text) {
  auto e = eio_ok(text);
  REQUIRE(e.type == eio_type::message);
  return sio_ok(e.data);
}

/// Encodes `p`, parses the result and requires the same packet back.
void require_round_trip(const sio_packet& p) {
  auto text = encode_sio(p.type, p.nsp, p.data, p.ack_id);
  auto q = sio_ok(text);
  INFO("encoded \"" << text << "\"");
  CHECK(q.type == p.type);
  CHECK(q.nsp == p.nsp);
  CHECK(q.ack_id == p.ack_id);
  CHECK(q.data == p.data);
}

} // namespace

// -- Engine.IO: single packets ------------------------------------------------

TEST_CASE("every Engine.IO packet type parses and encodes", "[socketio]") {
  struct row {
    eio_type type;
    char digit;
  };
  const std::vector<row> rows = {
    {eio_type::open, '0'}, {eio_type::close, '1'},   {eio_type::ping, '2'},
    {eio_type::pong, '3'}, {eio_type::message, '4'}, {eio_type::upgrade, '5'},
    {eio_type::noop, '6'},
  };
  for (auto& r : rows) {
    INFO("type " << r.digit);
    auto bare = eio_ok(std::string(1, r.digit));
    CHECK(bare.type == r.type);
    CHECK(bare.data.empty());
    auto with_data = eio_ok(std::string(1, r.digit) + "probe");
    CHECK(with_data.type == r.type);
    CHECK(with_data.data == "probe");
    CHECK(encode_eio(r.type) == std::string(1, r.digit));
    CHECK(encode_eio(r.type, "x{}") == std::string(1, r.digit) + "x{}");
    // encode -> parse -> the same packet.
    auto back = eio_ok(encode_eio(r.type, "\"data\" 1"));
    CHECK(back.type == r.type);
    CHECK(back.data == "\"data\" 1");
  }
}

TEST_CASE("Engine.IO data is everything after the type, byte for byte",
          "[socketio]") {
  std::string data = std::string("a\0b\x1e\xff", 5) + "42[\"x\"]";
  auto p = eio_ok("4" + data);
  CHECK(p.type == eio_type::message);
  CHECK(p.data == data);
  CHECK(p.data.size() == data.size());
}

TEST_CASE("Engine.IO refuses empty, unknown and binary packets", "[socketio]") {
  CHECK_FALSE(eio_parses(""));
  CHECK_FALSE(eio_parses("7"));
  CHECK_FALSE(eio_parses("9hello"));
  CHECK_FALSE(eio_parses("/")); // the byte before '0'
  CHECK_FALSE(eio_parses(" 4x"));
  CHECK_FALSE(eio_parses(std::string(1, '\0')));
  // Binary packets ('b' + base64) are refused: presenced speaks JSON only.
  CHECK_FALSE(eio_parses("bAQIDBA=="));
  CHECK_FALSE(eio_parses("b4AQID"));
  CHECK_FALSE(eio_parses("b"));
}

// -- Engine.IO: polling payloads ----------------------------------------------

TEST_CASE("a polling payload splits at the record separator", "[socketio]") {
  CHECK(record_separator == '\x1e');
  auto one = payload_ok("4hello");
  REQUIRE(one.size() == 1);
  CHECK(one[0].type == eio_type::message);
  CHECK(one[0].data == "hello");

  auto three = payload_ok(
    "2\x1e"
    "40\x1e"
    "42[\"ping\"]");
  REQUIRE(three.size() == 3);
  CHECK(three[0].type == eio_type::ping);
  CHECK(three[0].data.empty());
  CHECK(three[1].type == eio_type::message);
  CHECK(three[1].data == "0");
  CHECK(three[2].type == eio_type::message);
  CHECK(three[2].data == "2[\"ping\"]");
}

TEST_CASE("a polling payload with any bad record is refused", "[socketio]") {
  CHECK_FALSE(payload_parses(""));
  CHECK_FALSE(payload_parses("\x1e"));
  CHECK_FALSE(payload_parses("2\x1e")); // trailing separator
  CHECK_FALSE(
    payload_parses("\x1e"
                   "2")); // leading separator
  CHECK_FALSE(
    payload_parses("2\x1e\x1e"
                   "3")); // empty record between
  CHECK_FALSE(
    payload_parses("2\x1e"
                   "bAQID")); // binary record
  CHECK_FALSE(
    payload_parses("4a\x1e"
                   "9")); // unknown type
}

TEST_CASE("a polling payload holds at most max_packets", "[socketio]") {
  strings three = {"2", "3", "6"};
  auto body = encode_eio_payload(three);
  CHECK(payload_ok(body, 3).size() == 3);
  CHECK_FALSE(payload_parses(body, 2));
  CHECK_FALSE(payload_parses(body, 0));
  CHECK(payload_ok("2", 1).size() == 1);
  // The default bound is 1000.
  strings many(1000, "3");
  CHECK(payload_ok(encode_eio_payload(many)).size() == 1000);
  many.push_back("3");
  CHECK_FALSE(payload_parses(encode_eio_payload(many)));
}

TEST_CASE("parse_eio_payload replaces what the vector held", "[socketio]") {
  std::vector<eio_packet> out(5);
  REQUIRE(
    parse_eio_payload("2\x1e"
                      "3",
                      out));
  CHECK(out.size() == 2);
  CHECK(out[0].type == eio_type::ping);
  CHECK(out[1].type == eio_type::pong);
}

TEST_CASE("polling payloads round trip", "[socketio]") {
  CHECK(encode_eio_payload({}).empty());
  CHECK(encode_eio_payload({"2"}) == "2");
  CHECK(encode_eio_payload({"2", "3probe", "40"}) == "2\x1e" "3probe\x1e" "40");
  strings packets = {encode_eio(eio_type::open, R"({"sid":"abc"})"),
                     eio_event("/", "user_online", {{"userId", "a"}}),
                     eio_ack("/ws/messages", 7, json::array({"ok"})),
                     encode_eio(eio_type::ping), encode_eio(eio_type::noop)};
  auto parsed = payload_ok(encode_eio_payload(packets));
  REQUIRE(parsed.size() == packets.size());
  for (size_t i = 0; i < packets.size(); ++i)
    CHECK(encode_eio(parsed[i].type, parsed[i].data) == packets[i]);
}

// -- Socket.IO: parsing each type ---------------------------------------------

TEST_CASE("CONNECT with and without namespace and auth", "[socketio]") {
  auto bare = sio_ok("0");
  CHECK(bare.type == sio_type::connect);
  CHECK(bare.nsp == "/");
  CHECK(bare.ack_id == no_ack);
  CHECK(bare.data.is_null());
  CHECK(bare.attachments == 0);

  auto auth = sio_ok(R"(0{"token":"x"})");
  CHECK(auth.nsp == "/");
  CHECK(auth.data == json{{"token", "x"}});

  auto nsp = sio_ok("0/ws/messages,");
  CHECK(nsp.type == sio_type::connect);
  CHECK(nsp.nsp == "/ws/messages");
  CHECK(nsp.data.is_null());

  auto nsp_auth = sio_ok(R"(0/ws/messages,{"token":"x","userId":"1"})");
  CHECK(nsp_auth.nsp == "/ws/messages");
  CHECK(nsp_auth.data == json{{"token", "x"}, {"userId", "1"}});

  // A namespace at the end of the packet needs no comma.
  CHECK(sio_ok("0/admin").nsp == "/admin");
}

TEST_CASE("CONNECT auth must be an object", "[socketio]") {
  CHECK(sio_err("0[]") == "CONNECT payload must be an object");
  CHECK(sio_err("0\"token\"") == "CONNECT payload must be an object");
  CHECK(sio_err("0/ws/messages,[1]") == "CONNECT payload must be an object");
  CHECK(sio_err("0/ws/messages,true") == "CONNECT payload must be an object");
}

TEST_CASE("DISCONNECT", "[socketio]") {
  auto root = sio_ok("1");
  CHECK(root.type == sio_type::disconnect);
  CHECK(root.nsp == "/");
  CHECK(root.data.is_null());
  auto nsp = sio_ok("1/ws/messages,");
  CHECK(nsp.type == sio_type::disconnect);
  CHECK(nsp.nsp == "/ws/messages");
  // DISCONNECT has no payload: one sent anyway is dropped (the namespace
  // still disconnects), but it must be valid JSON.
  CHECK(sio_ok("1{}").data.is_null());
  auto with_nsp = sio_ok("1/ws/messages,[]");
  CHECK(with_nsp.nsp == "/ws/messages");
  CHECK(with_nsp.data.is_null());
  CHECK(sio_ok("1null").data.is_null());
  CHECK(sio_ok("1-5").data.is_null());
  CHECK(sio_err("1{bad") == "payload is not valid JSON");
}

TEST_CASE("EVENT with and without ack id and namespace", "[socketio]") {
  auto plain = sio_ok(R"(2["join_user",{"userId":"1"}])");
  CHECK(plain.type == sio_type::event);
  CHECK(plain.nsp == "/");
  CHECK(plain.ack_id == no_ack);
  CHECK(plain.data == json::array({"join_user", {{"userId", "1"}}}));

  auto acked = sio_ok(R"(21["check-user-status","2"])");
  CHECK(acked.ack_id == 1);
  CHECK(acked.data == json::array({"check-user-status", "2"}));

  auto full = sio_ok(R"(2/ws/messages,12["check-user-status",{"userId":"u"}])");
  CHECK(full.nsp == "/ws/messages");
  CHECK(full.ack_id == 12);
  CHECK(full.data[0] == "check-user-status");
  CHECK(full.data[1] == json{{"userId", "u"}});

  auto no_args = sio_ok(R"(2["heartbeat"])");
  CHECK(no_args.data == json::array({"heartbeat"}));

  CHECK(sio_ok(R"(20["x"])").ack_id == 0);
  CHECK(sio_ok(R"(2007["x"])").ack_id == 7);              // leading zeros
  CHECK(sio_ok(R"(2 ["x"])").data == json::array({"x"})); // JSON spaces
}

TEST_CASE("EVENT must be an array starting with the event name", "[socketio]") {
  const std::string msg
    = "EVENT payload must be an array starting with the event name";
  CHECK(sio_err("2") == msg);
  CHECK(sio_err("2[]") == msg);
  CHECK(sio_err("2[1,\"x\"]") == msg); // socket.io allows numbers; we don't
  CHECK(sio_err("2[null]") == msg);
  CHECK(sio_err("2[[\"x\"]]") == msg);
  CHECK(sio_err("2{\"0\":\"x\"}") == msg);
  CHECK(sio_err("2\"join_user\"") == msg);
  CHECK(sio_err("23") == msg); // an ack id, no payload
  CHECK(sio_err("2/ws/messages,") == msg);
}

TEST_CASE("ACK needs an id and an array", "[socketio]") {
  auto a = sio_ok(R"(31["ok"])");
  CHECK(a.type == sio_type::ack);
  CHECK(a.ack_id == 1);
  CHECK(a.data == json::array({"ok"}));
  auto empty = sio_ok("3/ws/messages,9[]");
  CHECK(empty.nsp == "/ws/messages");
  CHECK(empty.ack_id == 9);
  CHECK(empty.data == json::array());
  CHECK(sio_err(R"(3["ok"])") == "ACK without an id");
  CHECK(sio_err(R"(31{"ok":true})") == "ACK payload must be an array");
  CHECK(sio_err("31") == "ACK payload must be an array");
}

TEST_CASE("CONNECT_ERROR", "[socketio]") {
  auto e = sio_ok(R"(4{"message":"Invalid namespace"})");
  CHECK(e.type == sio_type::connect_error);
  CHECK(e.data == json{{"message", "Invalid namespace"}});
  auto nsp = sio_ok(R"(4/ws/messages,{"message":"Unauthorized: x"})");
  CHECK(nsp.nsp == "/ws/messages");
  CHECK(nsp.data["message"] == "Unauthorized: x");
  CHECK(sio_ok(R"(4"Invalid namespace")").data == "Invalid namespace");
  CHECK(sio_ok("4").data.is_null());
  // Anything but an object or a string carries nothing: dropped.
  CHECK(sio_ok("4[]").data.is_null());
  CHECK(sio_ok("4true").data.is_null());
  CHECK(sio_ok("4-1").data.is_null());
}

TEST_CASE("numeric payloads that would read back as ack ids are dropped",
          "[socketio]") {
  // Found by fuzzing (tests/edge/parser_fuzz_test.cpp and fuzz_socketio): a
  // DISCONNECT or CONNECT_ERROR whose payload was a number kept it, but
  // encode_sio wrote the number right after the type, where it reads back
  // as an ack id ("1-0" -> data 0 -> "10" -> ack id 0). Such payloads mean
  // nothing and are dropped; the packet itself stands, as before.
  for (auto text : {"1-0", "1 5", "15 2", "4 0", "4 23", "451-0",
                    "49999999999999 9", "4/a,-7", "1/ws/messages, 3"}) {
    INFO(text);
    auto p = sio_ok(text);
    CHECK(p.data.is_null());
    require_round_trip(p);
  }
  // Negative numbers and spaces are fine where the payload is an array.
  require_round_trip(sio_ok("31 [-0]"));
  require_round_trip(sio_ok("2 [\"x\", -5]"));
  require_round_trip(sio_ok(R"(4 {"message":"m"})"));
  require_round_trip(sio_ok(R"(45"m")"));
}

TEST_CASE("BINARY_EVENT and BINARY_ACK attachment counts", "[socketio]") {
  auto be = sio_ok(R"(51-["upload",{"_placeholder":true,"num":0}])");
  CHECK(be.type == sio_type::binary_event);
  CHECK(be.attachments == 1);
  CHECK(be.data[0] == "upload");
  CHECK(be.ack_id == no_ack);

  auto full = sio_ok(R"(52-/ws/messages,3["x",{"_placeholder":true,"num":1}])");
  CHECK(full.attachments == 2);
  CHECK(full.nsp == "/ws/messages");
  CHECK(full.ack_id == 3);

  auto ba = sio_ok(R"(61-4[{"_placeholder":true,"num":0}])");
  CHECK(ba.type == sio_type::binary_ack);
  CHECK(ba.attachments == 1);
  CHECK(ba.ack_id == 4);

  CHECK(sio_ok(R"(5999999-["x"])").attachments == 999'999); // 6 digits
  const std::string bad = "malformed binary attachment count";
  CHECK(sio_err(R"(51234567-["x"])") == bad); // 7 digits
  CHECK(sio_err(R"(5-["x"])") == bad);
  CHECK(sio_err(R"(51["x"])") == bad); // no '-'
  CHECK(sio_err("5") == bad);
  CHECK(sio_err("51") == bad);
  CHECK(sio_err("6x-[]") == bad);
  // The other types never have attachments.
  CHECK(sio_ok(R"(21["x"])").attachments == 0);
}

TEST_CASE("unknown Socket.IO packet types are refused", "[socketio]") {
  const std::string msg = "unknown Socket.IO packet type";
  CHECK(sio_err("") == msg);
  CHECK(sio_err("7") == msg);
  CHECK(sio_err("9[\"x\"]") == msg);
  CHECK(sio_err("/") == msg);
  CHECK(sio_err("[\"x\"]") == msg);
  CHECK(sio_err(" 2[\"x\"]") == msg);
}

TEST_CASE("namespaces are at most 256 bytes", "[socketio]") {
  auto ok = "/" + std::string(255, 'n');
  CHECK(sio_ok("0" + ok + ",").nsp == ok);
  CHECK(sio_ok("0" + ok).nsp == ok);
  auto too_long = "/" + std::string(256, 'n');
  CHECK(sio_err("0" + too_long + ",") == "namespace too long");
  CHECK(sio_err("0" + too_long) == "namespace too long");
  CHECK(sio_err("2" + too_long + ",[\"x\"]") == "namespace too long");
}

TEST_CASE("ack ids are at most 15 digits", "[socketio]") {
  CHECK(sio_ok(R"(2999999999999999["x"])").ack_id == 999'999'999'999'999);
  CHECK(sio_ok(R"(3000000000000001[])").ack_id == 1);
  CHECK(sio_err(R"(21000000000000000["x"])") == "ack id too long");
  CHECK(sio_err(R"(399999999999999999999[])") == "ack id too long");
  CHECK(sio_err("2/a,9999999999999999[\"x\"]") == "ack id too long");
}

TEST_CASE("payloads must be whole, valid JSON without NUL bytes",
          "[socketio]") {
  const std::string msg = "payload is not valid JSON";
  CHECK(sio_err(R"(2["x")") == msg);
  CHECK(sio_err(R"(2["x"]])") == msg);
  CHECK(sio_err(R"(2["x"] junk)") == msg);
  CHECK(sio_err(R"(2['x'])") == msg);
  CHECK(sio_err("2[\"\xff\"]") == msg); // invalid UTF-8
  CHECK(sio_err(R"(0{"token":})") == msg);
  // nlohmann_json would stop at the NUL and accept the prefix.
  CHECK(sio_err(std::string("2[\"x\"]\0junk", 11)) == msg);
  CHECK(sio_err(std::string("2[\"x\"]\0", 7)) == msg);
  CHECK(sio_err(std::string("0{\"a\":\"\0\"}", 10)) == msg);
  // An escaped NUL inside a string is fine.
  CHECK(sio_ok(R"(2["x\u0000y"])").data[0] == std::string("x\0y", 3));
}

TEST_CASE("a failed Socket.IO parse says why, whatever came before",
          "[socketio]") {
  sio_packet p;
  std::string err;
  REQUIRE(parse_sio(R"(2/a,5["x"])", p, err));
  REQUIRE_FALSE(parse_sio("3[]", p, err));
  CHECK(err == "ACK without an id");
  // A later success starts from a fresh packet.
  REQUIRE(parse_sio("1", p, err));
  CHECK(p.nsp == "/");
  CHECK(p.ack_id == no_ack);
  CHECK(p.data.is_null());
}

// -- Socket.IO: encoding ------------------------------------------------------

TEST_CASE("encode_sio writes type, namespace, ack id, JSON", "[socketio]") {
  CHECK(encode_sio(sio_type::connect, "/", json{}) == "0");
  CHECK(encode_sio(sio_type::connect, "", json{}) == "0");
  CHECK(encode_sio(sio_type::connect, "/ws/messages", json{})
        == "0/ws/messages,");
  CHECK(encode_sio(sio_type::event, "/", json::array({"a", 1}), 5)
        == R"(25["a",1])");
  CHECK(encode_sio(sio_type::event, "/ws/messages", json::array({"a"}), 0)
        == R"(2/ws/messages,0["a"])");
  CHECK(encode_sio(sio_type::ack, "/", json::array(), 12) == "312[]");
  CHECK(encode_sio(sio_type::disconnect, "/x", json{}) == "1/x,");
  CHECK(encode_sio(sio_type::connect_error, "/", json{{"message", "m"}})
        == R"(4{"message":"m"})");
}

TEST_CASE("encode_sio replaces invalid UTF-8 instead of throwing",
          "[socketio]") {
  std::string out;
  REQUIRE_NOTHROW(out = encode_sio(sio_type::event, "/",
                                   json::array({"e",
                                                "a\xff"
                                                "b"})));
  CHECK(out == "2[\"e\",\"a\xEF\xBF\xBD" "b\"]");  // U+FFFD
  auto p = sio_ok(out);
  CHECK(p.data[1] == "a\xEF\xBF\xBD" "b");
}

TEST_CASE("encode -> parse gives the same packet", "[socketio]") {
  std::vector<sio_packet> packets;
  for (auto nsp : {"/", "/ws/messages", "/x9"}) {
    for (int64_t ack :
         {no_ack, int64_t{0}, int64_t{42}, int64_t{999'999'999'999'999}}) {
      sio_packet p;
      p.nsp = nsp;
      p.ack_id = ack;
      p.type = sio_type::event;
      p.data = json::array({"user_online",
                            {{"userId", "u\xC3\xA9"}},
                            1.5,
                            nullptr,
                            18446744073709551615ULL});
      packets.push_back(p);
      p.type = sio_type::connect;
      p.data = json{{"token", "x"}};
      packets.push_back(p);
      p.data = nullptr;
      packets.push_back(p);
      p.type = sio_type::connect_error;
      p.data = json{{"message", "Invalid namespace"}};
      packets.push_back(p);
      p.type = sio_type::disconnect;
      p.data = nullptr;
      packets.push_back(p);
      if (ack != no_ack) {
        p.type = sio_type::ack;
        p.data = json::array({{{"success", true}}, -7});
        packets.push_back(p);
      }
    }
  }
  CHECK(packets.size() == 3 * (4 * 5 + 3));
  for (auto& p : packets)
    require_round_trip(p);
}

// -- the wire, as socket.io-client@4 speaks it --------------------------------

TEST_CASE("what socket.io-client sends parses as meant", "[socketio]") {
  // io(url): CONNECT to the main namespace.
  auto c = wire_ok("40");
  CHECK(c.type == sio_type::connect);
  CHECK(c.nsp == "/");
  CHECK(c.data.is_null());

  // io(url + '/ws/messages', {auth: {token: 'x'}}) (seed 004).
  auto c4 = wire_ok(R"(40/ws/messages,{"token":"x"})");
  CHECK(c4.type == sio_type::connect);
  CHECK(c4.nsp == "/ws/messages");
  CHECK(c4.data == json{{"token", "x"}});

  // socket.emit('join_user', {userId: '1'}) (seed 000).
  auto j = wire_ok(R"(42["join_user",{"userId":"1"}])");
  CHECK(j.type == sio_type::event);
  CHECK(j.ack_id == no_ack);
  CHECK(j.data == json::array({"join_user", {{"userId", "1"}}}));

  // socket.emit('join_user', 1): seed 000 sends bare ids.
  CHECK(wire_ok(R"(42["join_user",1])").data[1] == 1);

  // socket.emit('check-user-status', '2', cb): ack id 1.
  auto q = wire_ok(R"(421["check-user-status","2"])");
  CHECK(q.type == sio_type::event);
  CHECK(q.ack_id == 1);
  CHECK(q.data == json::array({"check-user-status", "2"}));

  // On a namespace with an ack id (seed 004's first query).
  auto q4 = wire_ok(
    R"(42/ws/messages,0["check-user-status",{"userId":"user-123"}])");
  CHECK(q4.nsp == "/ws/messages");
  CHECK(q4.ack_id == 0);

  // socket.emit('heartbeat') and socket.disconnect().
  CHECK(wire_ok(R"(42["heartbeat"])").data == json::array({"heartbeat"}));
  CHECK(wire_ok("41").type == sio_type::disconnect);
  CHECK(wire_ok("41/ws/messages,").nsp == "/ws/messages");

  // An ACK (we never ask for one, but clients may send it).
  auto a = wire_ok(R"(431["ok"])");
  CHECK(a.type == sio_type::ack);
  CHECK(a.ack_id == 1);
  CHECK(a.data == json::array({"ok"}));

  // Engine.IO heartbeats and the upgrade dance.
  CHECK(eio_ok("3").type == eio_type::pong);
  CHECK(eio_ok("2probe").data == "probe");
  CHECK(eio_ok("5").type == eio_type::upgrade);
}

TEST_CASE("what presenced sends is what socket.io-client expects",
          "[socketio]") {
  CHECK(eio_connect_ok("/", "AbCdEfGhIjKlMnOpQrSt")
        == R"(40{"sid":"AbCdEfGhIjKlMnOpQrSt"})");
  CHECK(eio_connect_ok("/ws/messages", "s1")
        == R"(40/ws/messages,{"sid":"s1"})");
  CHECK(eio_connect_error("/", "m") == R"(44{"message":"m"})");
  CHECK(eio_connect_error("/nope", "Invalid namespace")
        == R"(44/nope,{"message":"Invalid namespace"})");
  CHECK(eio_event("/", "user_online", {{"userId", "1"}})
        == R"(42["user_online",{"userId":"1"}])");
  CHECK(eio_event("/ws/messages", "user-offline", {{"userId", "1"}})
        == R"(42/ws/messages,["user-offline",{"userId":"1"}])");
  CHECK(eio_ack("/", 1, json::array({"ok"})) == R"(431["ok"])");
  CHECK(eio_ack("/ws/messages", 0, json::array({{{"success", true}}}))
        == R"(43/ws/messages,0[{"success":true}])");
  CHECK(eio_disconnect("/") == "41");
  CHECK(eio_disconnect("/ws/messages") == "41/ws/messages,");
  CHECK(encode_eio(eio_type::pong, "probe") == "3probe");
  CHECK(encode_eio(eio_type::ping) == "2");
  CHECK(encode_eio(eio_type::noop) == "6");
  // Each parses back as what it claims to be.
  auto ack = wire_ok(eio_ack("/ws/messages", 3, json::array({"x"})));
  CHECK(ack.type == sio_type::ack);
  CHECK(ack.ack_id == 3);
  CHECK(ack.nsp == "/ws/messages");
  auto err = wire_ok(eio_connect_error("/nope", "Invalid namespace"));
  CHECK(err.type == sio_type::connect_error);
  CHECK(err.data["message"] == "Invalid namespace");
  auto ev = wire_ok(eio_event("/", "pong", {{"timestamp", "t"}}));
  CHECK(ev.data == json::array({"pong", {{"timestamp", "t"}}}));
}

// -- sids and reserved names --------------------------------------------------

TEST_CASE("make_sid gives 20 url-safe characters, never the same",
          "[socketio]") {
  std::set<std::string> seen;
  std::set<char> chars;
  for (int i = 0; i < 1000; ++i) {
    auto sid = make_sid();
    REQUIRE(sid.size() == 20);
    for (char c : sid) {
      bool url_safe = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
                      || (c >= '0' && c <= '9') || c == '-' || c == '_';
      INFO("sid " << sid);
      REQUIRE(url_safe);
      chars.insert(c);
    }
    seen.insert(sid);
  }
  CHECK(seen.size() == 1000);
  CHECK(make_sid() != make_sid());
  // 20,000 random draws from 64 characters reach all of them.
  CHECK(chars.size() == 64);
}

TEST_CASE("reserved_event names socket.io's reserved events", "[socketio]") {
  for (auto name : {"connect", "connect_error", "disconnect", "disconnecting",
                    "newListener", "removeListener"}) {
    INFO(name);
    CHECK(reserved_event(name));
  }
  for (auto name : {"", "join_user", "Connect", "connect ", "error",
                    "disconnected", "new_listener", "ping", "message"}) {
    INFO(name);
    CHECK_FALSE(reserved_event(name));
  }
}

TEST_CASE("the seed-000 list window widens with its audience", "[socketio]") {
  using presence::edge::list_bytes_per_second;
  using presence::edge::seed000_list_window;
  using std::chrono::milliseconds;
  // Small audiences: the configured window.
  CHECK(seed000_list_window(milliseconds{1000}, 10'000, 100)
        == milliseconds{1000});
  CHECK(seed000_list_window(milliseconds{0}, 0, 0) == milliseconds{0});
  // Large ones: at most list_bytes_per_second of lists per second.
  auto w = seed000_list_window(milliseconds{1000}, 100'000, 2'000);
  CHECK(w.count() == 100'000LL * 2'000 * 1000 / list_bytes_per_second);
  CHECK(w > milliseconds{1000});
}

TEST_CASE("the heartbeat round's plain events match without a JSON parse",
          "[socketio]") {
  simple_event ev;
  REQUIRE(match_simple_event(R"(2["user_activity"])", ev));
  CHECK(ev.name == "user_activity");
  CHECK_FALSE(ev.has_arg);
  REQUIRE(match_simple_event(R"(2["check_user_online","u-1.é"])", ev));
  CHECK(ev.name == "check_user_online");
  CHECK(ev.has_arg);
  CHECK(ev.arg == "u-1.é");
  // Anything else is for the JSON parser: a namespace, an ack id,
  // whitespace, escapes, other argument types, more arguments, trailing
  // bytes, truncation.
  for (auto text :
       {R"(2/ws/messages,["heartbeat"])", R"(21["user_activity"])",
        R"(2[ "user_activity"])", R"(2["user_activity" ])",
        R"(2["check_user_online","a\"b"])", R"(2["check_user_online",42])",
        R"(2["check_user_online",{"userId":"a"}])",
        R"(2["check_user_online","a","b"])", R"(2["user_activity"]x)",
        R"(2["user_activity")", R"(2["check_user_online","a)", R"(2[""])",
        R"(2["])", "2[", "", R"(3["user_activity"])"}) {
    INFO(text);
    CHECK_FALSE(match_simple_event(text, ev));
  }
}

TEST_CASE("plain strings are read eight bytes at a time as byte by byte",
          "[socketio]") {
  // Every length up to 24, every special byte at every place, names of
  // several lengths (other alignments): the word-at-a-time scan must
  // stop exactly where a byte-by-byte one would.
  const std::string specials[] = {"\"",   "\\",       std::string(1, '\0'),
                                  "\x01", "\x1f",     " ",
                                  "\x7f", "\xc3\xa9", "a"};
  simple_event ev;
  for (std::string name : {"e", "check_user_online", "heartbeat_"})
    for (size_t len = 0; len <= 24; ++len)
      for (size_t at = 0; at < len; ++at)
        for (auto& sp : specials) {
          std::string arg(len, 'x');
          arg.replace(at, 1, sp);
          bool plain = true;
          for (unsigned char c : arg)
            if (c == '"' || c == '\\' || c < 0x20)
              plain = false;
          auto text = "2[\"" + name + "\",\"" + arg + "\"]";
          INFO(name << " " << len << " " << at << " " << int(sp[0]));
          REQUIRE(match_simple_event(text, ev) == plain);
          if (plain) {
            CHECK(ev.name == name);
            CHECK(ev.arg == arg);
          }
        }
}

TEST_CASE("user_online_status without JSON is the JSON path's bytes",
          "[socketio]") {
  for (auto user : {"u1", "alice.smith-42", "é-ü", "a/b"})
    for (bool online : {true, false}) {
      INFO(user << " " << online);
      std::string packet;
      user_online_status_packet(packet, user, online);
      CHECK(packet
            == eio_event("/", "user_online_status",
                         {{"userId", user}, {"online", online}}));
    }
}
