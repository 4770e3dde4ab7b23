#include "edge/common/edge_log.hpp"

#include "core/logger.hpp"

namespace presence::edge {

spdlog::logger& log_edge() {
  static auto logger = folder_logger("edge");
  return *logger;
}

} // namespace presence::edge
