#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <caf/actor_addr.hpp>
#include <prometheus/counter.h>

#include "core/messages.hpp"
#include "edge/common/session_direct.hpp"
#include "edge/socketio/eio_session.hpp"

namespace presence::edge {

struct sio_dialect;
struct sio_socket;

/// The Socket.IO session's way in for the fan-out (session_direct.hpp): the
/// fan-out writes a batch to the session's transport itself, on its own
/// thread, as the packets each of the session's sockets hears (the
/// dialects' pure delta_packet, shared through the delivery's memo). Per
/// session that is a filter and a pointer copy, no actor message: a
/// seed-000 storm sends every join to every socket. The session actor
/// tells it what its sockets are (update(), at the end of the packet that
/// changed them); a batch that needs the actor (a user who restricts who
/// sees them) goes there as before, in order.
class sio_direct final : public session_direct {
public:
  /// `frames_out` shares ownership of the metrics registry that holds it
  /// (the fan-out may deliver after the edge context ended).
  sio_direct(std::shared_ptr<eio_transport> eio,
             std::shared_ptr<prometheus::Counter> frames_out,
             caf::actor_addr session);

  /// The session's sockets are now `sockets` (namespace -> socket): their
  /// dialects and the users they joined as. Called by the session actor.
  void update(const std::map<std::string, sio_socket>& sockets);

  /// The session's sockets hear nothing more (it is disconnecting them).
  void clear();

  /// Its WebSocket's I/O thread (null while it polls): the fan-out hands
  /// its deliveries to that thread, which writes them at once.
  std::shared_ptr<delivery_home> home() const override;

private:
  bool write(const delta_batch& batch) override;

  /// The sockets that hear changes, as the fan-out needs them: replaced
  /// whole by update() and read by write() without a lock held while it
  /// encodes (null: none).
  struct view {
    struct socket {
      std::string nsp;
      std::string user;
      const sio_dialect* dialect;
    };
    std::vector<socket> sockets;
  };

  std::shared_ptr<eio_transport> eio_;
  std::shared_ptr<prometheus::Counter> frames_out_;
  /// Read and replaced with std::atomic_load / std::atomic_store.
  std::shared_ptr<const view> view_;
};

} // namespace presence::edge
