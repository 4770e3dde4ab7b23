#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include <caf/error.hpp>

#include "core/messages.hpp"
#include "edge/common/edge_context.hpp"

namespace presence::edge {

/// A page of online users with their profiles, for the seeds' lists.
/// `profiles[i]` belongs to `page.users[i]` (an empty profile when none is
/// stored).
struct online_users {
  online_page page;
  std::vector<profile> profiles;
};

/// Fetches a page of the online users `who` may see (cluster-wide, through the node's
/// presence service) and then their profiles (through the node's store),
/// from inside the actor `self`; calls exactly one of `then` and `fail`,
/// in `self`'s context. REST calls it from a one-shot actor, Socket.IO
/// sessions from themselves.
template <class Self>
void fetch_online_users(Self* self, const edge_context& ctx, std::string cursor,
                        uint32_t limit, viewer who,
                        std::function<void(online_users&)> then,
                        std::function<void(const caf::error&)> fail) {
  auto timeout = ctx.cfg.actors.request_timeout;
  auto store = ctx.store;
  self
    ->request(ctx.api, timeout, list_atom::value, std::move(cursor), limit,
              std::move(who))
    .then(
      [=](online_page& page) {
        std::vector<std::string> ids;
        ids.reserve(page.users.size());
        for (auto& u : page.users)
          ids.push_back(u.user_id);
        auto result = std::make_shared<online_users>();
        result->page = std::move(page);
        self
          ->request(store, timeout, get_atom::value, profile_atom::value,
                    std::move(ids))
          .then(
            [=](std::vector<profile>& ps) {
              ps.resize(result->page.users.size());
              result->profiles = std::move(ps);
              then(*result);
            },
            [=](caf::error& err) { fail(err); });
      },
      [=](caf::error& err) { fail(err); });
}

} // namespace presence::edge
