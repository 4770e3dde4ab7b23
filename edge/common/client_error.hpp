#pragma once

#include <string>

#include <caf/error.hpp>

namespace presence::edge {

/// A failed internal request as a client is told about it: a stable code,
/// a message for humans, and the HTTP status REST answers with.
struct client_error {
  std::string code;
  std::string message;
  unsigned http_status = 503;
};

/// The one mapping from an actor error (presence, store or CAF category)
/// to what a client hears, for every protocol (native error frames,
/// Socket.IO acknowledgements and events, REST error bodies):
///   too_many_devices (409), shutting_down (503), bad_request (400),
///   storage_unavailable (503), timeout (503), unavailable (503).
client_error to_client_error(const caf::error& err);

} // namespace presence::edge
