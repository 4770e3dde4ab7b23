#pragma once

// Private to edge/: hands an upgraded connection from the HTTP session to
// the WebSocket session. Included only by the two Beast translation units.

#include <memory>

#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include "edge/transport/ws_endpoint.hpp"

namespace presence::edge {

struct edge_context;

/// Accepts the WebSocket handshake in `req` on `stream` and runs the
/// session, with `endpoint` on top, until the socket closes.
void run_ws_session(
  std::shared_ptr<edge_context> ctx, boost::beast::tcp_stream stream,
  boost::beast::http::request<boost::beast::http::string_body> req,
  std::shared_ptr<ws_endpoint> endpoint);

} // namespace presence::edge
