#include "edge/common/client_error.hpp"

#include <caf/sec.hpp>

#include "core/messages.hpp"

namespace presence::edge {

client_error to_client_error(const caf::error& err) {
  switch (presence_code(err)) {
    case errc::too_many_devices:
      return {"too_many_devices", "this user has too many devices connected",
              409};
    case errc::shutting_down:
      return {"shutting_down", "the server is shutting down", 503};
    case errc::invalid_argument:
      return {"bad_request", "request refused", 400};
    case errc::too_many_subscriptions:
      return {"too_many_subscriptions",
              "this connection follows too many users (--max-subscriptions)",
              429};
    case errc::none:
    case errc::user_gone:
      break;
  }
  if (persistence::store_code(err) != persistence::errc::none)
    return {"storage_unavailable",
            "the store could not complete the request, try again", 503};
  if (err == caf::sec::request_timeout)
    return {"timeout", "the request timed out", 503};
  return {"unavailable", "presence service unavailable, try again", 503};
}

} // namespace presence::edge
