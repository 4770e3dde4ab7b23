#include "edge/socketio/eio_session.hpp"

#include <utility>

#include <caf/send.hpp>
#include <nlohmann/json.hpp>
#include <prometheus/counter.h>

#include "core/ids.hpp"
#include "edge/common/close_codes.hpp"
#include "edge/common/edge_log.hpp"
#include "edge/socketio/sio_socket.hpp"
#include "edge/socketio/socketio_codec.hpp"

namespace presence::edge {

using namespace sio;

namespace {

/// Largest Engine.IO payload: the configured one, but never more than an
/// HTTP body may be.
size_t max_payload(const edge_context& ctx) {
  return std::min(ctx.cfg.edge.sio_max_payload, ctx.cfg.edge.max_body_bytes);
}

http_response text_response(std::string body,
                            const char* type = "text/plain; charset=UTF-8") {
  http_response r;
  r.content_type = type;
  r.body = std::move(body);
  return r;
}

std::shared_ptr<const std::string> shared_text(std::string s) {
  return std::make_shared<const std::string>(std::move(s));
}

/// The root namespace.
const std::string root_nsp = "/";

} // namespace

eio_transport::~eio_transport() = default;

http_response eio_error(int code, const std::string& message) {
  http_response r;
  r.status = code == 4 ? 403 : 400;
  r.body = nlohmann::json{{"code", code}, {"message", message}}.dump();
  return r;
}

/// What try_fast_path reads from a packet before it looks at the session:
/// a heartbeat event (user_activity, heartbeat, check_user_online). Not
/// copied: its views and pointers point into the packet or into `p`.
struct eio_session::heartbeat_event {
  heartbeat_event() = default;
  heartbeat_event(const heartbeat_event&) = delete;
  heartbeat_event& operator=(const heartbeat_event&) = delete;

  /// user_activity or heartbeat (else check_user_online).
  bool activity = false;
  const std::string* nsp = &root_nsp;
  int64_t ack_id = no_ack;
  /// The argument of the plain form (match_simple_event).
  std::string_view plain_arg;
  /// The argument of any other form (in `p`; null: none).
  const json* arg = nullptr;
  /// The packet, when it was parsed as JSON.
  sio_packet p;
};

// -- eio_session --------------------------------------------------------------

eio_session::eio_session(std::shared_ptr<edge_context> ctx,
                         std::weak_ptr<eio_registry> registry, std::string sid)
  : ctx_(std::move(ctx)), registry_(std::move(registry)), sid_(std::move(sid)),
    ping_at_(std::chrono::steady_clock::now()),
    connect_by_(ping_at_ + ctx_->cfg.edge.sio_ping_interval
                + ctx_->cfg.edge.sio_ping_timeout) {
  // nop
}

eio_session::~eio_session() = default;

std::string eio_session::open_packet() const {
  auto& e = ctx_->cfg.edge;
  bool polling = transport_ == transport::polling;
  nlohmann::json j = {
    {"sid", sid_},
    {"upgrades",
     polling ? nlohmann::json::array({"websocket"}) : nlohmann::json::array()},
    {"pingInterval", e.sio_ping_interval.count()},
    {"pingTimeout", e.sio_ping_timeout.count()},
    {"maxPayload", max_payload(*ctx_)},
  };
  return encode_eio(eio_type::open, j.dump());
}

void eio_session::bind(eio_listener_api app) {
  std::lock_guard<std::mutex> guard{mu_};
  app_ = std::move(app);
}

void eio_session::send(std::shared_ptr<const std::string> packet) {
  send_all({std::move(packet)});
}

void eio_session::reply(session_sink* ws, std::string_view packet) {
  // On the socket's thread, inside its frame's call: written with the
  // read's other replies, without a shared copy (session_sink::reply_here).
  if (ws != nullptr && ws->reply_here(packet))
    return;
  send(std::string{packet});
}

void eio_session::send_all(
  std::vector<std::shared_ptr<const std::string>> packets) {
  if (packets.empty())
    return;
  std::unique_lock<std::mutex> lock{mu_};
  if (closed_)
    return;
  if (transport_ == transport::websocket && ws_) {
    auto ws = ws_;
    lock.unlock();
    ws->send_texts(std::move(packets));
    return;
  }
  for (auto& p : packets) {
    outbox_bytes_ += p->size();
    outbox_.push_back(std::move(p));
  }
  if (outbox_bytes_ > ctx_->cfg.edge.write_queue_max_bytes) {
    // A polling client that stopped polling: the same slow-consumer rule
    // as for WebSockets.
    lock.unlock();
    log_edge().info("sio: closing slow polling client {}", sid_);
    finish("slow consumer");
    return;
  }
  flush_poll_locked(lock);
}

void eio_session::send_urgent(std::shared_ptr<const std::string> packet) {
  std::unique_lock<std::mutex> lock{mu_};
  if (closed_)
    return;
  if (transport_ == transport::websocket && ws_) {
    auto ws = ws_;
    lock.unlock();
    ws->send_urgent(std::move(packet));
    return;
  }
  outbox_bytes_ += packet->size();
  outbox_.insert(outbox_.begin(), std::move(packet));
  flush_poll_locked(lock);
}

void eio_session::flush_poll_locked(std::unique_lock<std::mutex>& lock) {
  // While a WebSocket probe is under way, packets wait for the new
  // transport; the poll is answered by the noop sent on the probe.
  if (!pending_get_ || outbox_.empty() || probe_)
    return;
  std::string payload;
  payload.reserve(outbox_bytes_ + outbox_.size());
  for (auto& p : outbox_) {
    if (!payload.empty())
      payload.push_back(record_separator);
    payload += *p;
  }
  outbox_.clear();
  outbox_bytes_ = 0;
  auto done = std::move(pending_get_);
  pending_get_ = nullptr;
  lock.unlock();
  done(text_response(std::move(payload)));
}

void eio_session::close(const std::string& reason) {
  {
    std::unique_lock<std::mutex> lock{mu_};
    if (closed_)
      return;
    if (transport_ == transport::websocket && ws_) {
      ws_->send_text(shared_text(encode_eio(eio_type::close)));
    } else {
      outbox_.push_back(shared_text(encode_eio(eio_type::close)));
      flush_poll_locked(lock);
    }
  }
  finish(reason);
}

void eio_session::finish(const std::string& reason) {
  done_fn pending;
  std::shared_ptr<session_sink> ws;
  std::shared_ptr<session_sink> probe;
  eio_listener_api app;
  {
    std::lock_guard<std::mutex> guard{mu_};
    if (closed_)
      return;
    closed_ = true;
    pending = std::move(pending_get_);
    pending_get_ = nullptr;
    ws = std::move(ws_);
    probe = std::move(probe_);
    // Nothing reads it once closed_ is set: a session object something
    // still holds (the fan-out's list, briefly) does not hold the actor.
    app = std::exchange(app_, nullptr);
  }
  if (pending)
    pending(text_response(encode_eio(eio_type::close)));
  if (ws)
    ws->close(close_code::normal, reason);
  if (probe)
    probe->close(close_code::normal, reason);
  if (auto reg = registry_.lock())
    reg->remove(sid_);
  caf::anon_send(app, closed_atom::value);
}

// -- polling ------------------------------------------------------------------

void eio_session::poll_get(done_fn done) {
  std::unique_lock<std::mutex> lock{mu_};
  if (closed_) {
    lock.unlock();
    done(eio_error(1, "Session ID unknown"));
    return;
  }
  if (transport_ != transport::polling) {
    lock.unlock();
    done(eio_error(3, "Bad request"));
    return;
  }
  if (pending_get_) {
    // Two polls at once: the client is confused or hostile. Engine.IO
    // closes the session.
    lock.unlock();
    done(eio_error(3, "Bad request"));
    finish("overlapping poll");
    return;
  }
  if (probe_) {
    // Upgrading: let the client's poll return so it can pause.
    lock.unlock();
    done(text_response(encode_eio(eio_type::noop)));
    return;
  }
  pending_get_ = std::move(done);
  flush_poll_locked(lock);
}

void eio_session::poll_post(const std::string& body, done_fn done) {
  eio_listener_api app;
  {
    std::lock_guard<std::mutex> guard{mu_};
    app = app_;
    if (closed_) {
      done(eio_error(1, "Session ID unknown"));
      return;
    }
    if (transport_ != transport::polling) {
      done(eio_error(3, "Bad request"));
      return;
    }
  }
  if (body.size() > max_payload(*ctx_)) {
    done(eio_error(3, "payload too large"));
    finish("payload too large");
    return;
  }
  std::vector<eio_packet> packets;
  if (!parse_eio_payload(body, packets)) {
    done(eio_error(3, "Bad request"));
    finish("parse error");
    return;
  }
  for (auto& p : packets) {
    if (!on_packet(static_cast<char>(p.type), p.data, app)) {
      done(eio_error(3, "Bad request"));
      finish("parse error");
      return;
    }
  }
  done(text_response("ok", "text/html"));
}

// -- WebSocket ----------------------------------------------------------------

std::shared_ptr<delivery_home> eio_transport::home() const {
  return nullptr;
}

std::shared_ptr<delivery_home> eio_session::home() const {
  std::shared_ptr<session_sink> ws;
  {
    std::lock_guard<std::mutex> guard{mu_};
    if (transport_ == transport::websocket && !closed_)
      ws = ws_;
  }
  // Outside the lock: the sink may hold the last reference to its socket's
  // session, whose end calls back into this one (on_ws_closed).
  return ws ? ws->home() : nullptr;
}

void eio_session::attach_websocket(std::shared_ptr<session_sink> ws) {
  std::lock_guard<std::mutex> guard{mu_};
  transport_ = transport::websocket;
  ws_ = std::move(ws);
}

void eio_session::begin_probe(std::shared_ptr<session_sink> ws) {
  std::unique_lock<std::mutex> lock{mu_};
  if (closed_ || transport_ != transport::polling || probe_) {
    lock.unlock();
    ws->close(close_code::normal, "upgrade refused");
    return;
  }
  probe_ = std::move(ws);
}

void eio_session::on_ws_text(const std::shared_ptr<session_sink>& ws,
                             std::string_view text) {
  eio_type type;
  std::string_view data;
  if (text.size() > max_payload(*ctx_) || !parse_eio(text, type, data)) {
    finish("parse error");
    return;
  }
  // A heartbeat event is read before the lock and answered after it: one
  // lock per frame on the heartbeat's path.
  heartbeat_event hb;
  bool message = type == eio_type::message;
  bool heartbeat = message && read_heartbeat(data, hb);
  activity_cell_ptr cell;
  eio_listener_api app;
  std::unique_lock<std::mutex> lock{mu_};
  if (closed_)
    return;
  if (ws == probe_) {
    if (type == eio_type::ping && data == "probe") {
      lock.unlock();
      ws->send_text(shared_text(encode_eio(eio_type::pong, "probe")));
      lock.lock();
      // Make the pending poll return so the client can pause polling.
      if (pending_get_) {
        auto done = std::move(pending_get_);
        pending_get_ = nullptr;
        lock.unlock();
        done(text_response(encode_eio(eio_type::noop)));
      }
      return;
    }
    if (type == eio_type::upgrade) {
      transport_ = transport::websocket;
      ws_ = std::move(probe_);
      probe_ = nullptr;
      std::vector<std::shared_ptr<const std::string>> queued;
      queued.swap(outbox_);
      outbox_bytes_ = 0;
      auto done = std::move(pending_get_);
      pending_get_ = nullptr;
      // What the polling transport still held goes to the WebSocket before
      // anything sent from now on (senders see ws_ once the lock is free).
      // A sink only queues: it never calls back into this session.
      ws_->send_texts(std::move(queued));
      auto upgraded = app_;
      lock.unlock();
      if (done)
        done(text_response(encode_eio(eio_type::noop)));
      if (upgraded)
        caf::anon_send(upgraded, rehome_atom::value);
      return;
    }
    lock.unlock();
    finish("bad upgrade");
    return;
  }
  if (ws != ws_)
    return; // a stale socket
  if (heartbeat)
    cell = cell_locked(*hb.nsp);
  app = app_;
  lock.unlock();
  if (cell && answer_heartbeat(hb, cell, ws.get()))
    return;
  if (!on_packet(static_cast<char>(type), data, app, message))
    finish("parse error");
}

void eio_session::on_ws_closed(const std::shared_ptr<session_sink>& ws) {
  std::unique_lock<std::mutex> lock{mu_};
  if (ws == probe_) {
    // The upgrade failed; polling goes on.
    probe_ = nullptr;
    return;
  }
  if (ws != ws_)
    return;
  lock.unlock();
  finish("transport close");
}

void eio_session::fast_path(const std::string& nsp, activity_cell_ptr cell) {
  std::lock_guard<std::mutex> guard{mu_};
  for (auto i = namespaces_.begin(); i != namespaces_.end(); ++i) {
    if (i->first == nsp) {
      if (cell)
        i->second = std::move(cell);
      else
        namespaces_.erase(i);
      return;
    }
  }
  if (cell)
    namespaces_.emplace_back(nsp, std::move(cell));
}

/// Reads a heartbeat event from Socket.IO packet `data` into `out`; false:
/// not one (the Socket.IO actor handles it). Seed 000's heartbeat round as
/// socket.io-client sends it (on "/", no acknowledgement, plain strings)
/// is read without a JSON parse; other events go to the actor unparsed (it
/// parses what it gets): only a packet that names a heartbeat event is
/// parsed here.
bool eio_session::read_heartbeat(std::string_view data, heartbeat_event& out) {
  // Only events ("2..."); anything else, or anything unusual, goes to the
  // actor, which also answers every error.
  if (data.empty() || data[0] != '2')
    return false;
  std::string_view name;
  if (simple_event ev; match_simple_event(data, ev)) {
    name = ev.name;
    out.plain_arg = ev.arg;
  } else {
    if (data.find("user_activity") == std::string::npos
        && data.find("heartbeat") == std::string::npos
        && data.find("check_user_online") == std::string::npos)
      return false;
    std::string err;
    auto& p = out.p;
    if (!parse_sio(std::string{data}, p, err) || p.type != sio_type::event
        || !p.data.is_array() || p.data.empty() || !p.data[0].is_string())
      return false;
    name = p.data[0].get_ref<const std::string&>();
    out.nsp = &p.nsp;
    out.ack_id = p.ack_id;
    if (p.data.size() > 1)
      out.arg = &p.data[1];
  }
  // These names mean the same in every dialect (edge/socketio/
  // sio_dialects.cpp): seed 000's user_activity and seed 004's heartbeat
  // record activity and ack with the time; seed 000's check_user_online
  // reads the node's online index.
  out.activity = name == "user_activity" || name == "heartbeat";
  return out.activity || name == "check_user_online";
}

activity_cell_ptr eio_session::cell_locked(std::string_view nsp) const {
  for (auto& kvp : namespaces_)
    if (kvp.first == nsp)
      return kvp.second;
  return nullptr;
}

bool eio_session::try_fast_path(std::string_view data) {
  heartbeat_event hb;
  if (!read_heartbeat(data, hb))
    return false;
  activity_cell_ptr cell;
  {
    std::lock_guard<std::mutex> guard{mu_};
    cell = cell_locked(*hb.nsp);
  }
  // Not connected: the actor says so.
  return cell && answer_heartbeat(hb, cell, nullptr);
}

bool eio_session::answer_heartbeat(const heartbeat_event& hb,
                                   const activity_cell_ptr& cell,
                                   session_sink* ws) {
  auto& ctx = *ctx_;
  auto& nsp = *hb.nsp;
  auto now = ctx.now();
  auto ack = [&](auto make_arg) {
    if (hb.ack_id == no_ack)
      return;
    ctx.probe.frames_out->Increment();
    reply(ws, eio_ack(nsp, hb.ack_id, json::array({make_arg()})));
  };
  if (hb.activity) {
    ctx.probe.frames_in->Increment();
    // A namespace that has not joined has no user behind its cell: the
    // record goes nowhere, as the actor's record_activity would skip it.
    ctx.record_activity(cell, now);
    ack([&] { return ack_ok({{"timestamp", iso8601(now)}}); });
    return true;
  }
  auto& index = *ctx.online;
  // The user asked about, in a buffer this thread reuses.
  thread_local std::string user;
  if (hb.arg != nullptr)
    user = user_arg(*hb.arg);
  else
    user.assign(hb.plain_arg);
  if (!index.ready() || !valid_id(user))
    return false;
  auto online = index.online_for_anyone(user);
  // Someone who restricts who sees them: the session actor knows who asks.
  if (!online)
    return false;
  ctx.probe.frames_in->Increment();
  auto payload = [&]() -> json {
    return {{"userId", user}, {"online", *online}};
  };
  ctx.probe.frames_out->Increment();
  if (nsp == root_nsp && user.find_first_of("\"\\") == std::string::npos) {
    // No JSON tree, and a buffer this thread reuses.
    thread_local std::string packet;
    user_online_status_packet(packet, user, *online);
    reply(ws, packet);
  } else {
    reply(ws, eio_event(nsp, "user_online_status", payload()));
  }
  ack([&] { return ack_ok(payload()); });
  return true;
}

bool eio_session::on_packet(char type, std::string_view data,
                            const eio_listener_api& app, bool fast_tried) {
  switch (static_cast<eio_type>(type)) {
    case eio_type::pong: {
      // Engine.IO liveness is presence liveness: a pong refreshes the TTL
      // of the users on this session, as a heartbeat event does.
      std::vector<activity_cell_ptr> cells;
      {
        std::lock_guard<std::mutex> guard{mu_};
        if (!awaiting_pong_)
          return true;
        awaiting_pong_ = false;
        for (auto& kvp : namespaces_)
          if (kvp.second)
            cells.push_back(kvp.second);
      }
      auto now = ctx_->now();
      for (auto& c : cells)
        ctx_->record_activity(c, now);
      return true;
    }
    case eio_type::message:
      if (!data.empty() && data[0] == '1') {
        // A namespace's DISCONNECT: its events are the actor's again (it
        // answers them "not connected").
        sio_packet p;
        std::string err;
        if (parse_sio(std::string{data}, p, err))
          fast_path(p.nsp, nullptr);
      } else if (!fast_tried && try_fast_path(data)) {
        return true;
      }
      caf::anon_send(app, frame_atom::value, std::string{data});
      return true;
    case eio_type::close:
      finish("client close");
      return true;
    case eio_type::ping:
      // Engine.IO 3 clients pinged; answer politely.
      send(encode_eio(eio_type::pong, std::string{data}));
      return true;
    case eio_type::noop:
      return true;
    default:
      return false;
  }
}

// -- registry -----------------------------------------------------------------

void eio_session::heartbeat(std::chrono::steady_clock::time_point now) {
  auto& e = ctx_->cfg.edge;
  bool ping = false;
  bool timed_out = false;
  eio_listener_api connect_deadline;
  {
    std::lock_guard<std::mutex> guard{mu_};
    if (closed_)
      return;
    if (app_ && now >= connect_by_) {
      connect_by_ = std::chrono::steady_clock::time_point::max();
      connect_deadline = app_;
    }
    if (awaiting_pong_) {
      timed_out = now - ping_at_ >= e.sio_ping_timeout;
    } else if (now - ping_at_ >= e.sio_ping_interval) {
      ping = true;
      awaiting_pong_ = true;
      ping_at_ = now;
    }
  }
  if (connect_deadline)
    caf::anon_send(connect_deadline, deadline_atom::value);
  if (timed_out) {
    log_edge().debug("sio: ping timeout {}", sid_);
    ctx_->probe.sio_ping_timeouts->Increment();
    close("ping timeout");
    return;
  }
  if (ping) {
    // Ahead of queued packets: the deadline is for the client's answer,
    // not for the backlog a storm left in front of the ping.
    static const auto packet = std::make_shared<const std::string>(
      encode_eio(eio_type::ping));
    send_urgent(packet);
  }
}

void eio_registry::tick() {
  auto now = std::chrono::steady_clock::now();
  for (auto& s : all())
    s->heartbeat(now);
}

std::chrono::steady_clock::duration eio_registry::tick_period() const {
  auto& e = ctx_->cfg.edge;
  auto shorter = std::min(e.sio_ping_interval, e.sio_ping_timeout);
  return std::max<std::chrono::steady_clock::duration>(
    shorter / 10, std::chrono::milliseconds{5});
}

std::shared_ptr<eio_session> eio_registry::create() {
  auto s = std::make_shared<eio_session>(ctx_, weak_from_this(), make_sid());
  std::lock_guard<std::mutex> guard{mu_};
  sessions_.emplace(s->sid(), s);
  return s;
}

std::shared_ptr<eio_session> eio_registry::find(const std::string& sid) {
  std::lock_guard<std::mutex> guard{mu_};
  auto i = sessions_.find(sid);
  return i == sessions_.end() ? nullptr : i->second;
}

void eio_registry::remove(const std::string& sid) {
  std::lock_guard<std::mutex> guard{mu_};
  sessions_.erase(sid);
}

size_t eio_registry::size() {
  std::lock_guard<std::mutex> guard{mu_};
  return sessions_.size();
}

std::vector<std::shared_ptr<eio_session>> eio_registry::all() {
  std::vector<std::shared_ptr<eio_session>> result;
  std::lock_guard<std::mutex> guard{mu_};
  result.reserve(sessions_.size());
  for (auto& kvp : sessions_)
    result.push_back(kvp.second);
  return result;
}

void eio_registry::close_all() {
  for (auto& s : all())
    s->close("server shutting down");
}

// -- polling requests ---------------------------------------------------------

void handle_eio_polling(
  std::shared_ptr<edge_context> ctx, std::shared_ptr<eio_registry> reg,
  const http_request& req, const parsed_target& target,
  std::function<eio_listener_api(std::shared_ptr<eio_session>)> app_factory,
  std::function<void(http_response)> done) {
  if (query_param(target, "EIO") != "4") {
    done(eio_error(5, "Unsupported protocol version"));
    return;
  }
  auto transport = query_param(target, "transport");
  if (transport != "polling") {
    done(transport == "websocket" ? eio_error(3, "Bad request")
                                  : eio_error(0, "Transport unknown"));
    return;
  }
  auto sid = query_param(target, "sid");
  if (sid.empty()) {
    if (req.method != "GET") {
      done(eio_error(2, "Bad handshake method"));
      return;
    }
    if (ctx->draining) {
      done(eio_error(4, "server shutting down"));
      return;
    }
    if (reg->size() >= ctx->cfg.edge.max_connections) {
      auto r = eio_error(3, "too many sessions");
      r.status = 503;
      done(std::move(r));
      return;
    }
    auto s = reg->create();
    s->bind(app_factory(s));
    done(text_response(s->open_packet()));
    return;
  }
  auto s = reg->find(sid);
  if (!s) {
    done(eio_error(1, "Session ID unknown"));
    return;
  }
  if (req.method == "GET")
    s->poll_get(std::move(done));
  else if (req.method == "POST")
    s->poll_post(req.body, std::move(done));
  else
    done(eio_error(3, "Bad request"));
}

} // namespace presence::edge
