#include "edge/common/session_sink.hpp"

namespace presence::edge {

session_sink::~session_sink() = default;

bool session_sink::reply_here(std::string_view) {
  return false;
}

void session_sink::send_texts(
  std::vector<std::shared_ptr<const std::string>> frames) {
  for (auto& f : frames)
    send_text(std::move(f));
}

void session_sink::send_urgent(std::shared_ptr<const std::string> frame) {
  send_text(std::move(frame));
}

void session_sink::tick() {
  // nop
}

std::shared_ptr<delivery_home> session_sink::home() const {
  return nullptr;
}

void session_sink::warm() const {
  // nop
}

} // namespace presence::edge
