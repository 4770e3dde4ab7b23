#include "persistence/retry_queue.hpp"

namespace presence::persistence {

namespace {

template <class... Fs>
struct overload : Fs... {
  using Fs::operator()...;
};

template <class... Fs>
overload(Fs...) -> overload<Fs...>;

/// Opens and drops: writes whose only effect is the user's mark.
bool mark_only(const store_write& w) {
  return std::holds_alternative<open_write>(w)
         || std::holds_alternative<drop_write>(w);
}

/// Writes after which the user's mark is what they say.
bool settles_mark(const store_write& w) {
  return mark_only(w) || std::holds_alternative<close_write>(w);
}

} // namespace

const std::string& user_of(const store_write& w) {
  return std::visit(
    overload{
      [](const open_write& x) -> const std::string& { return x.user; },
      [](const close_write& x) -> const std::string& { return x.user; },
      [](const drop_write& x) -> const std::string& { return x.user; },
      [](const merge_write& x) -> const std::string& {
        return x.record.user_id;
      },
    },
    w);
}

const char* name_of(const store_write& w) {
  return std::visit(overload{
                      [](const open_write&) { return "write open mark"; },
                      [](const close_write&) { return "close session"; },
                      [](const drop_write&) { return "drop open mark"; },
                      [](const merge_write&) { return "merge last_seen"; },
                    },
                    w);
}

caf::error apply(store_db& db, const store_write& w) {
  return std::visit(overload{
                      [&](const open_write& x) {
                        return db.mark_open(x.user, x.mark);
                      },
                      [&](const close_write& x) {
                        return db.close_session(x.user, x.start, x.end,
                                                x.version);
                      },
                      [&](const drop_write& x) { return db.drop_open(x.user); },
                      [&](const merge_write& x) { return db.merge(x.record); },
                    },
                    w);
}

retry_queue::retry_queue(size_t limit) : limit_(limit) {
  // nop
}

bool retry_queue::push(store_write w) {
  auto& user = user_of(w);
  if (settles_mark(w)) {
    auto i = marks_.find(user);
    if (i != marks_.end()) {
      for (auto& pos : i->second)
        writes_.erase(pos);
      marks_.erase(i);
    }
  }
  if (writes_.size() >= limit_)
    return false;
  bool track = mark_only(w);
  auto key = track ? user : std::string{};
  writes_.push_back(std::move(w));
  if (track)
    marks_[key].push_back(std::prev(writes_.end()));
  return true;
}

void retry_queue::pop() {
  auto& w = writes_.front();
  if (mark_only(w)) {
    // Writes leave in order: the oldest of the user's is this one.
    auto i = marks_.find(user_of(w));
    if (i != marks_.end()) {
      auto& v = i->second;
      v.erase(v.begin());
      if (v.empty())
        marks_.erase(i);
    }
  }
  writes_.pop_front();
}

} // namespace presence::persistence
