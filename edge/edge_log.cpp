#include "edge/edge_log.hpp"

#include <spdlog/spdlog.h>

namespace presence::edge {

spdlog::logger& log_edge() {
  static auto logger = [] {
    auto l = spdlog::get("edge");
    if (!l) {
      l = spdlog::default_logger()->clone("edge");
      spdlog::register_logger(l);
    }
    return l;
  }();
  return *logger;
}

} // namespace presence::edge
