// The one mapping from an actor error to what a client is told
// (edge/common/client_error).

#include <catch2/catch.hpp>

#include <caf/sec.hpp>

#include "core/messages.hpp"
#include "edge/common/client_error.hpp"

using namespace presence;
using presence::edge::to_client_error;

TEST_CASE("presence errors keep their meaning", "[client_error]") {
  auto devices = to_client_error(make_error(errc::too_many_devices));
  CHECK(devices.code == "too_many_devices");
  CHECK(devices.http_status == 409);
  auto stopping = to_client_error(make_error(errc::shutting_down));
  CHECK(stopping.code == "shutting_down");
  CHECK(stopping.http_status == 503);
  auto refused = to_client_error(make_error(errc::invalid_argument));
  CHECK(refused.code == "bad_request");
  CHECK(refused.http_status == 400);
}

TEST_CASE("every store error is storage_unavailable (503)", "[client_error]") {
  for (auto x : {persistence::errc::io_error, persistence::errc::corruption,
                 persistence::errc::unavailable}) {
    auto e = to_client_error(persistence::make_error(x));
    CHECK(e.code == "storage_unavailable");
    CHECK(e.http_status == 503);
    CHECK_FALSE(e.message.empty());
  }
}

TEST_CASE("timeouts and anything else", "[client_error]") {
  auto t = to_client_error(caf::make_error(caf::sec::request_timeout));
  CHECK(t.code == "timeout");
  CHECK(t.http_status == 503);
  auto other = to_client_error(caf::make_error(caf::sec::unexpected_message));
  CHECK(other.code == "unavailable");
  CHECK(other.http_status == 503);
  CHECK(to_client_error(make_error(errc::user_gone)).code == "unavailable");
}
