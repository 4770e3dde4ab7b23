// Deterministic mutation fuzzing of everything the edge parses from the
// network: native frames, Engine.IO / Socket.IO packets, request targets,
// JWTs, Authorization headers and ids. A fixed-seed std::mt19937 mutates a
// corpus of valid inputs (bit flips, truncation, random bytes incl. NUL and
// invalid UTF-8, duplication, splicing, dictionary tokens); every result
// must be handled without an exception and satisfy the properties in
// tests/fuzz/invariants.hpp.

#include <catch2/catch.hpp>

#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <jwt.h>

#include "tests/edge/jwt_signing.hpp"
#include "tests/fuzz/invariants.hpp"

using namespace presence;
using namespace presence::fuzz;

namespace {

class mutator {
public:
  explicit mutator(uint32_t seed) : rng_(seed) {
    // nop
  }

  size_t below(size_t n) {
    return n == 0 ? 0 : static_cast<size_t>(rng_() % n);
  }

  std::string mutate(const std::vector<std::string>& corpus,
                     const std::vector<std::string>& dict) {
    auto s = corpus[below(corpus.size())];
    auto rounds = 1 + below(4);
    for (size_t r = 0; r < rounds; ++r)
      step(s, corpus, dict);
    return s;
  }

private:
  char interesting_byte() {
    static const unsigned char bytes[]
      = {0x00, 0x01, 0x1f, 0x20, 0x7f, 0x80, 0xbf, 0xc0, 0xc1, 0xc3,
         0xe0, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xfe, 0xff, '"',  '\\',
         '{',  '}',  '[',  ']',  ',',  ':',  '%',  '/',  '?',  '&',
         '=',  '+',  '.',  '-',  '0',  '9',  'e',  'u',  'A',  'f'};
    if (below(3) == 0)
      return static_cast<char>(rng_() & 0xff);
    return static_cast<char>(bytes[below(sizeof(bytes))]);
  }

  void step(std::string& s, const std::vector<std::string>& corpus,
            const std::vector<std::string>& dict) {
    switch (below(10)) {
      case 0: // flip one bit
        if (!s.empty())
          s[below(s.size())] ^= static_cast<char>(1u << below(8));
        break;
      case 1: // truncate
        s.resize(below(s.size() + 1));
        break;
      case 2: // insert one byte
        s.insert(s.begin() + below(s.size() + 1), interesting_byte());
        break;
      case 3: { // insert a run of random bytes
        std::string run;
        for (size_t n = 1 + below(8); n > 0; --n)
          run.push_back(interesting_byte());
        s.insert(below(s.size() + 1), run);
        break;
      }
      case 4: { // duplicate a slice
        if (s.empty())
          break;
        auto a = below(s.size());
        auto len = 1 + below(s.size() - a);
        auto copies = 1 + below(3);
        auto slice = s.substr(a, len);
        for (size_t i = 0; i < copies && s.size() < 20'000; ++i)
          s.insert(below(s.size() + 1), slice);
        break;
      }
      case 5: { // delete a slice
        if (s.empty())
          break;
        auto a = below(s.size());
        s.erase(a, 1 + below(s.size() - a));
        break;
      }
      case 6: { // splice with another corpus entry
        auto& other = corpus[below(corpus.size())];
        s = s.substr(0, below(s.size() + 1))
            + other.substr(below(other.size() + 1));
        break;
      }
      case 7: // overwrite a byte
        if (!s.empty())
          s[below(s.size())] = interesting_byte();
        break;
      case 8: // insert a dictionary token
        if (!dict.empty())
          s.insert(below(s.size() + 1), dict[below(dict.size())]);
        break;
      case 9: { // replace a slice by a dictionary token
        if (s.empty() || dict.empty())
          break;
        auto a = below(s.size());
        s.replace(a, below(s.size() - a + 1), dict[below(dict.size())]);
        break;
      }
    }
  }

  std::mt19937 rng_;
};

/// Runs `check` on `iterations` mutants; collects property violations and
/// escaped exceptions (at most a few, for the report).
struct campaign {
  size_t iterations = 0;
  size_t exceptions = 0;
  std::vector<std::string> failures;

  void record(const std::string& what, const std::string& input) {
    if (failures.size() < 8)
      failures.push_back(what + "\n    input: \"" + escape(input) + "\"");
  }

  void run(uint32_t seed, size_t n, const std::vector<std::string>& corpus,
           const std::vector<std::string>& dict,
           const std::function<std::string(const std::string&)>& check) {
    mutator m{seed};
    // The unmutated corpus first: it must pass as well.
    for (auto& input : corpus)
      one(input, check);
    for (size_t i = 0; i < n; ++i)
      one(m.mutate(corpus, dict), check);
  }

  /// Like run(), with inputs from `gen`.
  void run_gen(size_t n, const std::function<std::string()>& gen,
               const std::function<std::string(const std::string&)>& check) {
    for (size_t i = 0; i < n; ++i)
      one(gen(), check);
  }

  void one(const std::string& input,
           const std::function<std::string(const std::string&)>& check) {
    ++iterations;
    try {
      auto e = check(input);
      if (!e.empty())
        record(e, input);
    } catch (const std::exception& ex) {
      ++exceptions;
      record(std::string{"exception: "} + ex.what(), input);
    } catch (...) {
      ++exceptions;
      record("unknown exception", input);
    }
  }

  void report() const {
    std::string all;
    for (auto& f : failures)
      all += "  " + f + "\n";
    INFO(iterations << " inputs, " << exceptions << " exceptions\n" << all);
    CHECK(exceptions == 0);
    CHECK(failures.empty());
  }
};

const std::vector<std::string> json_dict = {
  "null",
  "true",
  "false",
  "0",
  "-1",
  "1.5",
  "1e999",
  "-0",
  "1e-400",
  "18446744073709551615",
  "9223372036854775808",
  "-9223372036854775809",
  "\"\"",
  "\"\\u0000\"",
  "\"\\ud800\"",
  "\"\\udc00\\ud800\"",
  "\"\\u00e9\"",
  "[]",
  "{}",
  "[[[[[[[[",
  "]]]]]]]]",
  "\"type\"",
  "\"id\"",
  "\"user_id\"",
  "\"userIds\"",
  "\"user_ids\"",
  "\"global\"",
  "\"limit\"",
  "\"status\"",
  "\"join\"",
  "\"subscribe\"",
  "\"get_statuses\"",
  "\"list_online\"",
  "\"offline\"",
  ",",
  ":",
  "\"a b\"",
  "\"\xc3\xa9\"",
  "\"\xff\"",
};

std::vector<std::string> native_corpus() {
  std::string many = "[";
  for (int i = 0; i < 1000; ++i)
    many += (i ? ",\"u" : "\"u") + std::to_string(i) + "\"";
  many += "]";
  return {
    R"({"type":"join","id":1,"user_id":"alice","device_id":"d1","user_agent":"UA","platform":"web","token":"t","status":"away"})",
    R"({"type":"identify","userId":42,"deviceId":"tab"})",
    R"({"type":"leave","id":"x"})",
    R"({"type":"ping"})",
    R"({"type":"heartbeat","id":-2.5})",
    R"({"type":"get_status","user_id":"bob"})",
    R"({"type":"get_statuses","id":"q","user_ids":["a","b",3]})",
    R"({"type":"batch_status","userIds":["j\u00fcrgen"]})",
    R"({"type":"list_online","cursor":"u5","limit":1000})",
    R"({"type":"count_online"})",
    R"({"type":"subscribe","user_ids":["a"],"global":false})",
    R"({"type":"unsubscribe","global":true})",
    R"({"type":"set_status","status":"dnd","id":7})",
    R"({"type":"set_contacts","visibility":"contacts","contacts":["b","a",7]})",
    R"({"type":"get_contacts","id":"x"})",
    R"({"type":"refresh","token":"a.b.c","id":3})",
    R"({"type":"send","id":3,"conversation_id":"dm_1","content":"hi","temp_id":"t"})",
    R"({"type":"send","conversationId":9,"content":"","tempId":12})",
    R"({"type":"join_room","room":"r1","id":4})",
    R"({"type":"activity","id":5})",
    R"({"type":"join","user_id":"a","auto_away":300})",
    R"({"type":"typing","room":"r1","typing":false})",
    R"({"type":"leave_room","room":"r1"})",
    R"({"type":"subscribe","userIds":)" + many + "}",
    // Found by `make fuzz`: a resync's limit (default 10,000) is not a
    // page size.
    R"({"type":"resync","since":1796})",
    R"({"type":"resync","since":0,"limit":10000})",
    R"({"type":"set_status","status":"invisible","status_text":"away"})",
    R"({"type":"subscribe","user_ids":["a"],"snapshot":true,"limit":5})",
  };
}

/// Structure-aware mutation of native frames: parse a corpus frame, then
/// set, drop or retype fields with values chosen to hit the parser's limits.
class frame_mutator {
public:
  explicit frame_mutator(uint32_t seed) : m_(seed), bytes_(seed + 1) {
    using nlohmann::json;
    strings_ = {"",
                "a",
                "alice",
                "a b",
                "\xC3\xA9",
                "\xE2\x82\xAC",
                "offline",
                "online",
                "busy",
                "dnd",
                "away",
                "x\ty",
                std::string(128, 'i'),
                std::string(129, 'i'),
                std::string(256, 'q'),
                std::string(257, 'q'),
                std::string(600, 'u'),
                "join",
                "ping",
                "subscribe"};
    for (auto& x : strings_)
      values_.push_back(x);
    for (auto x :
         {json(0), json(1), json(-1), json(1000), json(1001), json(100),
          json(1.5), json(-0.0), json(nullptr), json(true), json(false),
          json::object(), json::array(), json(9223372036854775807LL),
          json(18446744073709551615ULL), json(-9223372036854775807LL - 1)})
      values_.push_back(x);
    values_.push_back(json::array({"a", "b", 3}));
    values_.push_back(json::array({"a", nullptr}));
    values_.push_back(json::array({"ok", "not ok"}));
    values_.push_back(json::array({1.5}));
    values_.push_back(json::array({json::array({"nested"})}));
    json big = json::array();
    for (int i = 0; i < 1000; ++i)
      big.push_back("u" + std::to_string(i));
    values_.push_back(big);
    big.push_back("one-too-many");
    values_.push_back(big);
    keys_ = {"type",     "id",         "user_id",   "userId",   "device_id",
             "deviceId", "user_agent", "userAgent", "platform", "token",
             "status",   "user_ids",   "userIds",   "global",   "cursor",
             "limit",    "extra"};
    types_ = {"join",        "identify",     "leave",        "ping",
              "heartbeat",   "get_status",   "get_statuses", "batch_status",
              "list_online", "count_online", "subscribe",    "unsubscribe",
              "set_status",  "nope"};
  }

  std::string next(const std::vector<std::string>& corpus,
                   const std::vector<std::string>& dict) {
    using nlohmann::json;
    auto j = json::parse(corpus[m_.below(corpus.size())]);
    for (size_t r = 1 + m_.below(3); r > 0; --r) {
      auto& key = keys_[m_.below(keys_.size())];
      switch (m_.below(4)) {
        case 0:
          j.erase(key);
          break;
        case 1:
          j["type"] = types_[m_.below(types_.size())];
          break;
        default:
          j[key] = values_[m_.below(values_.size())];
      }
    }
    auto text = j.dump(-1, ' ', false, json::error_handler_t::replace);
    // Now and then a byte-level mutation on top.
    if (m_.below(8) == 0)
      text = bytes_.mutate({text}, dict);
    return text;
  }

private:
  mutator m_;
  mutator bytes_;
  std::vector<std::string> strings_;
  std::vector<nlohmann::json> values_;
  std::vector<std::string> keys_;
  std::vector<std::string> types_;
};

/// Engine.IO packets and polling payloads as socket.io-client@4 and
/// presenced send them, and bare Socket.IO packets.
std::vector<std::string> socketio_corpus() {
  return {
    "40",
    R"(40/ws/messages,{"token":"x"})",
    R"(40{"userId":"1"})",
    R"(42["join_user",{"userId":"1"}])",
    R"(42["join_user",1])",
    R"(42["user_activity"])",
    R"(42["check_user_online","u-7"])",
    R"(421["check-user-status","2"])",
    R"(42/ws/messages,0["check-users-status",{"userIds":["a","b"]}])",
    R"(431["ok"])",
    R"(43/ws/messages,7[{"success":true,"data":{"online":false}}])",
    R"(44{"message":"Invalid namespace"})",
    "41",
    "41/ws/messages,",
    R"(451-["upload",{"_placeholder":true,"num":0}])",
    R"(462-/ws/messages,3[{"_placeholder":true,"num":1}])",
    R"(0{"sid":"AbCdEfGhIjKlMnOpQrSt","upgrades":["websocket"],)"
    R"("pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000})",
    "2",
    "3",
    "2probe",
    "3probe",
    "5",
    "6",
    "1",
    "2\x1e"
    "40\x1e"
    R"(42["heartbeat"])",
    R"(42["typing-start",{"chatSessionId":"c\u00e9"}])"
    "\x1e"
    "3",
    "bAQIDBA==",
    R"(2["get_online_users"])",
    R"(3999999999999999[])",
  };
}

const std::vector<std::string> socketio_dict = {
  "\x1e",
  "4",
  "42",
  "43",
  "40",
  "451-",
  "1-",
  "999999-",
  "1234567-",
  "/",
  "/ws/messages,",
  "/ws/messages",
  ",",
  "0",
  "1",
  "999999999999999",
  "9999999999999999",
  "[",
  "]",
  "[]",
  "{}",
  "null",
  "\"x\"",
  "\"\"",
  "\"join_user\"",
  "\"connect\"",
  "\"message\"",
  "\"token\"",
  " ",
  "-1",
  "1e999",
  "18446744073709551615",
  "\"\\u0000\"",
  std::string(1, '\0'),
  "\xff",
  "b",
  "probe",
};

/// Builds Socket.IO packets from parts chosen to hit the codec's limits:
/// type, attachment count, namespace, ack id and payload; now and then a
/// byte-level mutation on top. With `eio`, the packet is wrapped in an
/// Engine.IO message and sometimes joined with others into a payload.
class sio_generator {
public:
  explicit sio_generator(uint32_t seed) : m_(seed), bytes_(seed + 1) {
    types_ = {"0", "1", "2", "3", "4", "5", "6", "7", "/", ""};
    attachments_ = {"", "0-", "1-", "999999-", "1234567-", "-", "1"};
    nsps_ = {"",
             "/",
             "/,",
             "/ws/messages,",
             "/ws/messages",
             "/a,b,",
             "/" + std::string(255, 'n') + ",",
             "/" + std::string(256, 'n') + ",",
             "/\xC3\xA9,",
             "/5,",
             "/\x1e,"};
    acks_ = {"",
             "0",
             "1",
             "007",
             "42",
             "999999999999999",
             "1000000000000000",
             "18446744073709551616"};
    payloads_ = {"",
                 "[]",
                 R"(["x"])",
                 R"(["join_user",{"userId":"1"}])",
                 R"(["connect"])",
                 "[1]",
                 "[null]",
                 R"([["x"]])",
                 "{}",
                 R"({"token":"x"})",
                 R"({"message":"m"})",
                 "null",
                 "true",
                 "5",
                 " 5",
                 "-5",
                 "1.5",
                 "\"s\"",
                 " [\"x\"]",
                 "[\"x\"] ",
                 "[\"x\"",
                 "[\"\\u0000\"]",
                 std::string("[\"x\"]\0", 6),
                 "[\"\xff\"]",
                 "[18446744073709551615,-0.0,1e308]",
                 "[\"x\",{\"_placeholder\":true,\"num\":0}]"};
  }

  std::string next(bool eio) {
    auto s = pick(types_) + (m_.below(3) == 0 ? pick(attachments_) : "")
             + pick(nsps_) + pick(acks_) + pick(payloads_);
    if (m_.below(8) == 0)
      s = bytes_.mutate({s}, socketio_dict);
    if (!eio)
      return s;
    s = "4" + s;
    for (size_t n = m_.below(4); n > 0; --n)
      s += "\x1e" + (m_.below(2) == 0 ? "4" + pick(types_) : pick(types_));
    return s;
  }

private:
  const std::string& pick(const std::vector<std::string>& v) {
    return v[m_.below(v.size())];
  }

  mutator m_;
  mutator bytes_;
  std::vector<std::string> types_;
  std::vector<std::string> attachments_;
  std::vector<std::string> nsps_;
  std::vector<std::string> acks_;
  std::vector<std::string> payloads_;
};

std::vector<std::string> target_corpus() {
  return {
    "/",
    "/api/users/alice",
    "/api/users/a%2Fb/profile",
    "/api/users/",
    "/api//users///x",
    "/api/status?user_ids=a,b&userIds=c",
    "/ws?token=abc.def.ghi&user_id=j%C3%BCrgen&device_id=d+1",
    "/api/online?cursor=u5&limit=10",
    "/x?a=1&a=2&&b=%2B+c&flag&=v",
    "/api/users/%E2%82%AC/history?limit=5",
  };
}

const std::vector<std::string> url_dict = {
  "%", "%2", "%2F", "%2f", "%00", "%ff", "%zz", "%%",  "+",
  "?", "&",  "=",   "/",   "//",  "#",   "%3F", "%26", "%3D",
};

const std::string secret = "fuzz-secret";
constexpr millis now_ms = 1'700'000'000'000;

std::string sign(const std::string& claims, jwt_alg_t alg = JWT_ALG_HS256) {
  return test::sign_jwt(claims, alg, secret);
}

} // namespace

TEST_CASE("fuzz: the ping's fast path reads what the JSON tree reads",
          "[fuzz]") {
  // Mutants of plain pings: near the fast path's edges (check_native
  // compares every input it takes with parse_native_tree).
  campaign c;
  size_t fast = 0;
  std::vector<std::string> pings = {
    R"({"type":"ping"})",
    R"({"type":"ping","id":1})",
    R"({"id":"abc","type":"ping"})",
    R"( { "type" : "ping", "id" : -7 } )",
    R"({"type":"ping","id":123456789012345678})",
  };
  c.run(0x5eed00f1, 20'000, pings, json_dict, [&](const std::string& in) {
    std::string id;
    if (edge::fast_ping(in, id))
      ++fast;
    return check_native(in);
  });
  // Pings built piece by piece: whitespace, key order, ids of every form
  // (digits with signs and leading zeros, strings with escapes, non-ASCII
  // bytes, quotes), keys twice, other keys.
  std::mt19937 rng{0x5eed00f2};
  auto pick = [&](std::initializer_list<const char*> xs) {
    return std::string{*(xs.begin() + rng() % xs.size())};
  };
  auto ws = [&] { return pick({"", "", " ", "\n", "\t ", "\r\n", "\v"}); };
  auto id_value = [&] {
    std::string v;
    switch (rng() % 4) {
      case 0:
      case 1: {
        v = pick({"", "", "-", "+"});
        auto n = rng() % 21;
        for (size_t i = 0; i < n; ++i)
          v += static_cast<char>('0' + rng() % 10);
        v += pick({"", "", "", ".5", "e2"});
        return v;
      }
      default: {
        v = "\"";
        auto n = rng() % 8 == 0 ? 250 + rng() % 10 : rng() % 12;
        for (size_t i = 0; i < n; ++i)
          v += pick({"a", "Z", "0", " ", "/", "{", ",", ":", "\\\"", "\\n",
                     "\xc3\xa9", "\x7f", "\x01", "\xff"});
        return v + pick({"\"", "\"", "\"", ""});
      }
    }
  };
  c.run_gen(
    20'000,
    [&] {
      std::vector<std::string> members;
      members.push_back("\"type\"" + ws() + ":" + ws()
                        + pick({"\"ping\"", "\"ping\"", "\"ping\"", "\"pong\"",
                                "\"p\\u0069ng\"", "1"}));
      if (rng() % 4 != 0)
        members.push_back("\"id\"" + ws() + ":" + ws() + id_value());
      if (rng() % 8 == 0)
        members.push_back(
          pick({"\"id\":1", "\"type\":\"ping\"", "\"other\":true"}));
      std::shuffle(members.begin(), members.end(), rng);
      std::string out = ws() + "{" + ws();
      for (size_t i = 0; i < members.size(); ++i)
        out += (i > 0 ? ws() + "," + ws() : "") + members[i];
      return out + ws() + "}" + ws() + pick({"", "", "", "", "x", "}"});
    },
    [&](const std::string& in) {
      std::string id;
      if (edge::fast_ping(in, id))
        ++fast;
      return check_native(in);
    });
  c.report();
  INFO(fast << " of " << c.iterations << " taken by the fast path");
  CHECK(fast > 500);
}

TEST_CASE("fuzz: parse_native", "[fuzz]") {
  campaign c;
  size_t accepted = 0;
  size_t fast = 0;
  std::set<std::string> codes;
  std::set<int> ops;
  auto check = [&](const std::string& in) {
    edge::native_command cmd;
    edge::protocol_error err;
    std::string id;
    if (edge::fast_ping(in, id))
      ++fast; // check_native compares it with the whole parser
    if (edge::parse_native(in, cmd, err)) {
      ++accepted;
      ops.insert(static_cast<int>(cmd.op));
    } else {
      codes.insert(err.code);
    }
    return check_native(in);
  };
  auto corpus = native_corpus();
  // Half byte-level mutants, half structure-aware ones.
  c.run(0x5eed0001, 40'000, corpus, json_dict, check);
  frame_mutator fm{0x5eed0011};
  c.run_gen(
    40'000, [&] { return fm.next(corpus, json_dict); }, check);
  c.report();
  // The mutants reach every outcome: each op and each error code.
  INFO(accepted << " of " << c.iterations << " accepted, " << fast
                << " by the ping's fast path");
  CHECK(fast > 100);
  CHECK(accepted > c.iterations / 20);
  CHECK(accepted < c.iterations / 2);
  // Every native_op (resync is the last).
  CHECK(ops.size() == static_cast<size_t>(edge::native_op::refresh) + 1);
  CHECK(codes
        == std::set<std::string>{"bad_json", "bad_request", "unknown_type",
                                 "invalid_id", "too_many_ids"});
}

TEST_CASE("fuzz: numeric ids keep their value", "[fuzz]") {
  // Finds the unsigned-integer id bug (see native_protocol_test.cpp).
  campaign c;
  auto corpus = native_corpus();
  frame_mutator fm{0x5eed0021};
  c.run_gen(
    10'000, [&] { return fm.next(corpus, json_dict); },
    check_native_numeric_ids);
  c.report();
}

TEST_CASE("fuzz: Engine.IO and Socket.IO codecs", "[fuzz]") {
  using namespace edge::sio;
  campaign c;
  std::set<int> types;
  std::set<std::string> errors;
  size_t accepted = 0;
  size_t payloads = 0;
  size_t simple = 0;
  // Tallies what the mutants reach.
  auto tally = [&](const std::string& text) {
    sio_packet p;
    std::string err;
    if (parse_sio(text, p, err)) {
      ++accepted;
      types.insert(static_cast<int>(p.type));
    } else {
      errors.insert(err);
    }
  };
  auto check = [&](const std::string& in) {
    // The input, and the data of an Engine.IO message, as Socket.IO.
    tally(in);
    eio_packet e;
    if (parse_eio(in, e) && e.type == eio_type::message)
      tally(e.data);
    std::vector<eio_packet> ps;
    if (parse_eio_payload(in, ps, 1 + in.size() % 7) && ps.size() > 1)
      ++payloads;
    simple_event ev;
    if (parse_eio(in, e) && match_simple_event(e.data, ev))
      ++simple;
    return check_socketio(in);
  };
  auto corpus = socketio_corpus();
  c.run(0x5eed0007, 40'000, corpus, socketio_dict, check);
  sio_generator g{0x5eed0017};
  c.run_gen(
    20'000, [&] { return g.next(false); }, check);
  c.run_gen(
    20'000, [&] { return g.next(true); }, check);
  c.report();
  INFO(accepted << " Socket.IO packets accepted, " << payloads
                << " multi-packet payloads, " << simple
                << " plain heartbeat events");
  CHECK(accepted > c.iterations / 20);
  CHECK(simple > c.iterations / 1000);
  CHECK(payloads > c.iterations / 100);
  CHECK(types == std::set<int>{0, 1, 2, 3, 4, 5, 6});
  CHECK(errors
        == std::set<std::string>{
          "unknown Socket.IO packet type", "malformed binary attachment count",
          "namespace too long", "ack id too long", "payload is not valid JSON",
          "CONNECT payload must be an object",
          "EVENT payload must be an array starting with the event name",
          "ACK payload must be an array", "ACK without an id"});
}

TEST_CASE("fuzz: the REST endpoints' JSON bodies", "[fuzz]") {
  std::vector<std::string> corpus = {
    R"({"name":"Ann","username":"ann","email":"a@example.com","avatar":null})",
    R"({"userIds":["a",42,"b"]})",
    R"({"user_ids":[]})",
    R"({"participants":["ann","bob"]})",
    R"({"senderId":"ann","conversationId":"d:ann:bob","content":"hi","tempId":7})",
    R"({"visibility":"contacts","contacts":["bob",3,"amy"]})",
    R"({"userId":18446744073709551615})",
  };
  const std::vector<std::string> dict = {
    "\"name\"",    "\"userIds\"",  "\"participants\"",
    "\"tempId\"",  "\"contacts\"", "\"visibility\"",
    "null",        "true",         "[]",
    "{}",          "-1",           "1e999",
    "\"\\u0000\"", "\"a b\"",
  };
  campaign c;
  c.run(0x5eed0009, 30'000, corpus, dict, check_rest_bodies);
  c.report();
}

TEST_CASE("fuzz: parse_target and percent_decode", "[fuzz]") {
  campaign c;
  c.run(0x5eed0002, 50'000, target_corpus(), url_dict, check_target);
  c.report();
}

TEST_CASE("fuzz: verify_jwt", "[fuzz]") {
  std::vector<std::string> corpus = {
    sign(R"({"sub":"alice"})"),
    sign(R"({"sub":"bob","exp":1700003600,"nbf":1699990000})"),
    sign(R"({"user_id":42})"),
    sign(R"({"userId":"carol","iat":1699999999})"),
    sign(R"({"sub":"dave","exp":1600000000})"), // expired
    sign(R"({"sub":"a b"})"),                   // invalid id
    sign(R"({"sub":"erin"})", JWT_ALG_HS384),
    sign(R"({"sub":"fay"})", JWT_ALG_NONE),
  };
  // Users a token signed with our secret may name; HS384/none tokens are
  // never accepted, so "erin" and "fay" are absent.
  const std::set<std::string> allowed = {"alice", "bob", "42", "carol"};
  const std::vector<std::string> dict = {".", "..",  "=",   "-",    "_",   "+",
                                         "/", "eyJ", "e30", "AAAA", "\xff"};
  campaign c;
  std::map<std::string, size_t> outcomes;
  c.run(0x5eed0003, 30'000, corpus, dict, [&](const std::string& tok) {
    auto id = edge::verify_jwt(edge::jwt_keys::hs256(secret), tok, now_ms);
    ++outcomes[id.ok ? "ok" : id.code];
    return check_jwt(secret, tok, now_ms, allowed);
  });
  c.report();
  std::string seen;
  for (auto& [k, n] : outcomes)
    seen += k + "=" + std::to_string(n) + " ";
  INFO(seen);
  // Mutations that keep the signed part intact (e.g. the unused low bits of
  // the last base64 character, truncation of trailing '=') may still pass;
  // every outcome must be reached.
  CHECK(outcomes.size() == 5);
}

TEST_CASE("fuzz: verify_jwt on mutated and re-signed claims", "[fuzz]") {
  // Byte mutations of the token mostly break the signature; here the claims
  // are mutated and signed, so the time and subject rules are exercised.
  const std::vector<std::string> corpus = {
    R"({"sub":"alice"})",
    R"({"sub":"bob","exp":1700003600,"nbf":1699990000})",
    R"({"user_id":42,"exp":1699999975})",
    R"({"userId":"carol","sub":"","iat":1699999999})",
    R"({"sub":1.5,"userId":"u","user_id":7})",
    R"({"sub":"dave","exp":1699999969.5})",
    R"({"sub":"eve","nbf":1700000029.9})",
    R"({"sub":"a b"})",
    R"({"exp":"soon","sub":"x"})",
  };
  const std::vector<std::string> dict = {
    "null",        "true",       "0",
    "-1",          "1e308",      "-1e308",
    "1699999970",  "1700000030", "1700000031",
    "1699999969",  "\"\"",       "\"\\u00e9\"",
    "\"a b\"",     "\"sub\"",    "\"userId\"",
    "\"user_id\"", "\"exp\"",    "\"nbf\"",
    "[]",          "{}",         "9223372036854775807",
    ",",           ":",
  };
  campaign c;
  size_t signed_ok = 0;
  auto check = [&](const std::string& claims) {
    auto alg = claims.size() % 17 == 0 ? JWT_ALG_HS512 : JWT_ALG_HS256;
    auto e = check_jwt_claims(secret, claims, alg, now_ms);
    jwt_t* raw = nullptr;
    if (jwt_new(&raw) == 0) {
      if (jwt_add_grants_json(raw, claims.c_str()) == 0)
        ++signed_ok;
      jwt_free(raw);
    }
    return e;
  };
  c.run(0x5eed0006, 3'000, corpus, dict, check);
  // Structure-aware: claims set to values around every boundary.
  using nlohmann::json;
  const long long s0 = now_ms / 1000;
  std::vector<json> values = {
    json(s0 - 31),
    json(s0 - 30),
    json(s0 - 29),
    json(s0 + 29),
    json(s0 + 30),
    json(s0 + 31),
    json(s0 - 30.001),
    json(s0 + 30.5),
    json(0),
    json(-1),
    json(1e308),
    json(-1e308),
    json(nullptr),
    json(true),
    json("soon"),
    json(""),
    json("alice"),
    json("a b"),
    json("\xC3\xA9"),
    json(42),
    json(-7),
    json(9223372036854775807LL),
    json(std::string(128, 'x')),
    json(std::string(129, 'x')),
    json::array(),
    json::object(),
    json(2.5),
  };
  const std::vector<std::string> keys = {"sub", "userId", "user_id",
                                         "exp", "nbf",    "iat"};
  mutator m{0x5eed0016};
  c.run_gen(
    6'000,
    [&] {
      auto j = json::parse(corpus[m.below(corpus.size())]);
      for (size_t r = 1 + m.below(4); r > 0; --r) {
        auto& k = keys[m.below(keys.size())];
        if (m.below(4) == 0)
          j.erase(k);
        else
          j[k] = values[m.below(values.size())];
      }
      return j.dump();
    },
    check);
  c.report();
  INFO(signed_ok << " of " << c.iterations << " mutants were JSON objects");
  CHECK(signed_ok > c.iterations / 2);
}

TEST_CASE("fuzz: bearer_token", "[fuzz]") {
  const std::vector<std::string> corpus = {
    "Bearer abc.def.ghi",
    "bearer x",
    "BEARER   spaced   ",
    "Basic dXNlcg==",
    "Bearer ",
    "Bearer",
    "",
  };
  const std::vector<std::string> dict = {" ", "  ", "\t", "Bearer ", "bEaReR "};
  campaign c;
  c.run(0x5eed0004, 20'000, corpus, dict, check_bearer);
  c.report();
}

TEST_CASE("fuzz: valid_id against a reference implementation", "[fuzz]") {
  const std::vector<std::string> corpus = {
    "alice",
    "u-1",
    "\xC3\xA9",
    "\xE2\x82\xAC",
    "\xF0\x9F\x98\x80",
    "\xF4\x8F\xBF\xBF",
    "\xED\x9F\xBF",
    "\xEE\x80\x80",
    std::string(128, 'a'),
    std::string(127, 'a') + "\xC3\xA9",
  };
  const std::vector<std::string> dict = {
    "\xC0\x80",
    "\xE0\x9F\xBF",
    "\xED\xA0\x80",
    "\xF4\x90\x80\x80",
    "\xF5",
    "\x80",
    " ",
    "\x7f",
    std::string(1, '\0'),
  };
  campaign c;
  c.run(0x5eed0005, 20'000, corpus, dict, check_id);
  c.report();
}
