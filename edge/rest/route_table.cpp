#include "edge/rest/route_table.hpp"

#include "edge/common/auth.hpp"
#include "edge/common/identity.hpp"

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

/// JWT mode: whether `c` may call an endpoint of access `a`; answers 401 /
/// 403 itself when not.
bool admitted(const std::shared_ptr<rest_call>& c, access a) {
  if (c->ctx == nullptr)
    return true; // no server around it (the table's own tests): no auth
  const auto& edge = c->ctx->cfg.edge;
  if (a == access::metrics)
    a = edge.metrics_auth == "open" ? access::open : access::admin;
  if (a == access::open || !edge.jwt_mode())
    return true;
  auto v = verify_jwt(*c->ctx->keys(), request_token(c->req, c->target),
                      c->ctx->now(), edge.admin_claim);
  if (!v.ok) {
    auto r = error_response(401, v.code, v.message);
    r.headers.emplace_back("WWW-Authenticate", "Bearer");
    c->done(std::move(r));
    return false;
  }
  if (a == access::admin && !v.admin) {
    c->fail(403, "forbidden",
            "this endpoint needs an admin token (claim '" + edge.admin_claim
              + "')");
    return false;
  }
  return true;
}

} // namespace

void route_table::add(const char* method, const std::string& pattern,
                      rest_handler h, access a) {
  auto segments = split(pattern);
  for (auto& r : routes_)
    if (r.segments == segments) {
      r.methods.push_back({method, h, a});
      return;
    }
  routes_.push_back(route{std::move(segments), {{method, h, a}}});
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
  for (auto& m : best->methods)
    if (m.method == c->req.method) {
      if (admitted(c, m.who))
        m.handler(c);
      return;
    }
  std::string allow;
  for (auto& m : best->methods) {
    if (!allow.empty())
      allow += ", ";
    allow += m.method;
  }
  auto r = error_response(405, "method_not_allowed",
                          c->req.method + " is not allowed here");
  r.headers.emplace_back("Allow", allow);
  c->done(std::move(r));
}

} // namespace presence::edge::rest
