#pragma once

#include <functional>
#include <memory>

#include "edge/common/http_types.hpp"

namespace presence::edge {

struct edge_context;

/// Answers one REST request (docs/api.md) through the route table
/// (rest_api.cpp): the seeds' endpoints with their shapes, profiles,
/// history, health, metrics, the cluster, the page. Never blocks: replies
/// come from actors, and `done` is called exactly once, on any thread.
void handle_rest(std::shared_ptr<edge_context> ctx, http_request req,
                 std::function<void(http_response)> done);

} // namespace presence::edge
