#include "cluster/cluster_log.hpp"

#include "core/logger.hpp"

namespace presence::cluster {

spdlog::logger& cluster_log() {
  static auto l = folder_logger("cluster");
  return *l;
}

} // namespace presence::cluster
