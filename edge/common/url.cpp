#include "edge/common/url.hpp"

namespace presence::edge {

namespace {

int hex(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

} // namespace

bool percent_decode(const std::string& in, std::string& out,
                    bool plus_is_space) {
  out.clear();
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size())
        return false;
      int hi = hex(in[i + 1]);
      int lo = hex(in[i + 2]);
      if (hi < 0 || lo < 0)
        return false;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return true;
}

bool parse_target(const std::string& target, parsed_target& out) {
  out = parsed_target{};
  if (target.empty() || target[0] != '/')
    return false;
  auto qpos = target.find('?');
  auto raw_path = target.substr(0, qpos);
  out.trailing_slash = raw_path.size() > 1 && raw_path.back() == '/';
  // Segments are decoded one by one so an encoded '/' stays inside its
  // segment ("/api/users/a%2Fb/profile" names user "a/b").
  size_t start = 1;
  while (start <= raw_path.size()) {
    auto end = raw_path.find('/', start);
    if (end == std::string::npos)
      end = raw_path.size();
    if (end > start) {
      std::string seg;
      if (!percent_decode(raw_path.substr(start, end - start), seg, false))
        return false;
      out.segments.push_back(std::move(seg));
    }
    start = end + 1;
  }
  if (!percent_decode(raw_path, out.path, false))
    return false;
  if (qpos == std::string::npos)
    return true;
  auto query = target.substr(qpos + 1);
  size_t pos = 0;
  while (pos <= query.size()) {
    auto amp = query.find('&', pos);
    if (amp == std::string::npos)
      amp = query.size();
    auto pair = query.substr(pos, amp - pos);
    if (!pair.empty()) {
      auto eq = pair.find('=');
      std::string k, v;
      if (!percent_decode(pair.substr(0, eq), k, true))
        return false;
      if (eq != std::string::npos
          && !percent_decode(pair.substr(eq + 1), v, true))
        return false;
      out.query.emplace(std::move(k), std::move(v));
    }
    pos = amp + 1;
  }
  return true;
}

std::string query_param(const parsed_target& t, const char* a, const char* b) {
  auto i = t.query.find(a);
  if (i != t.query.end())
    return i->second;
  if (b != nullptr) {
    i = t.query.find(b);
    if (i != t.query.end())
      return i->second;
  }
  return {};
}

} // namespace presence::edge
