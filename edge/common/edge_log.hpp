#pragma once

#include <spdlog/logger.h>

namespace presence::edge {

/// The edge's logger ("edge"): disconnects at debug, client misbehaviour at
/// warn, server faults at error.
spdlog::logger& log_edge();

} // namespace presence::edge
