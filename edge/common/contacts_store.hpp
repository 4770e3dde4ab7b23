#pragma once

// Storing a user's visibility and contacts from inside an actor (a native
// session, a REST call's one-shot actor): with the profile, on its
// replicas, then the owner node's user actor shows it at once.

#include <algorithm>
#include <string>

#include "core/messages.hpp"
#include "edge/common/contacts.hpp"
#include "edge/common/edge_context.hpp"

namespace presence::edge {

/// Stores `change` for `user` (with the profile, on its replicas) from
/// inside actor `self`, then tells the user's owner, whose user actor shows
/// the new visibility at once; calls `then(stored settings)` or
/// `fail(error)` in `self`'s context.
template <class Self, class Then, class Fail>
void put_contacts(Self* self, const edge_context& ctx, const std::string& user,
                  const contacts_change& change, Then then, Fail fail) {
  profile p;
  p.contacts.since = static_cast<uint64_t>(std::max<millis>(ctx.now(), 0));
  uint8_t mask = 0;
  if (change.has_mode) {
    p.contacts.mode = change.mode;
    mask |= profile_visibility;
  }
  if (change.has_ids) {
    p.contacts.ids = change.ids;
    mask |= profile_contacts;
  }
  auto api = ctx.api;
  self
    ->request(ctx.store, ctx.cfg.actors.request_timeout, put_atom::value,
              profile_atom::value, user, p, mask)
    .then(
      [=](profile& stored) mutable {
        self->send(api, contacts_atom::value, user, stored.contacts);
        then(stored.contacts);
      },
      [=](caf::error& err) mutable { fail(err); });
}

/// Reads the stored settings of `user` from inside actor `self`.
template <class Self, class Then, class Fail>
void get_contacts(Self* self, const edge_context& ctx, const std::string& user,
                  Then then, Fail fail) {
  self
    ->request(ctx.store, ctx.cfg.actors.request_timeout, get_atom::value,
              profile_atom::value, user)
    .then([=](profile& stored) mutable { then(stored.contacts); },
          [=](caf::error& err) mutable { fail(err); });
}

} // namespace presence::edge
