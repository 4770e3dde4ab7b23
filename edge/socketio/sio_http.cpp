#include "edge/socketio/sio_http.hpp"

#include "edge/common/identity.hpp"
#include "edge/socketio/eio_ws_endpoint.hpp"
#include "edge/socketio/sio_session.hpp"

namespace presence::edge {

namespace {

/// What the handshake request says about the client.
sio_params params_of(const http_request& req, const parsed_target& t) {
  sio_params params;
  params.token = request_token(req, t);
  params.user_id = request_user(t);
  params.device_name = query_param(t, "deviceId", "device_id");
  params.user_agent = req.user_agent.substr(0, max_user_agent_bytes);
  return params;
}

std::string strip_slashes(std::string x) {
  while (x.size() > 1 && x.back() == '/')
    x.pop_back();
  return x;
}

} // namespace

bool is_sio_path(const edge_config& cfg, const std::string& path) {
  auto p = strip_slashes(path);
  const auto& all = cfg.sio_paths;
  size_t pos = 0;
  while (pos <= all.size()) {
    auto end = all.find(',', pos);
    if (end == std::string::npos)
      end = all.size();
    auto item = all.substr(pos, end - pos);
    while (!item.empty() && item.front() == ' ')
      item.erase(0, 1);
    while (!item.empty() && item.back() == ' ')
      item.pop_back();
    if (!item.empty() && strip_slashes(item) == p)
      return true;
    pos = end + 1;
  }
  return false;
}

void sio_request(const std::shared_ptr<edge_context>& ctx,
                 const std::shared_ptr<eio_registry>& reg,
                 const http_request& req, const parsed_target& target,
                 respond_fn respond) {
  auto params = params_of(req, target);
  handle_eio_polling(
    ctx, reg, req, target,
    [ctx, params, lists = reg->lists](std::shared_ptr<eio_session> s) {
      return spawn_sio_session(ctx, std::move(s), params, lists);
    },
    std::move(respond));
}

std::shared_ptr<ws_endpoint>
sio_upgrade(const std::shared_ptr<edge_context>& ctx,
            const std::shared_ptr<eio_registry>& reg, const http_request& req,
            const parsed_target& target, http_response& refusal) {
  if (query_param(target, "EIO") != "4") {
    refusal = eio_error(5, "Unsupported protocol version");
    return nullptr;
  }
  if (query_param(target, "transport") != "websocket") {
    refusal = eio_error(3, "Bad request");
    return nullptr;
  }
  if (ctx->draining) {
    refusal = eio_error(4, "server shutting down");
    return nullptr;
  }
  std::shared_ptr<eio_session> upgrading;
  auto sid = query_param(target, "sid");
  if (!sid.empty()) {
    upgrading = reg->find(sid);
    if (!upgrading) {
      refusal = eio_error(1, "Session ID unknown");
      return nullptr;
    }
  }
  return make_eio_ws_endpoint(ctx, reg, std::move(upgrading),
                              params_of(req, target));
}

} // namespace presence::edge
