#pragma once

#include <string>

namespace presence {

/// Longest user or device id accepted.
constexpr size_t max_id_length = 128;

/// True if `id` may name a user or device: 1..128 bytes of printable ASCII
/// (no spaces, no control characters) or UTF-8 sequences. Called by the edge
/// on every id a client sends.
bool valid_id(const std::string& id);

} // namespace presence
