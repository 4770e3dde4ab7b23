#pragma once

// Every WebSocket close code presenced sends, in one place
// (docs/protocol.md lists them for clients).

#include <cstdint>

namespace presence::edge::close_code {

/// The session ended normally (an Engine.IO session closed).
constexpr uint16_t normal = 1000;
/// The server is shutting down.
constexpr uint16_t going_away = 1001;
/// The client kept sending past the rate limit.
constexpr uint16_t policy_violation = 1008;
/// The cluster could not take the device back after its owner node died.
constexpr uint16_t internal_error = 1011;
/// The device expired (no heartbeat within the TTL).
constexpr uint16_t expired = 4000;
/// The client did not read what it was sent (slow consumer).
constexpr uint16_t slow_consumer = 4001;
/// Another connection took over the same device id.
constexpr uint16_t replaced = 4002;
/// The session's token expired and no fresh one came (`refresh`).
constexpr uint16_t token_expired = 4003;

} // namespace presence::edge::close_code
