#include "edge/rest/route_table.hpp"

namespace presence::edge::rest {

namespace {

std::vector<std::string> split(const std::string& pattern) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < pattern.size()) {
    auto end = pattern.find('/', pos);
    if (end == std::string::npos)
      end = pattern.size();
    if (end > pos)
      out.push_back(pattern.substr(pos, end - pos));
    pos = end + 1;
  }
  return out;
}

bool is_capture(const std::string& segment) {
  return !segment.empty() && segment[0] == ':';
}

} // namespace

void route_table::add(const char* method, const std::string& pattern,
                      rest_handler h) {
  auto segments = split(pattern);
  for (auto& r : routes_)
    if (r.segments == segments) {
      r.methods.emplace_back(method, h);
      return;
    }
  routes_.push_back(route{std::move(segments), {{method, h}}});
}

bool route_table::matches(const route& r, const std::vector<std::string>& path,
                          std::vector<bool>& score) {
  if (r.segments.size() != path.size())
    return false;
  score.clear();
  for (size_t i = 0; i < path.size(); ++i) {
    bool literal = !is_capture(r.segments[i]);
    if (literal && r.segments[i] != path[i])
      return false;
    score.push_back(literal);
  }
  return true;
}

void route_table::dispatch(const std::shared_ptr<rest_call>& c) const {
  if (c->req.method == "OPTIONS") {
    http_response r;
    r.status = 204;
    c->done(std::move(r));
    return;
  }
  const auto& path = c->target.segments;
  const route* best = nullptr;
  std::vector<bool> best_score;
  std::vector<bool> score;
  for (auto& r : routes_)
    if (matches(r, path, score) && (best == nullptr || score > best_score)) {
      best = &r;
      best_score = score;
    }
  if (best == nullptr) {
    c->fail(404, "not_found", "no such endpoint: " + c->target.path);
    return;
  }
  for (size_t i = 0; i < path.size(); ++i)
    if (is_capture(best->segments[i]))
      c->params.push_back(path[i]);
  for (auto& [method, handler] : best->methods)
    if (method == c->req.method) {
      handler(c);
      return;
    }
  std::string allow;
  for (auto& m : best->methods) {
    if (!allow.empty())
      allow += ", ";
    allow += m.first;
  }
  auto r = error_response(405, "method_not_allowed",
                          c->req.method + " is not allowed here");
  r.headers.emplace_back("Allow", allow);
  c->done(std::move(r));
}

} // namespace presence::edge::rest
