#include "edge/socketio/sio_direct.hpp"

#include <thread>
#include <vector>

#include "edge/socketio/sio_dialects.hpp"

namespace presence::edge {

namespace {

/// Holds an atomic_flag as a lock for one scope.
class spin_guard {
public:
  explicit spin_guard(std::atomic_flag& f) : f_(f) {
    while (f_.test_and_set(std::memory_order_acquire))
      std::this_thread::yield();
  }
  ~spin_guard() { f_.clear(std::memory_order_release); }
  spin_guard(const spin_guard&) = delete;
  spin_guard& operator=(const spin_guard&) = delete;

private:
  std::atomic_flag& f_;
};

} // namespace

sio_direct::sio_direct(std::shared_ptr<eio_transport> eio,
                       std::shared_ptr<prometheus::Counter> frames_out,
                       caf::actor_addr session)
  : session_direct(std::move(session)), eio_(std::move(eio)),
    frames_out_(std::move(frames_out)) {
  // nop
}

void sio_direct::update(const std::map<std::string, sio_socket>& sockets) {
  spin_guard guard{busy_};
  count_ = 0;
  via_actor_ = false;
  for (auto& [nsp, s] : sockets) {
    auto* dl = dialect_of(s.d);
    if (dl == nullptr || dl->delta_packet == nullptr)
      continue; // hears no changes (not identified yet)
    if (count_ == views_.size()) {
      via_actor_ = true;
      return;
    }
    auto& v = views_[count_++];
    v.nsp = nsp;
    v.user = s.link.user_id;
    v.dialect = dl;
  }
}

bool sio_direct::write(const delta_batch& batch) {
  std::vector<std::shared_ptr<const std::string>> packets;
  {
    spin_guard guard{busy_};
    if (via_actor_)
      return false;
    // In the session's order: change by change, socket by socket.
    for (auto& d : *batch.deltas)
      for (uint8_t i = 0; i < count_; ++i) {
        auto& v = views_[i];
        if (auto p = v.dialect->delta_packet(v.nsp, v.user, d,
                                             batch.memo.get()))
          packets.push_back(std::move(p));
      }
  }
  if (packets.empty())
    return true;
  if (frames_out_)
    frames_out_->Increment(static_cast<double>(packets.size()));
  eio_->send_all(std::move(packets));
  return true;
}

} // namespace presence::edge
