#include "edge/socketio/sio_dialects.hpp"

#include <unordered_map>

#include "core/clock.hpp"

namespace presence::edge {

const std::vector<const sio_dialect*>& all_dialects() {
  static const std::vector<const sio_dialect*> all{&seed000_dialect(),
                                                   &seed002_dialect(),
                                                   &seed004_dialect()};
  return all;
}

const sio_dialect* dialect_of(dialect d) {
  for (auto* x : all_dialects())
    if (x->id == d)
      return x;
  return nullptr;
}

event_handler find_event(const std::string& nsp, const std::string& name) {
  using table = std::unordered_map<std::string, event_handler>;
  // Built once: per namespace, its dialect's events; then every event of
  // every dialect (the first dialect to name an event wins).
  static const auto tables = [] {
    std::unordered_map<std::string, table> by_nsp;
    table all;
    for (auto* d : all_dialects()) {
      for (auto& e : d->events) {
        all.emplace(e.name, e.handler);
        if (d->nsp[0] != '\0')
          by_nsp[d->nsp].emplace(e.name, e.handler);
      }
    }
    return std::make_pair(std::move(by_nsp), std::move(all));
  }();
  auto n = tables.first.find(nsp);
  if (n != tables.first.end()) {
    auto i = n->second.find(name);
    if (i != n->second.end())
      return i->second;
  }
  auto i = tables.second.find(name);
  return i == tables.second.end() ? nullptr : i->second;
}

void record_activity(sio_ptr self, sio_socket& s) {
  if (!s.link.joined())
    return;
  auto& ctx = *self->state.ctx;
  if (!s.link.activity) {
    self->send(s.link.user, heartbeat_atom::value, s.link.device.device_id,
               ctx.now());
    return;
  }
  ctx.record_activity(s.link.activity, ctx.now());
}

void on_activity(sio_ptr self, sio_socket& s, const json&, int64_t ack_id) {
  record_activity(self, s);
  ack(self, s.nsp, ack_id,
      ack_ok({{"timestamp", iso8601(self->state.ctx->now())}}));
}

} // namespace presence::edge
