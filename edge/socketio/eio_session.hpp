#pragma once

// Engine.IO 4 sessions: the transport layer under Socket.IO. One
// eio_session per client; it outlives individual HTTP requests (polling)
// and moves from polling to a WebSocket on upgrade. Liveness (ping/pong)
// is kept here, on the registry's coarse clock (eio_registry::tick);
// everything above the transport lives in the Socket.IO actor
// (sio_session.hpp).

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <caf/typed_actor.hpp>

#include "core/messages.hpp"

#include "edge/common/http_types.hpp"
#include "edge/common/url.hpp"
#include "edge/socketio/seed000_list.hpp"
#include "edge/common/edge_context.hpp"
#include "edge/transport/ws_endpoint.hpp"

namespace presence::edge {

/// What an Engine.IO session tells the Socket.IO session on top of it
/// (edge/socketio/sio_session.hpp).
using eio_listener_api = caf::typed_actor<
  // the data of one Engine.IO message (a Socket.IO packet)
  caf::reacts_to<frame_atom, std::string>,
  // the Engine.IO session is gone
  caf::reacts_to<closed_atom>,
  // a ping interval plus a ping timeout after the handshake (socket.io's
  // connectTimeout, told once by eio_session::heartbeat): the session is
  // dropped unless a namespace is connected by now
  caf::reacts_to<deadline_atom>,
  // the session moved from polling to a WebSocket (an upgrade): its
  // deliveries may now run on that socket's thread (eio_transport::home)
  caf::reacts_to<rehome_atom>>;

/// What the Socket.IO actor sees of its transport. Thread-safe.
class eio_transport {
public:
  virtual ~eio_transport();
  /// Queues one encoded Engine.IO packet ("2", "42[...]", ...); a
  /// broadcast shares one packet among all its receivers.
  virtual void send(std::shared_ptr<const std::string> packet) = 0;

  /// Queues a packet made for this session alone.
  void send(std::string packet) {
    send(std::make_shared<const std::string>(std::move(packet)));
  }
  /// Queues several packets in order (one hop for all of them).
  virtual void send_all(std::vector<std::shared_ptr<const std::string>> packets)
    = 0;
  /// Queues `packet` ahead of the packets waiting to be sent: the ping,
  /// whose pong deadline would otherwise run while a storm's backlog is
  /// written (the client then looks dead although it reads).
  virtual void send_urgent(std::shared_ptr<const std::string> packet) = 0;
  /// Ends the session (the client sees the transport close).
  virtual void close(const std::string& reason) = 0;
  virtual const std::string& sid() const = 0;
  /// Namespace `nsp` is connected and records activity in `cell` (null:
  /// no longer connected). Its heartbeat events (`user_activity`,
  /// `heartbeat`, `check_user_online`) are then answered by the transport
  /// where they arrive, without the Socket.IO actor (eio_session.cpp).
  virtual void fast_path(const std::string& nsp, activity_cell_ptr cell) = 0;
  /// The thread where sends are best made (its WebSocket's I/O thread,
  /// session_sink::home); null while the session polls (the Socket.IO
  /// actor subscribes again when it upgrades, and the fan-out asks anew).
  /// The default: null.
  virtual std::shared_ptr<delivery_home> home() const;
};

class eio_registry;

/// One Engine.IO session. All state is guarded by a mutex: polling requests
/// arrive on different connections, WebSocket frames on the socket's strand
/// and outbound packets from the Socket.IO actor.
class eio_session : public eio_transport,
                    public std::enable_shared_from_this<eio_session> {
public:
  using done_fn = std::function<void(http_response)>;

  eio_session(std::shared_ptr<edge_context> ctx,
              std::weak_ptr<eio_registry> registry, std::string sid);
  ~eio_session() override;

  // -- eio_transport ----------------------------------------------------------

  using eio_transport::send;
  void send(std::shared_ptr<const std::string> packet) override;
  void
  send_all(std::vector<std::shared_ptr<const std::string>> packets) override;
  void send_urgent(std::shared_ptr<const std::string> packet) override;
  void close(const std::string& reason) override;
  const std::string& sid() const override { return sid_; }
  void fast_path(const std::string& nsp, activity_cell_ptr cell) override;
  std::shared_ptr<delivery_home> home() const override;

  // -- set-up -----------------------------------------------------------------

  /// The "0{...}" open packet of this session.
  std::string open_packet() const;
  /// Binds the Socket.IO actor on top of this session.
  void bind(eio_listener_api app);

  // -- polling ----------------------------------------------------------------

  /// A long-poll GET: answered at once if packets wait, else when one comes.
  void poll_get(done_fn done);
  /// A POST with packets from the client.
  void poll_post(const std::string& body, done_fn done);

  // -- liveness ---------------------------------------------------------------

  /// One tick of the registry's clock at `now`: the ping is sent a
  /// --sio-ping-interval after the last one (the first one after the
  /// handshake), ahead of queued packets; a session whose pong has not
  /// come --sio-ping-timeout after its ping is closed ("ping timeout").
  /// Tells the app `deadline_atom` once, a ping interval plus a ping
  /// timeout after the handshake (no CAF timer per session).
  void heartbeat(std::chrono::steady_clock::time_point now);

  // -- WebSocket --------------------------------------------------------------

  /// A direct WebSocket session (transport=websocket, no sid).
  void attach_websocket(std::shared_ptr<session_sink> ws);
  /// A WebSocket opened to upgrade this polling session (with sid).
  void begin_probe(std::shared_ptr<session_sink> ws);
  /// A text frame from `ws` (the active transport or the probe).
  void on_ws_text(const std::shared_ptr<session_sink>& ws,
                  std::string_view text);
  /// `ws` closed.
  void on_ws_closed(const std::shared_ptr<session_sink>& ws);

private:
  enum class transport { polling, websocket };

  /// A heartbeat event as read from a packet (eio_session.cpp).
  struct heartbeat_event;
  static bool read_heartbeat(std::string_view data, heartbeat_event& out);

  /// Handles one packet from the client for the Socket.IO actor `app`;
  /// returns false on a protocol error. `fast_tried`: the packet is not a
  /// heartbeat event this session answers itself (try_fast_path). Called
  /// without the lock held.
  bool on_packet(char type, std::string_view data, const eio_listener_api& app,
                 bool fast_tried = false);
  /// A heartbeat event of a connected namespace, answered here; false:
  /// the Socket.IO actor handles `data`.
  bool try_fast_path(std::string_view data);
  /// The activity cell of connected namespace `nsp` (null: none). Called
  /// with the lock held.
  activity_cell_ptr cell_locked(std::string_view nsp) const;
  /// Answers heartbeat event `hb` of the namespace whose cell is `cell`;
  /// false: the Socket.IO actor must (someone who restricts who sees
  /// them, an invalid user id, the online index not ready). `ws`: the
  /// WebSocket whose frame this is (null: a polling request).
  bool answer_heartbeat(const heartbeat_event& hb,
                        const activity_cell_ptr& cell, session_sink* ws);

  /// A reply of the heartbeat fast path: from inside `ws`'s frame it is
  /// written in place when the socket is idle (session_sink::reply_here),
  /// else sent as any packet.
  void reply(session_sink* ws, std::string_view packet);
  void flush_poll_locked(std::unique_lock<std::mutex>& lock);
  void finish(const std::string& reason);

  std::shared_ptr<edge_context> ctx_;
  std::weak_ptr<eio_registry> registry_;
  std::string sid_;
  eio_listener_api app_;

  mutable std::mutex mu_;
  transport transport_ = transport::polling;
  bool closed_ = false;
  /// Packets for the next poll (polling only; a vector: an empty std::deque
  /// holds ~600 bytes, and most sessions upgrade to a WebSocket at once).
  std::vector<std::shared_ptr<const std::string>> outbox_;
  size_t outbox_bytes_ = 0;
  done_fn pending_get_;
  std::shared_ptr<session_sink> ws_;
  std::shared_ptr<session_sink> probe_;
  /// Connected namespaces and their activity cells (fast_path()); a
  /// session has one or two.
  std::vector<std::pair<std::string, activity_cell_ptr>> namespaces_;
  /// When the last ping went (the handshake before the first one).
  std::chrono::steady_clock::time_point ping_at_;
  /// A ping interval plus a ping timeout after the handshake: the app hears
  /// `deadline_atom` (socket.io's connectTimeout) on the first tick after
  /// (then time_point::max(): told).
  std::chrono::steady_clock::time_point connect_by_;
  bool awaiting_pong_ = false;
};

/// Every live Engine.IO session of a server, by sid, and what every
/// Socket.IO session of the server shares.
class eio_registry : public std::enable_shared_from_this<eio_registry> {
public:
  /// The node's seed-000 list actor (edge/socketio/seed000_list.hpp).
  seed000_list_api lists;

  explicit eio_registry(std::shared_ptr<edge_context> ctx)
    : ctx_(std::move(ctx)) {
    // nop
  }

  /// A new session with a fresh sid, registered.
  std::shared_ptr<eio_session> create();
  std::shared_ptr<eio_session> find(const std::string& sid);
  void remove(const std::string& sid);
  size_t size();
  /// The Engine.IO heartbeat of every session (eio_session::heartbeat),
  /// run every `tick_period()` by the listener (edge_context::tickers): no
  /// timer or actor message per session.
  void tick();
  /// A tenth of the shorter of --sio-ping-interval and --sio-ping-timeout
  /// (each deadline is kept within that), at least 5 ms.
  std::chrono::steady_clock::duration tick_period() const;
  /// Ends every session (server shutdown).
  void close_all();

private:
  /// The live sessions, taken out of sessions_ under mu_.
  std::vector<std::shared_ptr<eio_session>> all();

  std::shared_ptr<edge_context> ctx_;
  std::mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<eio_session>> sessions_;
};

/// Handles an Engine.IO polling request (GET or POST on a Socket.IO path,
/// not an upgrade): handshake, long-poll, packets. `query` is the parsed
/// query string; `app_factory` spawns the Socket.IO actor of a new session.
void handle_eio_polling(
  std::shared_ptr<edge_context> ctx, std::shared_ptr<eio_registry> reg,
  const http_request& req, const parsed_target& target,
  std::function<eio_listener_api(std::shared_ptr<eio_session>)> app_factory,
  std::function<void(http_response)> done);

/// The Engine.IO error response {"code":N,"message":...} with status 400
/// (403 for code 4).
http_response eio_error(int code, const std::string& message);

} // namespace presence::edge
