#pragma once

// Private to edge/: hands an upgraded connection from the HTTP session to
// the WebSocket session. Included only by the two Asio translation units.

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include "edge/transport/connection_slot.hpp"
#include "edge/transport/ws_endpoint.hpp"

namespace prometheus {
class Counter;
} // namespace prometheus

namespace presence::edge {

struct edge_context;

/// A client connection over TLS (the listener with --tls-cert), after its
/// handshake.
using tls_stream = boost::beast::ssl_stream<boost::beast::tcp_stream>;

/// Why a WebSocket upgrade request cannot be accepted (empty: it can):
/// RFC 6455 section 4.2.1 asks for version 13 and a 16-byte key in base64.
/// `version_mismatch` is set when the answer must be 426 with
/// `Sec-WebSocket-Version: 13`.
std::string ws_handshake_error(std::string_view key, std::string_view version,
                               bool& version_mismatch);

/// How often the listener ticks every session's idle clock
/// (edge_context::tick_sessions): a tenth of `idle_timeout`
/// (--ws-idle-timeout).
std::chrono::steady_clock::duration
ws_idle_tick(std::chrono::milliseconds idle_timeout);

/// Sets up `ioc`'s delivery home (the fan-out's deliveries to the sessions
/// it runs, on its thread) before any session asks for it: a delivery
/// task of at least `helper_min` listeners is shared with a helper thread
/// (0: none; --fanout-helper-min), and each shared task counts in `shared`
/// (may be null). An io_context not set up gets a home without a helper.
void prepare_delivery_home(boost::asio::io_context& ioc, std::size_t helper_min,
                           prometheus::Counter* shared);

/// Answers the handshake for `key` on `socket` (101) and runs the
/// session, with `endpoint` on top, until the socket closes. `leftover`:
/// bytes the HTTP parser read past the request (the client's first frames).
/// `socket` must run on one of the listener's io_contexts, which one
/// thread runs each.
/// `slot` is the connection's count, released when the session ends.
void run_ws_session(std::shared_ptr<edge_context> ctx,
                    boost::asio::ip::tcp::socket socket, connection_slot slot,
                    std::string_view key, std::string leftover,
                    std::shared_ptr<ws_endpoint> endpoint);

/// The same over TLS.
void run_ws_session(std::shared_ptr<edge_context> ctx, tls_stream stream,
                    connection_slot slot, std::string_view key,
                    std::string leftover,
                    std::shared_ptr<ws_endpoint> endpoint);

} // namespace presence::edge
