#include "edge/rest/rest_api.hpp"

#include "edge/rest/routes.hpp"

namespace presence::edge {

namespace {

/// Every endpoint, built once.
const rest::route_table& routes() {
  static const auto table = [] {
    rest::route_table t;
    rest::add_ops_routes(t);
    rest::add_seed_routes(t);
    rest::add_user_routes(t);
    rest::add_chat_routes(t);
    return t;
  }();
  return table;
}

} // namespace

void handle_rest(std::shared_ptr<edge_context> ctx, http_request req,
                 std::function<void(http_response)> done) {
  auto c = std::make_shared<rest::rest_call>();
  c->ctx = std::move(ctx);
  c->req = std::move(req);
  c->done = std::move(done);
  if (!parse_target(c->req.target, c->target)) {
    c->fail(400, "bad_request", "malformed request target");
    return;
  }
  routes().dispatch(c);
}

} // namespace presence::edge
