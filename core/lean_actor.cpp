#include "core/lean_actor.hpp"

#include <algorithm>

#include <caf/detail/sync_request_bouncer.hpp>
#include <caf/exit_reason.hpp>
#include <caf/scheduler/abstract_coordinator.hpp>
#include <caf/sec.hpp>

namespace presence {

namespace {

/// The message this thread is handling (lean actors only).
thread_local caf::mailbox_element* current_element = nullptr;

const caf::strong_actor_ptr no_sender;

caf::mailbox_element*
promote(caf::intrusive::singly_linked<caf::mailbox_element>* p) {
  return static_cast<caf::mailbox_element*>(p);
}

} // namespace

lean_actor::lean_actor(caf::actor_config& cfg) : caf::monitorable_actor(cfg) {
  live_.fetch_add(1, std::memory_order_relaxed);
  // The inbox starts neither blocked nor scheduled: what arrives while the
  // spawner sets the actor up waits for start().
}

lean_actor::~lean_actor() {
  live_.fetch_sub(1, std::memory_order_relaxed);
}

void lean_actor::demonitor(const caf::actor_addr& whom) {
  auto ptr = caf::actor_cast<caf::strong_actor_ptr>(whom);
  if (ptr) {
    caf::default_attachable::observe_token tk{address(),
                                              caf::default_attachable::monitor};
    ptr->get()->detach(tk);
  }
}

const caf::strong_actor_ptr& lean_actor::current_sender() const {
  return current_element != nullptr ? current_element->sender : no_sender;
}

void lean_actor::quit(caf::error reason) {
  if (quitting_)
    return;
  quitting_ = true;
  quit_reason_ = std::move(reason);
}

void lean_actor::set_successor(caf::strong_actor_ptr successor,
                               bool (*wanted)(const caf::type_erased_tuple&)) {
  successor_ = std::move(successor);
  successor_wants_ = wanted;
}

void lean_actor::forward_current() {
  if (current_element != nullptr && hand_on(*current_element))
    forwarded_ = true;
}

bool lean_actor::hand_on(caf::mailbox_element& x) {
  if (!successor_ || successor_wants_ == nullptr
      || !successor_wants_(x.content()))
    return false;
  successor_->enqueue(x.sender, x.mid, x.move_content_to_message(), context_);
  return true;
}

void lean_actor::bounce(caf::mailbox_element_ptr x) {
  if (!hand_on(*x))
    caf::detail::sync_request_bouncer{caf::error{}}(*x);
}

void lean_actor::start() {
  if (quitting_) {
    finish(nullptr, true);
    return;
  }
  if (!inbox_.try_block())
    schedule(nullptr);
}

void lean_actor::schedule(caf::execution_unit* eu) {
  // The run holds a reference; the worker drops it when resume() returns
  // done or awaiting_message.
  intrusive_ptr_add_ref(ctrl());
  if (eu != nullptr)
    eu->exec_later(this);
  else
    home_system().scheduler().enqueue(this);
}

void lean_actor::enqueue(caf::mailbox_element_ptr what,
                         caf::execution_unit* eu) {
  if (inbox_.closed() && successor_wants_ != nullptr) {
    bounce(std::move(what)); // terminated with a successor (set before)
    return;
  }
  auto mid = what->mid;
  auto sender = what->sender;
  switch (inbox_.push_front(what.release())) {
    case caf::intrusive::inbox_result::unblocked_reader:
      schedule(eu);
      break;
    case caf::intrusive::inbox_result::queue_closed:
      // Terminated: a request gets an error instead of waiting for its
      // timeout.
      caf::detail::sync_request_bouncer{caf::error{}}(sender, mid);
      break;
    case caf::intrusive::inbox_result::success:
      break;
  }
}

caf::resumable::subtype_t lean_actor::subtype() const {
  // Not `scheduled_actor`: CAF casts those to caf::scheduled_actor.
  return resumable::unspecified;
}

void lean_actor::intrusive_ptr_add_ref_impl() {
  intrusive_ptr_add_ref(ctrl());
}

void lean_actor::intrusive_ptr_release_impl() {
  intrusive_ptr_release(ctrl());
}

caf::resumable::resume_result lean_actor::resume(caf::execution_unit* eu,
                                                 size_t max_throughput) {
  context_ = eu;
  size_t handled = 0;
  auto result = resumable::resume_later;
  for (;;) {
    if (finished_) {
      result = resumable::done;
      break;
    }
    auto head = inbox_.take_head();
    if (head == nullptr) {
      // Once blocked, the next message schedules another run, maybe on
      // another worker at once: nothing of this run may follow.
      context_ = nullptr;
      if (inbox_.try_block())
        return resumable::awaiting_message;
      context_ = eu;
      continue; // a message arrived in between
    }
    // The inbox is a stack: reverse it to handle the oldest first.
    caf::mailbox_element* fifo = nullptr;
    while (head != nullptr) {
      auto next = promote(head->next);
      head->next = fifo;
      fifo = head;
      head = next;
    }
    while (fifo != nullptr) {
      caf::mailbox_element_ptr x{fifo};
      fifo = promote(x->next);
      x->next = nullptr;
      if (finished_) {
        bounce(std::move(x));
        continue;
      }
      consume_or_stash(std::move(x), eu);
      ++handled;
    }
    if (finished_) {
      result = resumable::done;
      break;
    }
    if (handled >= max_throughput)
      break; // resume_later: the worker keeps the reference
  }
  context_ = nullptr;
  return result;
}

void lean_actor::consume_or_stash(caf::mailbox_element_ptr x,
                                  caf::execution_unit* eu) {
  if (awaiting() && x->mid != awaited_) {
    auto p = x.release();
    if (stash_tail_ != nullptr)
      stash_tail_->next = p;
    else
      stash_head_ = p;
    stash_tail_ = p;
    return;
  }
  bool answered = awaiting();
  if (answered)
    awaited_ = caf::message_id{};
  consume(*x);
  if (quitting_) {
    finish(eu, true);
    return;
  }
  // What waited for the answer comes next, oldest first, until another
  // await begins.
  while (answered && !awaiting() && stash_head_ != nullptr) {
    caf::mailbox_element_ptr y{stash_head_};
    stash_head_ = promote(y->next);
    if (stash_head_ == nullptr)
      stash_tail_ = nullptr;
    y->next = nullptr;
    consume(*y);
    if (quitting_) {
      finish(eu, true);
      return;
    }
  }
}

namespace {

/// The clock's answer to a request that got none in time.
bool is_request_timeout(const caf::type_erased_tuple& content) {
  if (!content.match_elements<caf::error>())
    return false;
  auto& e = content.get_as<caf::error>(0);
  return e.category() == caf::atom("system")
         && e.code() == static_cast<uint8_t>(caf::sec::request_timeout);
}

} // namespace

void lean_actor::consume(caf::mailbox_element& x) {
  current_guard g{this};
  struct element_guard {
    caf::mailbox_element* prev;
    ~element_guard() { current_element = prev; }
  } eg{current_element};
  current_element = &x;
  auto& content = x.content();
  if (x.mid.is_response()) {
    auto i = std::find_if(pending_.begin(), pending_.end(),
                          [&](const auto& p) { return p.first == x.mid; });
    if (i == pending_.end())
      return; // answered already: a late timeout
    // CAF 0.17 leaves a request's timeout in the clock when the answer
    // comes: it fires a request_timeout later all the same (a clock entry
    // holding this actor, a mailbox element, a scheduler wake-up and a run
    // of this actor to drop it). After a storm of joins those late
    // timeouts came in a wave that delayed the heartbeats behind them
    // (docs/benchmarks.md, eighteenth session). The answer cancels it.
    if (!is_request_timeout(content))
      system().clock().cancel_request_timeout(this, x.mid);
    auto bhvr = std::move(i->second);
    pending_.erase(i);
    if (pending_.empty())
      pending_.shrink_to_fit(); // most of the time nothing is in flight
    if (!bhvr(content)) {
      auto msg = caf::make_message(
        caf::make_error(caf::sec::unexpected_response,
                        x.move_content_to_message()));
      bhvr(msg);
    }
    return;
  }
  if (content.type_token() == caf::make_type_token<caf::down_msg>()) {
    on_down(content.get_mutable_as<caf::down_msg>(0));
    return;
  }
  if (content.type_token() == caf::make_type_token<caf::exit_msg>()) {
    // Nobody links to a lean actor: an exit message is a kill.
    auto& em = content.get_mutable_as<caf::exit_msg>(0);
    if (em.reason != caf::exit_reason::normal)
      quit(std::move(em.reason));
    return;
  }
  auto res = handle(content);
  if (forwarded_) {
    forwarded_ = false;
    return; // the successor answers
  }
  if (!x.mid.is_request() || !x.sender)
    return;
  if (res)
    x.sender->enqueue(ctrl(), x.mid.response_id(), std::move(*res), context_);
  else
    x.sender->enqueue(ctrl(), x.mid.response_id(),
                      caf::make_message(
                        caf::make_error(caf::sec::unexpected_message)),
                      context_);
}

void lean_actor::finish(caf::execution_unit* eu, bool cancel_timeouts) {
  if (finished_)
    return;
  finished_ = true;
  // Answered requests cancelled their timeouts (consume): only requests
  // still unanswered have one left in the clock.
  bool timeouts_left = !pending_.empty();
  pending_.clear();
  pending_.shrink_to_fit();
  auto hand_on_or_bounce = [this](caf::mailbox_element* p) {
    bounce(caf::mailbox_element_ptr{p});
  };
  inbox_.close(hand_on_or_bounce);
  while (stash_head_ != nullptr) {
    auto next = promote(stash_head_->next);
    bounce(caf::mailbox_element_ptr{stash_head_});
    stash_head_ = next;
  }
  stash_tail_ = nullptr;
  cleanup(std::move(quit_reason_), eu);
  // Request timeouts hold a reference to the actor until they fire (each
  // cancel is a message to CAF's clock thread: only when one is left).
  if (cancel_timeouts && timeouts_left)
    system().clock().cancel_timeouts(this);
  on_finished();
}

void lean_actor::on_destroy() {
  if (!getf(is_cleaned_up_flag)) {
    // The last handle went without a quit.
    quit_reason_ = caf::make_error(caf::exit_reason::unreachable);
    quitting_ = true;
    finish(nullptr, false); // nothing holds it: no timeout is pending
    monitorable_actor::on_destroy();
  }
}

} // namespace presence
