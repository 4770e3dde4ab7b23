#include "edge/native/native_upgrade.hpp"

#include <prometheus/counter.h>

#include "core/ids.hpp"
#include "edge/common/identity.hpp"
#include "edge/native/native_session.hpp"

namespace presence::edge {

namespace {

/// Longest ?platform= kept.
constexpr std::size_t max_platform_bytes = 64;

/// The native protocol's WebSocket paths (a trailing '/' is ignored).
constexpr const char* native_path = "/ws";
constexpr const char* global_feed_path = "/ws/user-status";

std::shared_ptr<ws_endpoint> refuse(const edge_context& ctx,
                                    http_response& refusal, unsigned status,
                                    const std::string& code,
                                    const std::string& message) {
  ctx.probe.ws_rejected->Increment();
  refusal = error_response(status, code, message);
  return nullptr;
}

} // namespace

std::shared_ptr<ws_endpoint>
native_upgrade(const std::shared_ptr<edge_context>& ctx,
               const http_request& req, const parsed_target& target,
               http_response& refusal) {
  auto path = target.path;
  while (path.size() > 1 && path.back() == '/')
    path.pop_back();
  if (path != native_path && path != global_feed_path)
    return refuse(*ctx, refusal, 404, "not_found",
                  "no WebSocket endpoint at " + target.path);
  if (ctx->draining)
    return refuse(*ctx, refusal, 503, "shutting_down",
                  "the server is shutting down");
  session_params params;
  credentials creds;
  creds.token = request_token(req, target);
  creds.claimed = request_user(target);
  creds.admin_claim = ctx->cfg.edge.admin_claim;
  auto keys = ctx->keys();
  auto who = resolve_identity(*keys, ctx->now(), creds, keys->enabled());
  switch (who.failure) {
    case identity_failure::none:
      break;
    case identity_failure::bad_token:
    case identity_failure::missing_token:
      return refuse(*ctx, refusal, 401, who.code, who.message);
    case identity_failure::claim_mismatch:
    case identity_failure::token_mismatch:
      return refuse(*ctx, refusal, 403, "forbidden",
                    "userId differs from the token's user");
    case identity_failure::invalid_id:
    case identity_failure::missing_user:
      return refuse(*ctx, refusal, 400, "invalid_id",
                    "userId is not a valid id");
  }
  params.user_id = who.user_id;
  params.authenticated = who.verified;
  params.admin = who.admin;
  params.token_expires = who.expires_at;
  params.device_id = query_param(target, "deviceId", "device_id");
  if (!params.device_id.empty() && !valid_id(params.device_id))
    return refuse(*ctx, refusal, 400, "invalid_id",
                  "deviceId is not a valid id");
  params.user_agent = req.user_agent.substr(0, max_user_agent_bytes);
  params.platform
    = query_param(target, "platform").substr(0, max_platform_bytes);
  params.global_feed = path == global_feed_path;
  auto feed = query_param(target, "subscribe");
  if (feed == "global")
    params.global_feed = true;
  else if (feed == "none")
    params.global_feed = false;
  params.global_allowed = global_feed_allowed(ctx->cfg.edge, who);
  if (params.global_feed && !params.global_allowed)
    return refuse(*ctx, refusal, 403, "forbidden",
                  "the global feed needs an admin token (--global-feed "
                  "admin); connect with ?subscribe=none and subscribe by id");
  return make_native_endpoint(ctx, std::move(params));
}

} // namespace presence::edge
