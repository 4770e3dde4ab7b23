#pragma once

#include <cassert>

#include <caf/invoke_message_result.hpp>
#include <caf/mailbox_element.hpp>
#include <caf/stateful_actor.hpp>

namespace presence {

/// A stateful actor whose message handlers are built once per process and
/// shared by every instance.
///
/// CAF 0.17 builds a behavior (a handler table: one match case and one
/// pointer per handler, plus the captured `self`) for every actor it
/// spawns: ~0.4 KB for a session actor and ~0.85 KB for a user actor, one
/// of each per connected user (valgrind massif, docs/benchmarks.md). The
/// table is reference-counted and only read while a message is handled, so
/// actors of one kind can share one, if the handlers do not capture `self`:
/// they ask `current()` for the actor whose message this thread is
/// handling, which `consume` sets around every message.
///
/// Use it as the self type of a function-based actor:
///
///     using user_self = shared_actor<user_state, user_api::base>;
///     user_api::behavior_type running() {
///       static const user_api::behavior_type shared{
///         [](get_atom) { return current<user_self>()->state.x; }, ...};
///       return shared;
///     }
///     user_api::behavior_type user_impl(user_self* self) { ...; return running(); }
///
/// Handlers installed per actor (`set_down_handler`, `request(...).then`)
/// capture `self` as usual.
template <class State, class Base>
class shared_actor : public caf::stateful_actor<State, Base> {
public:
  using super = caf::stateful_actor<State, Base>;

  template <class... Ts>
  explicit shared_actor(caf::actor_config& cfg, Ts&&... xs)
    : super(cfg, std::forward<Ts>(xs)...) {
    // nop
  }

  /// The actor of this kind whose message this thread is handling.
  static shared_actor* current() {
    assert(current_ != nullptr);
    return current_;
  }

  using super::consume;

  caf::invoke_message_result consume(caf::mailbox_element& x) override {
    struct guard {
      shared_actor* prev;
      ~guard() { current_ = prev; }
    } g{current_};
    current_ = this;
    return super::consume(x);
  }

private:
  static inline thread_local shared_actor* current_ = nullptr;
};

/// The actor of kind `Self` (a shared_actor) whose message this thread is
/// handling: what a shared handler calls `self`.
template <class Self>
Self* current() {
  return Self::current();
}

} // namespace presence
