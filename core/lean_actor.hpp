#pragma once

// A lean actor: what one idle session needs of a CAF actor, without
// `scheduled_actor`'s 960 bytes.
//
// CAF 0.17's event-based actors carry a multiplexed mailbox (400 B: one
// queue per category for streams and urgent messages), a behavior stack,
// a map of pending responses, five default handlers and two stream maps:
// ~1 KB per actor before any state. A native session holds one device and
// mostly waits, one per connected user, so that base was ~13% of a
// connection's memory (docs/benchmarks.md, "Where the bytes of one
// connection go").
//
// `lean_actor` is a `monitorable_actor` (an address, monitors, attached
// functors: what the user actor, the fan-out and the middleman need of a
// session) with a one-pointer mailbox (CAF's `lifo_inbox`), run by CAF's
// scheduler like any other actor. It offers the part of the event-based
// API the sessions use: `send`, `delayed_send`, `request(...).then(ok,
// err)` with a timeout, `monitor`/`demonitor`, `quit`, and one handler
// table shared by every actor of a kind (CAF 0.17 builds one per actor,
// ~0.4-0.85 KB; handlers find their actor with `current<Self>()`), and `await` for an
// answer that must come before anything else. Not supported: streams,
// links (an exit message is a kill), skipping messages, message
// priorities, response promises and delegation (a handler's result is
// the answer to a request; a value returned for an asynchronous message
// goes nowhere, where CAF sends it back). A run handles every message it
// took from the mailbox in one go (CAF stops after `max_throughput`).
//
// Messages are handled one at a time, in the order they arrived, on CAF's
// worker threads (at most `max_throughput` per run, then the worker moves
// on), exactly as for `scheduled_actor`.

#include <atomic>
#include <cassert>
#include <chrono>
#include <cstdint>
#include <utility>
#include <vector>

#include <caf/actor_cast.hpp>
#include <caf/actor_clock.hpp>
#include <caf/actor_config.hpp>
#include <caf/actor_traits.hpp>
#include <caf/actor_system.hpp>
#include <caf/behavior.hpp>
#include <caf/default_attachable.hpp>
#include <caf/duration.hpp>
#include <caf/error.hpp>
#include <caf/intrusive/lifo_inbox.hpp>
#include <caf/mailbox_element.hpp>
#include <caf/make_actor.hpp>
#include <caf/message_id.hpp>
#include <caf/monitorable_actor.hpp>
#include <caf/resumable.hpp>
#include <caf/system_messages.hpp>

namespace presence {

class lean_actor : public caf::monitorable_actor, public caf::resumable {
public:
  using time_point = std::chrono::steady_clock::time_point;

  explicit lean_actor(caf::actor_config& cfg);

  ~lean_actor() override;

  /// Lean actors in memory in this process (constructed, not yet freed).
  static int64_t live() { return live_.load(std::memory_order_relaxed); }

  // -- what handlers use ------------------------------------------------------

  caf::actor_system& system() const { return home_system(); }

  /// The worker running this actor right now (null outside a run).
  caf::execution_unit* context() const { return context_; }

  /// Sends `xs...` to `dest` (an actor handle), from this actor.
  template <class Handle, class... Ts>
  void send(const Handle& dest, Ts&&... xs) {
    if (dest)
      caf::actor_cast<caf::abstract_actor*>(dest)->eq_impl(
        caf::make_message_id(), ctrl(), context_, std::forward<Ts>(xs)...);
  }

  /// Sends `xs...` to `dest` after `delay` (CAF's clock).
  template <class Handle, class Rep, class Period, class... Ts>
  void delayed_send(const Handle& dest,
                    std::chrono::duration<Rep, Period> delay, Ts&&... xs) {
    if (!dest)
      return;
    auto& clk = system().clock();
    clk.schedule_message(clk.now() + delay,
                         caf::actor_cast<caf::strong_actor_ptr>(dest),
                         caf::make_mailbox_element(ctrl(),
                                                   caf::make_message_id(), {},
                                                   std::forward<Ts>(xs)...));
  }

  /// A request in flight; `then` installs its handlers.
  class response_handle {
  public:
    response_handle(lean_actor* self, caf::message_id id, time_point due)
      : self_(self), id_(id), due_(due) {
      // nop
    }

    /// `ok` gets the response's values, `err` a `caf::error` (the
    /// receiver's error, a timeout, an unreachable receiver, or a response
    /// `ok` cannot take).
    template <class Ok, class Err>
    void then(Ok ok, Err err) {
      self_->pending_.push_back(
        {id_, caf::behavior{std::move(ok), std::move(err)}, due_});
      self_->arm_sweep(due_);
    }

    /// As `then`, and every other message waits until the answer came (at
    /// most one await at a time).
    template <class Ok, class Err>
    void await(Ok ok, Err err) {
      assert(!self_->awaiting());
      then(std::move(ok), std::move(err));
      self_->awaited_ = id_;
    }

  private:
    lean_actor* self_;
    caf::message_id id_;
    time_point due_;
  };

  /// Sends `xs...` to `dest` as a request; an answer (or an error, at the
  /// latest a `request_timeout` about `timeout` later: the request sweeper
  /// looks every 100 ms) goes to `then`'s handlers. No CAF clock entry: in
  /// CAF 0.17 each request's timeout was a message to the clock's thread
  /// to set and another to cancel, and the clock thread woke for each.
  template <class Handle, class Rep, class Period, class... Ts>
  response_handle request(const Handle& dest,
                          std::chrono::duration<Rep, Period> timeout,
                          Ts&&... xs) {
    auto req = caf::make_message_id(++last_request_id_);
    auto res = req.response_id();
    if (dest)
      caf::actor_cast<caf::abstract_actor*>(dest)->eq_impl(
        req, ctrl(), context_, std::forward<Ts>(xs)...);
    else
      eq_impl(res, ctrl(), context_,
              caf::make_error(caf::sec::invalid_argument));
    auto due
      = std::chrono::steady_clock::now()
        + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
          timeout);
    return {this, res, due};
  }

  /// Asks `whom` for a `down_msg` when it terminates.
  template <class Handle>
  void monitor(const Handle& whom) {
    if (auto ptr = caf::actor_cast<caf::abstract_actor*>(whom))
      ptr->attach(
        caf::default_attachable::make_monitor(ptr->address(), address()));
  }

  void demonitor(const caf::actor_addr& whom);

  /// The sender of the message being handled (null: anonymous).
  const caf::strong_actor_ptr& current_sender() const;

  /// Terminates the actor after the message being handled (now, outside a
  /// run): monitors get a `down_msg`, attached functors run, requests
  /// still queued get an error.
  void quit(caf::error reason = caf::error{});

  /// Messages `wanted` picks that reach this actor once it has quit (queued
  /// behind the one that ended it, or sent after) go to `successor` with
  /// their sender and request id, instead of an error to their sender: the
  /// successor answers them. Set before quit().
  void set_successor(caf::strong_actor_ptr successor,
                     bool (*wanted)(const caf::type_erased_tuple&));

  /// Hands the message being handled to the successor (set_successor, if
  /// it wants it) instead of answering it; call last in the handler (the
  /// message's content moves).
  void forward_current();

  // -- abstract_actor and resumable --------------------------------------------

  void enqueue(caf::mailbox_element_ptr what,
               caf::execution_unit* host) override;

  subtype_t subtype() const override;

  resume_result resume(caf::execution_unit* eu, size_t max_throughput) override;

  void intrusive_ptr_add_ref_impl() override;

  void intrusive_ptr_release_impl() override;

  void on_destroy() override;

protected:
  /// Handles one ordinary message (not a response, not a system message);
  /// returns its result for a request, none when nothing matched.
  virtual caf::optional<caf::message> handle(caf::type_erased_tuple& msg) = 0;

  /// A monitored actor terminated.
  virtual void on_down(caf::down_msg& dm) = 0;

  /// The actor terminated (after its monitors and attached functors were
  /// told): the last call it gets.
  virtual void on_finished() = 0;

  /// Call once the constructor's caller set the actor up: from then on the
  /// scheduler runs it whenever a message arrives (one that arrived during
  /// the setup is handled now, on a worker).
  void start();

  /// The lean actor whose message this thread is handling (set around
  /// every message, its responses and down messages included).
  static inline thread_local lean_actor* current_ = nullptr;

  struct current_guard {
    lean_actor* prev;
    explicit current_guard(lean_actor* self) : prev(current_) {
      current_ = self;
    }
    ~current_guard() { current_ = prev; }
  };

private:
  struct policy {
    using mapped_type = caf::mailbox_element;
    using unique_pointer = caf::mailbox_element_ptr;
  };

  void consume(caf::mailbox_element& x);

  void finish(caf::execution_unit* eu, bool cancel_timeouts);

  /// Gives `x` to the successor if it wants it (set_successor).
  bool hand_on(caf::mailbox_element& x);

  /// Hands `x` on (hand_on) or answers its sender with an error.
  void bounce(caf::mailbox_element_ptr x);

  void schedule(caf::execution_unit* eu);

  /// Handles `x`, or keeps it for later while an answer is awaited.
  void consume_or_stash(caf::mailbox_element_ptr x, caf::execution_unit* eu);

  bool awaiting() const { return awaited_.is_response(); }

  static inline std::atomic<int64_t> live_{0};

  caf::intrusive::lifo_inbox<policy> inbox_;
  /// The awaited answer (`await`; not a response id: none): until it comes, other messages
  /// wait in the stash (oldest first).
  caf::message_id awaited_;
  caf::mailbox_element* stash_head_ = nullptr;
  caf::mailbox_element* stash_tail_ = nullptr;
  caf::execution_unit* context_ = nullptr;
  uint64_t last_request_id_ = 0;
  /// A request waiting for its answer; `due`: when it times out
  /// (time_point::max() once its timeout was sent).
  struct pending_request {
    caf::message_id id;
    caf::behavior bhvr;
    time_point due;
  };
  /// Requests waiting for their answer, oldest first (usually none).
  std::vector<pending_request> pending_;
  /// When the request sweeper is to tell this actor to look at its
  /// timeouts (time_point::max(): it holds no entry for this actor).
  time_point sweep_due_ = time_point::max();

  /// Makes sure the sweeper looks by `due`.
  void arm_sweep(time_point due);
  /// The sweeper looked: the requests due get their request_timeout (as
  /// the answer, in order with other messages), the others a new look.
  void on_sweep();
  /// No request waits any more: the sweeper forgets this actor.
  void disarm_sweep();
  caf::error quit_reason_;
  bool quitting_ = false;
  /// forward_current() was called: the handler's result is not sent.
  bool forwarded_ = false;
  caf::strong_actor_ptr successor_;
  bool (*successor_wants_)(const caf::type_erased_tuple&) = nullptr;
  bool finished_ = false;
};

/// A lean actor with state `State` and the interface of the typed handle
/// `Handle`, whose messages go to one handler table shared by every actor
/// of the kind (built once: handlers must not capture an actor; they call
/// `current<lean_stateful>()`).
template <class State, class Handle>
class lean_stateful : public lean_actor,
                      public caf::statically_typed_actor_base,
                      public caf::non_blocking_actor_base {
public:
  using signatures = typename Handle::signatures;
  using behavior_type = typename Handle::behavior_type;

  lean_stateful(caf::actor_config& cfg, const behavior_type& shared)
    : lean_actor(cfg) {
    auto copy = shared; // unbox() is not const; both share one table
    bhvr_ = copy.unbox();
    new (&state) State();
  }

  ~lean_stateful() override {
    if (!state_gone_)
      state.~State();
  }

  /// Lives from construction until the actor terminates (as in CAF's
  /// stateful_actor): what it holds (handles, often back to this actor)
  /// goes then, not when the last handle does.
  union {
    State state;
  };

  const char* name() const override { return State::name; }

  /// The actor of this kind whose message this thread is handling.
  static lean_stateful* current() {
    assert(lean_actor::current_ != nullptr);
    return static_cast<lean_stateful*>(lean_actor::current_);
  }

  /// Calls `f` (it finds its actor with `current()`) for monitored actors
  /// that terminate.
  void set_down_handler(void (*f)(caf::down_msg&)) { down_ = f; }

  /// Creates an actor of this kind; `init(self)` sets it up (sends and
  /// requests are fine) before the first message is handled.
  template <class Init>
  static Handle spawn(caf::actor_system& sys, const behavior_type& shared,
                      Init init) {
    caf::actor_config cfg;
    auto ptr = caf::make_actor<lean_stateful, caf::strong_actor_ptr>(
      sys.next_actor_id(), sys.node(), &sys, cfg, shared);
    auto self = static_cast<lean_stateful*>(
      caf::actor_cast<caf::abstract_actor*>(ptr));
    {
      current_guard g{self};
      init(self);
    }
    self->start();
    return caf::actor_cast<Handle>(std::move(ptr));
  }

protected:
  caf::optional<caf::message> handle(caf::type_erased_tuple& msg) override {
    return bhvr_(msg);
  }

  void on_down(caf::down_msg& dm) override {
    if (down_)
      down_(dm);
  }

  void on_finished() override {
    state.~State();
    state_gone_ = true;
  }

private:
  caf::behavior bhvr_;
  void (*down_)(caf::down_msg&) = nullptr;
  bool state_gone_ = false;
};

/// The actor of kind `Self` (a lean_stateful) whose message this thread is
/// handling: what a shared handler calls `self`.
template <class Self>
Self* current() {
  return Self::current();
}

} // namespace presence
