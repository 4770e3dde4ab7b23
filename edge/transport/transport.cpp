#include "edge/transport/http_handler.hpp"
#include "edge/transport/ws_endpoint.hpp"

namespace presence::edge {

ws_endpoint::~ws_endpoint() = default;

http_handler::~http_handler() = default;

} // namespace presence::edge
