#pragma once

#include <cstddef>
#include <memory>
#include <vector>

namespace presence {

/// Something another thread runs for a hand-off (a socket that has frames
/// waiting: its strand drains them).
class handoff_item {
public:
  virtual ~handoff_item();
  /// Runs on the thread the item's target posted it to; `self` is this
  /// item (the pass's reference, for the item to keep or drop).
  virtual void run(std::shared_ptr<handoff_item> self) = 0;
};

/// One pass of hand-offs on this thread (RAII; the fan-out opens one around
/// a delivery to its direct listeners). While a pass is open, a receiver
/// that would post one task per hand-off to another thread (a socket's
/// strand on the I/O threads) adds its item here instead; the items of one
/// target go as one post per `chunk` of them (when a chunk fills, so the
/// other thread starts early, and when the pass ends). A send to 10,000
/// sockets: 79 posts instead of 10,000. Passes nest (the inner one is the
/// current one until it ends). Not copyable; used by one thread.
class handoff_pass {
public:
  /// Posts `items` to `target` as one task that runs each in order.
  using post_fn = void (*)(void* target,
                           std::vector<std::shared_ptr<handoff_item>> items);

  static constexpr std::size_t chunk = 128;

  handoff_pass();
  ~handoff_pass();
  handoff_pass(const handoff_pass&) = delete;
  handoff_pass& operator=(const handoff_pass&) = delete;

  /// The pass open on this thread (null: none; post as usual).
  static handoff_pass* current();

  /// Adds `item` for `target`, posted with `post`.
  void add(void* target, post_fn post, std::shared_ptr<handoff_item> item);

  /// Posts what is gathered (the destructor does).
  void flush();

private:
  struct group {
    void* target;
    post_fn post;
    std::vector<std::shared_ptr<handoff_item>> items;
  };
  std::vector<group> groups_;
  handoff_pass* outer_;
};

} // namespace presence
