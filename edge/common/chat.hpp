#pragma once

// Private messages (seed 001), the same for every way in: Socket.IO
// (`send_private_message`), REST (`/api/privatechat/...`) and the native
// protocol. The rules live here once: validation, who may read and write a
// conversation, idempotent sends, delivery to every live device of every
// participant. The steps run inside the calling actor (a session, or the
// one-shot actor of a REST call) as a chain of requests; `ok` and `fail`
// run in that actor too.

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <caf/error.hpp>
#include <nlohmann/json.hpp>

#include "core/ids.hpp"
#include "core/messages.hpp"
#include "edge/common/client_error.hpp"
#include "edge/common/edge_context.hpp"

namespace presence::edge::chat {

using json = nlohmann::json;

/// Longest message content, in bytes of UTF-8.
constexpr size_t max_content_bytes = 4000;
/// Longest client temp id.
constexpr size_t max_temp_id_bytes = 128;
/// Most participants of a conversation.
constexpr size_t max_participants = 50;
/// Most messages in one page of history (and the default page).
constexpr uint32_t max_page = 100;
constexpr uint32_t default_page = 50;

/// A send as the client asked it. `device` is the sending device (it does
/// not get its own message back; "" for REST, which has none).
struct send_request {
  std::string sender;
  std::string conversation_id;
  std::string content;
  std::string temp_id;
  std::string device;
};

/// What a send did: the stored message, and whether a recipient had a
/// live device (`delivered`). A retry of a stored message (same temp id)
/// delivers nothing again and says `delivered` as of the retry.
struct sent {
  chat_message message;
  bool delivered = false;
};

/// A client error with its HTTP status (400, 403, 404, 503).
client_error failure(unsigned http, std::string code, std::string message);

/// The fields of a send that can be checked without the store.
std::optional<client_error> validate(const send_request& req);

/// Sorted, without duplicates, every id valid, 2..max_participants.
std::optional<client_error>
normalize_participants(std::vector<std::string>& ids);

/// The id of the direct conversation of two users ("dm_" and 32 hex digits
/// of SHA-256 over the sorted pair): the same pair always finds the same
/// conversation, on any node.
std::string direct_id(const std::string& a, const std::string& b);

/// A fresh group conversation id ("grp_" and 16 random hex digits).
std::string group_id();

/// Seed 001's shapes (ids as strings, times ISO 8601).
json to_json(const chat_message& m);
json to_json(const conversation& c);

/// The seq of a message id "<conversation>:<seq>" of conversation `conv`,
/// or of a bare number; 0 when `id` is neither.
uint64_t seq_of(const std::string& conv, const std::string& id);

/// One more message stored (metrics).
void count_stored(edge_context& ctx);

/// The conversation `conv`, checked: it exists and `user` takes part.
template <class Self, class Next, class Fail>
void with_conversation(Self* self, std::shared_ptr<edge_context> ctx,
                       const std::string& user, const std::string& conv,
                       Next next, Fail fail) {
  if (!valid_id(conv)) {
    fail(failure(400, "bad_request",
                 conv.empty() ? "conversationId is required"
                              : "conversationId is not a valid id"));
    return;
  }
  self
    ->request(ctx->store, ctx->cfg.actors.request_timeout, get_atom::value,
              conversation_atom::value, conv)
    .then(
      [=](conversation& c) mutable {
        if (!c.known) {
          fail(failure(404, "not_found", "no such conversation"));
          return;
        }
        auto& ps = c.participants;
        if (std::find(ps.begin(), ps.end(), user) == ps.end()) {
          fail(failure(403, "forbidden",
                       "you are not a participant of this conversation"));
          return;
        }
        next(c);
      },
      [=](caf::error& err) mutable { fail(to_client_error(err)); });
}

/// Calls `done` once `n` calls of the returned function were made (each
/// passing whether it counts); `done(any)`: whether one of them did.
template <class Done>
auto fan_in(size_t n, Done done) {
  struct state {
    size_t waiting;
    bool any = false;
    Done done;
  };
  auto st = std::make_shared<state>(state{n, false, std::move(done)});
  return [st](bool counts) {
    st->any = st->any || counts;
    if (--st->waiting == 0)
      st->done(st->any);
  };
}

/// The participants of `c` but `sender`.
std::vector<std::string> recipients(const conversation& c,
                                    const std::string& sender);

/// A send to a user whose offline queue is full.
client_error queue_full(const std::string& user, uint32_t n);

/// Stores the message (once per sender and temp id) and hands it to every
/// live device of every participant but the sending device; a recipient
/// with no live device gets it in their offline queue (delivered on their
/// next join). Refused (too_many_requests) before anything is stored when a
/// recipient's queue is full. `ok(sent)` after the store answered and every
/// delivery was handed over or queued.
template <class Self, class Ok, class Fail>
void send(Self* self, std::shared_ptr<edge_context> ctx, send_request req,
          Ok ok, Fail fail) {
  if (auto bad = validate(req)) {
    fail(*bad);
    return;
  }
  auto conv_id = req.conversation_id;
  auto sender = req.sender;
  auto timeout = ctx->cfg.actors.request_timeout;
  // Step 3: hand it to every participant's live devices; queue it for the
  // recipients who have none.
  auto deliver = [=](const conversation& c, chat_message stored) mutable {
    if (!stored.duplicate)
      count_stored(*ctx);
    auto one = fan_in(c.participants.size(), [=](bool delivered) mutable {
      ok(sent{stored, delivered});
    });
    for (auto& p : c.participants) {
      bool recipient = p != stored.sender_id;
      if (stored.duplicate) {
        // A retry delivers nothing again; it still says who is live.
        self->request(ctx->api, timeout, get_atom::value, p)
          .then(
            [=](user_status& s) mutable {
              // As for a first try: someone the recipient hides from hears
              // "not delivered".
              one(recipient && s.online
                  && !hidden_from(viewer{stored.sender_id, false}, s));
            },
            [=](caf::error&) mutable { one(false); });
        continue;
      }
      auto except = recipient ? std::string{} : req.device;
      self->request(ctx->api, timeout, message_atom::value, p, stored, except)
        .then(
          [=](uint32_t reply) mutable {
            // An invisible recipient's devices get it; the sender hears
            // "not delivered", as if they were offline.
            auto n = reply & ~hidden_recipient;
            bool seen = (reply & hidden_recipient) == 0;
            if (n > 0 || !recipient) {
              one(recipient && n > 0 && seen);
              return;
            }
            self->request(ctx->store, timeout, queue_atom::value, p, stored)
              .then([=](uint32_t) mutable { one(false); },
                    [=](caf::error&) mutable { one(false); });
          },
          [=](caf::error&) mutable {
            // The owner did not answer: queue it (a live device that missed
            // it finds it in the history; a later join gets it).
            if (!recipient) {
              one(false);
              return;
            }
            self->request(ctx->store, timeout, queue_atom::value, p, stored)
              .then([=](uint32_t) mutable { one(false); },
                    [=](caf::error&) mutable { one(false); });
          });
    }
  };
  // Step 2: store it (numbered by the conversation's owner).
  auto store = [=](const conversation& c) mutable {
    chat_message m;
    m.conversation_id = req.conversation_id;
    m.sender_id = req.sender;
    m.content = req.content;
    m.temp_id = req.temp_id;
    m.created_at = ctx->now();
    self
      ->request(ctx->store, timeout, put_atom::value, message_atom::value,
                std::move(m))
      .then([=](chat_message& stored) mutable { deliver(c, stored); },
            [=](caf::error& err) mutable { fail(to_client_error(err)); });
  };
  // Step 1: the conversation, the sender's part in it, room in every
  // recipient's queue.
  with_conversation(
    self, ctx, sender, conv_id,
    [=](conversation& c) mutable {
      auto rs = recipients(c, sender);
      if (rs.empty()) {
        store(c);
        return;
      }
      struct check {
        std::string full;
        uint32_t n = 0;
        std::optional<client_error> err;
      };
      auto found = std::make_shared<check>();
      auto limit = ctx->cfg.edge.chat_queue_limit;
      auto one = fan_in(rs.size(), [=](bool) mutable {
        if (found->err)
          fail(*found->err);
        else if (!found->full.empty())
          fail(queue_full(found->full, found->n));
        else
          store(c);
      });
      for (auto& r : rs)
        self
          ->request(ctx->store, timeout, queue_atom::value, count_atom::value,
                    r)
          .then(
            [=](uint32_t n) mutable {
              if (n >= limit && found->full.empty()) {
                found->full = r;
                found->n = n;
              }
              one(false);
            },
            [=](caf::error& err) mutable {
              found->err = to_client_error(err);
              one(false);
            });
    },
    fail);
}

/// Hands what waits in `user`'s offline queue for `device` (a device the
/// client named, "" for its unnamed ones) to `emit(message)`, oldest first;
/// the device does not get them again (every named device gets each
/// queued message once; store_db::take_queue).
template <class Self, class Emit>
void drain_queue(Self* self, std::shared_ptr<edge_context> ctx,
                 const std::string& user, const std::string& device,
                 Emit emit) {
  self
    ->request(ctx->store, ctx->cfg.actors.request_timeout, queue_atom::value,
              user, device)
    .then(
      [=](std::vector<chat_message>& ms) mutable {
        for (auto& m : ms)
          emit(m);
      },
      [=](caf::error&) {
        // Still queued: the next join takes it.
      });
}

/// Creates the conversation of `participants` (or finds the direct one of
/// a pair); `requester` (empty: anyone, dev mode REST) must be among them.
template <class Self, class Ok, class Fail>
void open(Self* self, std::shared_ptr<edge_context> ctx,
          const std::string& requester, std::vector<std::string> participants,
          Ok ok, Fail fail) {
  if (auto bad = normalize_participants(participants)) {
    fail(*bad);
    return;
  }
  if (!requester.empty()
      && std::find(participants.begin(), participants.end(), requester)
           == participants.end()) {
    fail(failure(403, "forbidden",
                 "you may only create conversations you take part in"));
    return;
  }
  conversation c;
  c.known = true;
  c.participants = std::move(participants);
  c.id = c.participants.size() == 2
           ? direct_id(c.participants[0], c.participants[1])
           : group_id();
  c.created_at = ctx->now();
  self
    ->request(ctx->store, ctx->cfg.actors.request_timeout, put_atom::value,
              conversation_atom::value, c)
    .then(
      [=](conversation& stored) mutable {
        if (stored.participants != c.participants) {
          // Another conversation holds the id (practically impossible).
          fail(failure(409, "conflict", "conversation id in use; try again"));
          return;
        }
        ok(stored);
      },
      [=](caf::error& err) mutable { fail(to_client_error(err)); });
}

/// Messages of `conv` for a participant `user`: `limit` before seq
/// `before` (0: the newest), oldest first.
template <class Self, class Ok, class Fail>
void history(Self* self, std::shared_ptr<edge_context> ctx,
             const std::string& user, const std::string& conv, uint64_t before,
             uint32_t limit, Ok ok, Fail fail) {
  with_conversation(
    self, ctx, user, conv,
    [=](conversation&) mutable {
      self
        ->request(ctx->store, ctx->cfg.actors.request_timeout, get_atom::value,
                  message_atom::value, conv, before, limit)
        .then([=](message_page& p) mutable { ok(p); },
              [=](caf::error& err) mutable { fail(to_client_error(err)); });
    },
    fail);
}

} // namespace presence::edge::chat
