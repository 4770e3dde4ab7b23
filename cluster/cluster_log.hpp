#pragma once

namespace spdlog {
class logger;
} // namespace spdlog

namespace presence::cluster {

/// The cluster folder's logger ("cluster", core/logger.hpp): membership
/// changes, and failures that leave a replica or a peer behind. Called by
/// the cluster's actors on whichever thread runs them (spdlog loggers are
/// thread-safe).
spdlog::logger& cluster_log();

} // namespace presence::cluster
