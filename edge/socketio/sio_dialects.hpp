#pragma once

// The seeds' Socket.IO dialects behind one small dispatch table: each
// dialect is one file (seed000_dialect.cpp, seed002_dialect.cpp,
// seed004_dialect.cpp) that lists its events (name -> handler) and what
// its sockets hear of a presence change. Adding a dialect is adding a file
// and naming it in sio_dialects.cpp.

#include <cstdint>
#include <string>
#include <vector>

#include "edge/socketio/sio_socket.hpp"

namespace presence::edge {

/// Handles one event on socket `s`: `arg` is the event's first argument
/// (null when none), `ack_id` the acknowledgement asked for (sio::no_ack
/// when none). Runs inside the session actor.
using event_handler = void (*)(sio_ptr self, sio_socket& s, const json& arg,
                               int64_t ack_id);

struct event_entry {
  const char* name;
  event_handler handler;
};

/// One seed's front-end protocol.
struct sio_dialect {
  dialect id;
  /// The namespace whose sockets speak it from CONNECT on ("" = a socket
  /// picks it by its identifying event); its events win there.
  const char* nsp;
  std::vector<event_entry> events;
  /// What a socket of this dialect on namespace `nsp`, joined as `user`
  /// ("" before it joins), hears of change `d`: one packet, or null
  /// (nothing). Pure, no session state: the session calls it, and so does
  /// the fan-out for the sessions it writes to itself (sio_direct.hpp).
  /// `memo` (may be null) shares encodings among every receiver of the
  /// delivery (delta_event).
  std::shared_ptr<const std::string> (*delta_packet)(const std::string& nsp,
                                                     const std::string& user,
                                                     const presence_delta& d,
                                                     delta_memo* memo);
};

const sio_dialect& seed000_dialect();
const sio_dialect& seed002_dialect();
const sio_dialect& seed004_dialect();

/// Every dialect, in precedence order (000, 002, 004).
const std::vector<const sio_dialect*>& all_dialects();

/// The dialect `d`, or nullptr for dialect::none.
const sio_dialect* dialect_of(dialect d);

/// The handler of event `name` on namespace `nsp`: the namespace's own
/// dialect first, then every dialect in precedence order; nullptr if none
/// knows it.
event_handler find_event(const std::string& nsp, const std::string& name);

// -- shared by several dialects -------------------------------------------------

/// The client of socket `s` was active now: recorded in the device's
/// activity cell (the user actor hears of it at most once per gap;
/// edge/common/activity.hpp). Nothing if the socket has not joined.
void record_activity(sio_ptr self, sio_socket& s);

/// user_activity / heartbeat: refreshes the socket's device; acks the time.
void on_activity(sio_ptr self, sio_socket& s, const json& arg, int64_t ack_id);

/// Seed 001's private-message events (seed001_messages.cpp); seed 000's
/// namespace speaks them too.
const std::vector<event_entry>& seed001_events();

// -- dialect specifics the session calls --------------------------------------

/// Seed 001: the private messages that waited for the user of the socket
/// `find()` finds (it just joined), as new_private_message events.
void deliver_queued(sio_ptr self, std::function<sio_socket*()> find);

/// Seed 001: a private message for the socket holding `device`.
void emit_private_message(sio_ptr self, const std::string& device,
                          const chat_message& m);

/// Seed 000: a build of the node's online list reached this session: every
/// seed-000 socket gets it.
void on_seed000_list(sio_ptr self, const seed000_list& l);

/// Seed 002: a typing signal from room `sig.room` to socket `s`.
void emit_typing(sio_ptr self, const sio_socket& s, const room_signal& sig);

} // namespace presence::edge
