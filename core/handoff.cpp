#include "core/handoff.hpp"

#include <utility>

namespace presence {

namespace {

thread_local handoff_pass* current_pass = nullptr;

} // namespace

handoff_item::~handoff_item() {
  // nop
}

handoff_pass::handoff_pass() : outer_(current_pass) {
  current_pass = this;
}

handoff_pass::~handoff_pass() {
  current_pass = outer_;
  flush();
}

handoff_pass* handoff_pass::current() {
  return current_pass;
}

void handoff_pass::add(void* target, post_fn post,
                       std::shared_ptr<handoff_item> item) {
  group* g = nullptr;
  for (auto& x : groups_)
    if (x.target == target && x.post == post)
      g = &x;
  if (g == nullptr) {
    groups_.push_back(group{target, post, {}});
    g = &groups_.back();
    g->items.reserve(chunk);
  }
  g->items.push_back(std::move(item));
  if (g->items.size() >= chunk) {
    std::vector<std::shared_ptr<handoff_item>> full;
    full.reserve(chunk);
    full.swap(g->items);
    g->post(g->target, std::move(full));
  }
}

void handoff_pass::flush() {
  for (auto& g : groups_)
    if (!g.items.empty())
      g.post(g.target, std::exchange(g.items, {}));
}

} // namespace presence
