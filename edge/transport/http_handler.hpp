#pragma once

#include <functional>
#include <memory>

#include "edge/common/http_types.hpp"
#include "edge/transport/ws_endpoint.hpp"

namespace presence::edge {

/// Answers one HTTP response; callable exactly once, from any thread.
using respond_fn = std::function<void(http_response)>;

/// What runs on top of the transport: the listener hands every request to
/// it (edge/server.cpp routes them to REST, Socket.IO or the native
/// protocol). Called on the connection's strand; must never block.
class http_handler {
public:
  virtual ~http_handler();

  /// A plain HTTP request: answer through `respond`.
  virtual void on_request(http_request req, respond_fn respond) = 0;

  /// A WebSocket upgrade request: the endpoint to run on the accepted
  /// socket, or nullptr after filling `refusal` (sent, then the connection
  /// closes).
  virtual std::shared_ptr<ws_endpoint>
  on_upgrade(const http_request& req, http_response& refusal) = 0;
};

} // namespace presence::edge
