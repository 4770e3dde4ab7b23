#include "core/lean_actor.hpp"

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <unordered_map>

#include <caf/detail/set_thread_name.hpp>
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

using sweep_atom = caf::atom_constant<caf::atom("leansweep")>;

/// The request timeouts of every lean actor in the process, off CAF's
/// clock. An actor with requests in flight has one entry (when its
/// earliest may time out, and a reference to it, as CAF's clock held);
/// every `step` the sweeper's thread tells each actor whose time came to
/// look (sweep_atom), and forgets it (the actor arms again for what is
/// left). In CAF 0.17 every request was a message to the clock's thread to
/// set its timeout and, once answered, another to cancel it, and the
/// clock's thread woke for each: ~5 of them per join and leave, a tenth
/// of the server's CPU under churn (docs/benchmarks.md, eighteenth
/// session). Here a request costs a lock, and the thread wakes every
/// `step` while requests are in flight and for a second after.
class request_sweeper {
public:
  using time_point = std::chrono::steady_clock::time_point;

  static constexpr std::chrono::milliseconds step{100};

  /// Steps without requests in flight before the thread sleeps for good.
  static constexpr size_t steps_before_idle = 10;

  static request_sweeper& instance() {
    // Never destroyed: actors of any actor system may use it until exit.
    static auto* s = new request_sweeper;
    return *s;
  }

  void arm(caf::abstract_actor* who, time_point due) {
    std::lock_guard<std::mutex> guard{mu_};
    auto& e = due_[who];
    if (!e.who) {
      e.who = caf::actor_cast<caf::strong_actor_ptr>(who->ctrl());
      e.due = due;
    } else {
      e.due = std::min(e.due, due);
    }
    if (!running_) {
      running_ = true;
      std::thread{[this] {
        // Else named after whichever thread first made a request.
        caf::detail::set_thread_name("presenced.sweep");
        run();
      }}.detach();
    } else if (idle_) {
      idle_ = false;
      cv_.notify_one();
    }
  }

  void disarm(caf::abstract_actor* who) {
    caf::strong_actor_ptr last; // released outside the lock
    std::lock_guard<std::mutex> guard{mu_};
    auto i = due_.find(who);
    if (i == due_.end())
      return;
    last = std::move(i->second.who);
    due_.erase(i);
  }

private:
  struct entry {
    caf::strong_actor_ptr who;
    time_point due;
  };

  void run() {
    std::vector<caf::strong_actor_ptr> due;
    std::unique_lock<std::mutex> lock{mu_};
    size_t quiet = 0; // steps in a row without requests in flight
    for (;;) {
      if (due_.empty() && quiet >= steps_before_idle) {
        // Asleep until the next arm(), which then wakes the thread: while
        // requests come and go, the thread keeps stepping and no arm()
        // has to wake it.
        idle_ = true;
        cv_.wait(lock, [this] { return !idle_; });
        quiet = 0;
        continue;
      }
      cv_.wait_for(lock, step);
      quiet = due_.empty() ? quiet + 1 : 0;
      auto now = std::chrono::steady_clock::now();
      for (auto i = due_.begin(); i != due_.end();) {
        if (i->second.due <= now) {
          due.push_back(std::move(i->second.who));
          i = due_.erase(i);
        } else {
          ++i;
        }
      }
      if (due.empty())
        continue;
      lock.unlock();
      for (auto& who : due)
        who->enqueue(nullptr, caf::make_message_id(),
                     caf::make_message(sweep_atom::value), nullptr);
      due.clear(); // the references go outside the lock
      lock.lock();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::unordered_map<caf::abstract_actor*, entry> due_;
  bool running_ = false;
  /// The thread sleeps until an arm() wakes it.
  bool idle_ = false;
};

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
  // The sweeper's look comes before an awaited answer too: it may be what
  // ends the wait.
  if (x->mid.is_async() && x->content().match_elements<sweep_atom>()) {
    on_sweep();
    return;
  }
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

void lean_actor::arm_sweep(time_point due) {
  if (due >= sweep_due_)
    return; // the sweeper looks earlier already
  sweep_due_ = due;
  request_sweeper::instance().arm(this, due);
}

void lean_actor::disarm_sweep() {
  if (sweep_due_ == time_point::max())
    return;
  sweep_due_ = time_point::max();
  request_sweeper::instance().disarm(this);
}

void lean_actor::on_sweep() {
  // The sweeper dropped its entry when it sent this.
  sweep_due_ = time_point::max();
  auto now = std::chrono::steady_clock::now();
  auto next = time_point::max();
  for (auto& p : pending_) {
    if (p.due == time_point::max())
      continue; // its timeout is on its way already
    if (p.due <= now) {
      // As CAF's clock did: the error comes as the answer, after what is
      // already in the mailbox.
      p.due = time_point::max();
      eq_impl(p.id, nullptr, context_,
              caf::make_error(caf::sec::request_timeout));
    } else {
      next = std::min(next, p.due);
    }
  }
  if (next != time_point::max())
    arm_sweep(next);
}

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
                          [&](const auto& p) { return p.id == x.mid; });
    if (i == pending_.end())
      return; // answered already: a late timeout, or a late answer
    auto bhvr = std::move(i->bhvr);
    pending_.erase(i);
    if (pending_.empty()) {
      pending_.shrink_to_fit(); // most of the time nothing is in flight
      disarm_sweep();
    }
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
  // The sweeper holds a reference to the actor while it has an entry.
  if (cancel_timeouts)
    disarm_sweep();
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
