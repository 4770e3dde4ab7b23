#pragma once

#include <functional>
#include <memory>
#include <string>

#include "edge/http_types.hpp"

namespace presence::edge {

struct server_context;

/// Answers one REST request (docs/api.md): the seeds' endpoints with their
/// shapes, profiles, history, health and metrics. Never blocks: replies come
/// from actors, and `done` is called exactly once, on any thread.
void handle_rest(std::shared_ptr<server_context> ctx, http_request req,
                 std::function<void(http_response)> done);

/// {"success":false,"code":..,"message":..} with `status`.
http_response error_response(unsigned status, const std::string& code,
                             const std::string& message);

} // namespace presence::edge
