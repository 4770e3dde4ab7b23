#include "edge/common/http_types.hpp"

#include <nlohmann/json.hpp>

namespace presence::edge {

http_response error_response(unsigned status, const std::string& code,
                             const std::string& message) {
  nlohmann::json body
    = {{"success", false}, {"code", code}, {"message", message}};
  http_response r;
  r.status = status;
  r.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return r;
}

} // namespace presence::edge
