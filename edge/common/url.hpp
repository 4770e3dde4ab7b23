#pragma once

#include <map>
#include <string>
#include <vector>

namespace presence::edge {

/// A request target split into decoded path segments and query parameters.
struct parsed_target {
  std::string path;                  // decoded, without the query
  std::vector<std::string> segments; // path split on '/', empty ones dropped
  std::map<std::string, std::string> query; // first value wins
  bool trailing_slash = false;
};

/// Percent-decodes `in` ('+' becomes a space when `plus_is_space`). Returns
/// false on a malformed escape.
bool percent_decode(const std::string& in, std::string& out,
                    bool plus_is_space);

/// Splits and decodes a request target; false if it is malformed.
bool parse_target(const std::string& target, parsed_target& out);

/// Value of query parameter `a`, else `b`, else empty.
std::string query_param(const parsed_target& t, const char* a,
                        const char* b = nullptr);

} // namespace presence::edge
