#include "cluster/store_gateway.hpp"

#include <caf/actor_system.hpp>
#include <caf/typed_event_based_actor.hpp>

namespace presence::cluster {

namespace {

/// Forwards a request to `store` and delivers the answer as our own.
template <class T, class Self, class... Ts>
caf::result<T> relay(Self* self, const store_api& store, milliseconds timeout,
                     Ts... xs) {
  auto rp = self->template make_response_promise<T>();
  self->request(store, timeout, xs...)
    .then([=](T& x) mutable { rp.deliver(std::move(x)); },
          [=](caf::error& err) mutable { rp.deliver(std::move(err)); });
  return rp;
}

store_api::behavior_type gateway_impl(store_api::pointer self, store_api store,
                                      milliseconds timeout) {
  return {
    [=](load_atom a, const std::string& u) {
      return relay<user_record>(self, store, timeout, a, u);
    },
    [=](load_atom a, const std::vector<std::string>& us) {
      return relay<std::vector<user_record>>(self, store, timeout, a, us);
    },
    [=](load_atom a, join_atom j, const std::vector<std::string>& us) {
      return relay<std::vector<user_record>>(self, store, timeout, a, j, us);
    },
    [=](open_atom a, const std::string& u, millis s, uint64_t v) {
      self->send(store, a, u, s, v);
    },
    [=](open_atom a, const std::vector<session_open>& os) {
      self->send(store, a, os);
    },
    [=](checkpoint_atom a, const std::string& u, millis s, millis l, uint64_t v,
        presence_status st) { self->send(store, a, u, s, l, v, st); },
    [=](checkpoint_atom a, const std::vector<session_checkpoint>& cs) {
      self->send(store, a, cs);
    },
    [=](close_atom a, const std::string& u, millis s, millis e, uint64_t v) {
      self->send(store, a, u, s, e, v);
    },
    [=](last_seen_atom a, const std::string& u, millis w) {
      return relay<user_record>(self, store, timeout, a, u, w);
    },
    [=](get_atom a, profile_atom p, const std::string& u) {
      return relay<profile>(self, store, timeout, a, p, u);
    },
    [=](get_atom a, profile_atom p, const std::vector<std::string>& us) {
      return relay<std::vector<profile>>(self, store, timeout, a, p, us);
    },
    [=](put_atom a, profile_atom p, const std::string& u, const profile& pr,
        uint8_t mask) {
      return relay<profile>(self, store, timeout, a, p, u, pr, mask);
    },
    [=](history_atom a, const std::string& u, uint32_t n) {
      return relay<std::vector<session_record>>(self, store, timeout, a, u, n);
    },
    [=](flush_atom a) { return relay<bool>(self, store, timeout, a); },
    [=](drop_atom a, const std::string& u) { self->send(store, a, u); },
    [=](merge_atom a, const user_record& r) { self->send(store, a, r); },
    [=](orphan_atom a) {
      return relay<std::vector<user_record>>(self, store, timeout, a);
    },
    [=](put_atom a, conversation_atom c, const conversation& x) {
      return relay<conversation>(self, store, timeout, a, c, x);
    },
    [=](get_atom a, conversation_atom c, const std::string& id) {
      return relay<conversation>(self, store, timeout, a, c, id);
    },
    [=](queue_atom q, const std::string& u, const chat_message& x) {
      return relay<uint32_t>(self, store, timeout, q, u, x);
    },
    [=](queue_atom q, const std::string& u, const std::string& d) {
      return relay<std::vector<chat_message>>(self, store, timeout, q, u, d);
    },
    [=](queue_atom q, count_atom c, const std::string& u) {
      return relay<uint32_t>(self, store, timeout, q, c, u);
    },
    [=](repair_atom a, const std::string& after, uint32_t limit) {
      return relay<std::vector<std::string>>(self, store, timeout, a, after,
                                             limit);
    },
    [=](repair_atom a, get_atom g, const std::vector<std::string>& keys) {
      return relay<std::vector<replica_bundle>>(self, store, timeout, a, g,
                                                keys);
    },
    [=](repair_atom a, const replica_bundle& b) {
      return relay<bool>(self, store, timeout, a, b);
    },
    [=](put_atom a, message_atom m, const chat_message& x) {
      return relay<chat_message>(self, store, timeout, a, m, x);
    },
    [=](get_atom a, message_atom m, const std::string& conv, uint64_t before,
        uint32_t limit) {
      return relay<message_page>(self, store, timeout, a, m, conv, before,
                                 limit);
    },
  };
}

} // namespace

store_api spawn_store_gateway(caf::actor_system& sys, store_api store,
                              milliseconds timeout) {
  return sys.spawn(gateway_impl, std::move(store), timeout);
}

} // namespace presence::cluster
