#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "edge/common/url.hpp"

using namespace presence::edge;

using strings = std::vector<std::string>;

namespace {

std::string decode(const std::string& in, bool plus_is_space = false) {
  std::string out = "junk from before";
  REQUIRE(percent_decode(in, out, plus_is_space));
  return out;
}

bool decodes(const std::string& in, bool plus_is_space = false) {
  std::string out;
  return percent_decode(in, out, plus_is_space);
}

parsed_target parse(const std::string& target) {
  parsed_target t;
  INFO("target " << target);
  REQUIRE(parse_target(target, t));
  return t;
}

} // namespace

// -- percent_decode -----------------------------------------------------------

TEST_CASE("percent_decode passes plain text through", "[url]") {
  CHECK(decode("") == "");
  CHECK(decode("abc") == "abc");
  CHECK(decode("a/b?c=d&e") == "a/b?c=d&e");
  CHECK(decode("\xC3\xA9") == "\xC3\xA9"); // raw UTF-8 is left alone
}

TEST_CASE("percent_decode decodes escapes in either case", "[url]") {
  CHECK(decode("a%20b") == "a b");
  CHECK(decode("%2F") == "/");
  CHECK(decode("%2f") == "/");
  CHECK(decode("%41%42%43") == "ABC");
  CHECK(decode("%e2%82%ac") == "\xE2\x82\xAC");
  CHECK(decode("%E2%82%AC") == "\xE2\x82\xAC");
  CHECK(decode("%25") == "%");
  CHECK(decode("%2525") == "%25"); // decoded once only
  CHECK(decode("%ff") == "\xff");
  CHECK(decode("%00") == std::string(1, '\0'));
  CHECK(decode("x%41") == "xA"); // escape at the very end
}

TEST_CASE("percent_decode turns '+' into a space only when asked", "[url]") {
  CHECK(decode("a+b", true) == "a b");
  CHECK(decode("a+b", false) == "a+b");
  CHECK(decode("%2B", true) == "+");
  CHECK(decode("%2B", false) == "+");
  CHECK(decode("++", true) == "  ");
}

TEST_CASE("percent_decode refuses malformed escapes", "[url]") {
  for (auto s : {"%", "%4", "a%", "a%2", "%zz", "%g0", "%0g", "%%", "%%41",
                 "%-1", "% 1", "%+1", "abc%4", "%41%"}) {
    INFO(s);
    CHECK_FALSE(decodes(s, false));
    CHECK_FALSE(decodes(s, true));
  }
}

// -- parse_target -------------------------------------------------------------

TEST_CASE("parse_target refuses targets not starting with '/'", "[url]") {
  parsed_target t;
  CHECK_FALSE(parse_target("", t));
  CHECK_FALSE(parse_target("api/users", t));
  CHECK_FALSE(parse_target("?a=b", t));
  CHECK_FALSE(parse_target("http://host/api", t));
  CHECK_FALSE(parse_target("*", t));
}

TEST_CASE("parse_target splits the root and plain paths", "[url]") {
  auto root = parse("/");
  CHECK(root.path == "/");
  CHECK(root.segments.empty());
  CHECK_FALSE(root.trailing_slash);
  CHECK(root.query.empty());

  auto t = parse("/api/users/alice");
  CHECK(t.path == "/api/users/alice");
  CHECK(t.segments == strings{"api", "users", "alice"});
  CHECK_FALSE(t.trailing_slash);
  CHECK(t.query.empty());
}

TEST_CASE("parse_target keeps an encoded '/' inside its segment", "[url]") {
  auto t = parse("/api/users/a%2Fb/profile");
  CHECK(t.segments == strings{"api", "users", "a/b", "profile"});
  CHECK(t.path == "/api/users/a/b/profile");
  auto lower = parse("/api/users/a%2fb");
  CHECK(lower.segments == strings{"api", "users", "a/b"});
}

TEST_CASE("parse_target decodes segments but keeps '+' in paths", "[url]") {
  auto t = parse("/api/users/a%20b/x+y/%E2%82%AC");
  CHECK(t.segments == strings{"api", "users", "a b", "x+y", "\xE2\x82\xAC"});
  CHECK(t.path == "/api/users/a b/x+y/\xE2\x82\xAC");
  auto q = parse("/a%3Fb?c=d"); // encoded '?' belongs to the path
  CHECK(q.segments == strings{"a?b"});
  CHECK(q.query.size() == 1);
  CHECK(q.query.at("c") == "d");
}

TEST_CASE("parse_target notes a trailing slash", "[url]") {
  auto t = parse("/api/users/");
  CHECK(t.trailing_slash);
  CHECK(t.segments == strings{"api", "users"});
  CHECK(t.path == "/api/users/");
  auto with_query = parse("/api/?x=1");
  CHECK(with_query.trailing_slash);
  CHECK(with_query.segments == strings{"api"});
  // A slash only in the query is not a trailing slash of the path.
  auto in_query = parse("/api?x=/");
  CHECK_FALSE(in_query.trailing_slash);
  CHECK(in_query.query.at("x") == "/");
}

TEST_CASE("parse_target drops empty segments", "[url]") {
  auto t = parse("/api//users///x");
  CHECK(t.segments == strings{"api", "users", "x"});
  CHECK(t.path == "/api//users///x");
  auto slashes = parse("//");
  CHECK(slashes.segments.empty());
  CHECK(slashes.trailing_slash);
}

TEST_CASE("parse_target decodes the query with '+' as space", "[url]") {
  auto t = parse("/x?q=a+b%2Bc&name=J%C3%BCrgen&empty=&flag");
  CHECK(t.segments == strings{"x"});
  CHECK(t.path == "/x");
  CHECK(t.query.size() == 4);
  CHECK(t.query.at("q") == "a b+c");
  CHECK(t.query.at("name") == "J\xC3\xBCrgen");
  CHECK(t.query.at("empty") == "");
  CHECK(t.query.at("flag") == "");
}

TEST_CASE("parse_target keeps the first value and handles odd pairs", "[url]") {
  auto t = parse("/x?a=1&a=2&&b=2&");
  CHECK(t.query.size() == 2);
  CHECK(t.query.at("a") == "1");
  CHECK(t.query.at("b") == "2");
  auto eq = parse("/x?a=b=c&k%3Dx=v&=nokey");
  CHECK(eq.query.at("a") == "b=c");
  CHECK(eq.query.at("k=x") == "v");
  CHECK(eq.query.at("") == "nokey");
  auto q2 = parse("/x?a=b?c"); // a second '?' is data
  CHECK(q2.query.at("a") == "b?c");
  auto empty = parse("/x?");
  CHECK(empty.query.empty());
  CHECK(empty.segments == strings{"x"});
  auto plus_key = parse("/x?user+id=1");
  CHECK(plus_key.query.count("user id") == 1);
}

TEST_CASE("parse_target refuses malformed escapes anywhere", "[url]") {
  parsed_target t;
  for (auto s : {"/a%zz", "/a%2", "/%", "/api/%G1/x", "/x?a=%", "/x?%=1",
                 "/x?a=%G1", "/x?a=1&b=%2", "/x?%41%4=1"}) {
    INFO(s);
    CHECK_FALSE(parse_target(s, t));
  }
}

TEST_CASE("parse_target resets its output", "[url]") {
  parsed_target t;
  REQUIRE(parse_target("/a/b/?x=1&y=2", t));
  REQUIRE(t.trailing_slash);
  REQUIRE(parse_target("/c", t));
  CHECK(t.segments == strings{"c"});
  CHECK(t.query.empty());
  CHECK_FALSE(t.trailing_slash);
  CHECK(t.path == "/c");
}

TEST_CASE("query_param prefers the first name and falls back to the second",
          "[url]") {
  auto both = parse("/x?user_id=a&userId=b");
  CHECK(query_param(both, "user_id", "userId") == "a");
  CHECK(query_param(both, "userId", "user_id") == "b");
  auto camel = parse("/x?userId=b");
  CHECK(query_param(camel, "user_id", "userId") == "b");
  CHECK(query_param(camel, "user_id") == "");
  CHECK(query_param(camel, "user_id", nullptr) == "");
  auto none = parse("/x");
  CHECK(query_param(none, "a", "b") == "");
  auto empty_value = parse("/x?a=&b=2");
  CHECK(query_param(empty_value, "a", "b") == ""); // present but empty
}
