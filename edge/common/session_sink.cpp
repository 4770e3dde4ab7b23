#include "edge/common/session_sink.hpp"

namespace presence::edge {

session_sink::~session_sink() = default;

} // namespace presence::edge
