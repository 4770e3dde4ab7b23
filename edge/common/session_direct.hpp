#pragma once

#include <atomic>
#include <memory>
#include <utility>

#include <caf/actor_addr.hpp>
#include <caf/actor_cast.hpp>
#include <caf/send.hpp>

#include "core/messages.hpp"

namespace presence::edge {

/// The rule every session's direct way in for the fan-out follows (a
/// direct_listener: the fan-out hands it batches on its own thread). A
/// batch goes straight to the socket (write()) unless it needs the
/// session's state: then it goes to the session actor, and so does every
/// batch after it until the actor has written them (written()), so a
/// user's versions stay in order. A batch needs the session when one of
/// its users restricts who sees them (the session knows who it joined as),
/// or when write() declines it. After end() (the session actor ended)
/// batches are dropped, as its mailbox would.
class session_direct : public direct_listener {
public:
  explicit session_direct(caf::actor_addr session)
    : session_(std::move(session)) {
    // nop
  }

  void deliver(const delta_batch& batch) final {
    if (gone_.load(std::memory_order_acquire))
      return; // the session ended, and its mailbox would drop this
    if (pending_.load(std::memory_order_acquire) == 0 && !restricted(batch)
        && write(batch))
      return;
    auto session = caf::actor_cast<caf::actor>(session_);
    if (!session)
      return; // the session ended: nobody to write for
    pending_.fetch_add(1, std::memory_order_acq_rel);
    auto copy = batch;
    copy.forwarded = true;
    caf::anon_send(session, delta_atom::value, std::move(copy));
  }

  /// The session actor wrote a batch deliver() passed on.
  void written() { pending_.fetch_sub(1, std::memory_order_acq_rel); }

  /// The session actor ended: later batches are dropped.
  void end() { gone_.store(true, std::memory_order_release); }

protected:
  /// Writes `batch` (no restricted user in it) to the socket, on the
  /// fan-out's thread; false: the session actor must.
  virtual bool write(const delta_batch& batch) = 0;

private:
  static bool restricted(const delta_batch& batch) {
    for (auto& d : *batch.deltas)
      if (d.vis.restricted())
        return true;
    return false;
  }

  caf::actor_addr session_;
  /// Batches passed on to the session actor and not written yet.
  std::atomic<int> pending_{0};
  std::atomic<bool> gone_{false};
};

/// Registers `direct`, the way in of session `self`, with the node's `reg`
/// (before the session first subscribes: the fan-out looks it up then),
/// and undoes that when the session ends: later batches are dropped.
template <class Self, class Direct>
void register_direct(Self* self, const std::shared_ptr<direct_listeners>& reg,
                     const std::shared_ptr<Direct>& direct) {
  reg->add(self->address(), direct);
  self->attach_functor(
    [reg, addr = self->address(), d = std::weak_ptr<Direct>{direct}] {
      if (auto p = d.lock())
        p->end();
      reg->remove(addr);
    });
}

} // namespace presence::edge
