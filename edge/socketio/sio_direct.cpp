#include "edge/socketio/sio_direct.hpp"

#include <atomic>

#include "edge/common/edge_probe.hpp"
#include "edge/socketio/sio_dialects.hpp"

namespace presence::edge {

sio_direct::sio_direct(std::shared_ptr<eio_transport> eio,
                       std::shared_ptr<prometheus::Counter> frames_out,
                       caf::actor_addr session)
  : session_direct(std::move(session)), eio_(std::move(eio)),
    frames_out_(std::move(frames_out)) {
  // nop
}

void sio_direct::update(const std::map<std::string, sio_socket>& sockets) {
  std::shared_ptr<view> v;
  for (auto& [nsp, s] : sockets) {
    auto* dl = dialect_of(s.d);
    if (dl == nullptr || dl->delta_packet == nullptr)
      continue; // hears no changes (not identified yet)
    if (!v)
      v = std::make_shared<view>();
    v->sockets.push_back(view::socket{nsp, s.link.user_id, dl});
  }
  std::atomic_store(&view_, std::shared_ptr<const view>{std::move(v)});
}

std::shared_ptr<delivery_home> sio_direct::home() const {
  return eio_->home();
}

void sio_direct::clear() {
  std::atomic_store(&view_, std::shared_ptr<const view>{});
}

bool sio_direct::write(const delta_batch& batch) {
  auto v = std::atomic_load(&view_);
  if (!v)
    return true; // nothing to hear
  std::vector<std::shared_ptr<const std::string>> packets;
  // In the session's order: change by change, socket by socket.
  for (auto& d : *batch.deltas)
    for (auto& s : v->sockets)
      if (auto p = s.dialect->delta_packet(s.nsp, s.user, d, batch.memo.get()))
        packets.push_back(std::move(p));
  if (packets.empty())
    return true;
  counter_tally::count(frames_out_.get(), static_cast<double>(packets.size()));
  eio_->send_all(std::move(packets));
  return true;
}

} // namespace presence::edge
