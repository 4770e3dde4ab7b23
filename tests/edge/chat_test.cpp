// The chat rules shared by every protocol (edge/common/chat.hpp) that need
// no actor: validation, participants, ids, shapes.

#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "core/clock.hpp"
#include "edge/common/chat.hpp"

using namespace presence;
using namespace presence::edge;

namespace {

chat::send_request good() {
  chat::send_request r;
  r.sender = "ann";
  r.conversation_id = "dm_1";
  r.content = "hello";
  r.temp_id = "temp-1";
  return r;
}

std::string code_of(const chat::send_request& r) {
  auto e = chat::validate(r);
  return e ? e->code + "/" + std::to_string(e->http_status) : "ok";
}

} // namespace

TEST_CASE("a send is checked before anything is asked", "[chat]") {
  CHECK(code_of(good()) == "ok");
  auto r = good();
  r.conversation_id.clear();
  CHECK(code_of(r) == "bad_request/400");
  r = good();
  r.content = " \t\r\n";
  CHECK(code_of(r) == "bad_request/400");
  r.content = std::string(chat::max_content_bytes, 'x');
  CHECK(code_of(r) == "ok");
  r.content += "x";
  CHECK(code_of(r) == "bad_request/400");
  r = good();
  r.temp_id = std::string(chat::max_temp_id_bytes + 1, 't');
  CHECK(code_of(r) == "bad_request/400");
  r = good();
  r.conversation_id = std::string("bad\x01id");
  CHECK(code_of(r) == "bad_request/400");
}

TEST_CASE("participants are sorted, unique, valid, 2 to 50", "[chat]") {
  std::vector<std::string> ps{"bob", "ann", "bob"};
  CHECK_FALSE(chat::normalize_participants(ps));
  CHECK(ps == std::vector<std::string>{"ann", "bob"});
  std::vector<std::string> solo{"ann", "ann"};
  CHECK(chat::normalize_participants(solo)->code == "bad_request");
  std::vector<std::string> bad{"ann", ""};
  CHECK(chat::normalize_participants(bad));
  std::vector<std::string> many;
  for (size_t i = 0; i <= chat::max_participants; ++i)
    many.push_back("u" + std::to_string(i));
  CHECK(chat::normalize_participants(many));
}

TEST_CASE("a pair has one direct conversation id", "[chat]") {
  auto id = chat::direct_id("ann", "bob");
  CHECK(id == chat::direct_id("bob", "ann"));
  CHECK(id.size() == 3 + 32);
  CHECK(id.rfind("dm_", 0) == 0);
  CHECK(id != chat::direct_id("ann", "bo"));
  // "a\nb" + "c" must not collide with "a" + "b\nc": ids hold no newline.
  CHECK(chat::direct_id("a", "bc") != chat::direct_id("ab", "c"));
  CHECK(chat::group_id() != chat::group_id());
  CHECK(chat::group_id().rfind("grp_", 0) == 0);
}

TEST_CASE("message ids give back their number", "[chat]") {
  CHECK(chat::seq_of("dm_1", "dm_1:42") == 42);
  CHECK(chat::seq_of("dm_1", "17") == 17);
  CHECK(chat::seq_of("dm_1", "dm_2:42") == 0);
  CHECK(chat::seq_of("dm_1", "dm_1:") == 0);
  CHECK(chat::seq_of("dm_1", "x") == 0);
  CHECK(chat::seq_of("dm_1", "99999999999999999999") == 0);
}

TEST_CASE("seed 001's message shape", "[chat]") {
  chat_message m;
  m.id = "dm_1:1";
  m.conversation_id = "dm_1";
  m.sender_id = "ann";
  m.content = "hi";
  m.created_at = 1'700'000'000'000;
  auto j = chat::to_json(m);
  CHECK(j["id"] == "dm_1:1");
  CHECK(j["conversationId"] == "dm_1");
  CHECK(j["senderId"] == "ann");
  CHECK(j["createdAt"] == iso8601(m.created_at));
  CHECK(j["tempId"].is_null());
  m.temp_id = "t";
  CHECK(chat::to_json(m)["tempId"] == "t");
}
