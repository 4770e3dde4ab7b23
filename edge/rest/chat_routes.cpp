// Seed 001's private-message routes (docs/api.md; the rules in
// edge/common/chat.hpp):
//   POST /api/privatechat/conversations {participants}
//   POST /api/privatechat/message {conversationId, content, tempId}
//   GET  /api/privatechat/messages/:conversationId?before=&limit=
// Errors: {success:false, error: code, code, message} with 400, 401, 403,
// 404 or 503.

#include <caf/event_based_actor.hpp>

#include "edge/common/chat.hpp"
#include "edge/common/json_input.hpp"
#include "edge/rest/rest_bodies.hpp"
#include "edge/rest/routes.hpp"

namespace presence::edge::rest {

namespace {

void chat_fail(const call_ptr& c, const client_error& e) {
  c->reply(e.http_status, {{"success", false},
                           {"error", e.code},
                           {"code", e.code},
                           {"message", e.message}});
}

/// Runs `f(self)` in a one-shot actor (the chat steps are requests).
template <class F>
void in_actor(const call_ptr& c, F f) {
  c->ctx->sys.spawn([f](caf::event_based_actor* self) mutable { f(self); });
}

void create_conversation(const call_ptr& c) {
  json body;
  if (!c->json_body(body))
    return;
  std::vector<std::string> ids;
  body_error err;
  if (!read_participants_body(body, chat::max_participants * 2, ids, err)) {
    chat_fail(c, chat::failure(400, err.code, err.message));
    return;
  }
  // JWT mode: only for yourself. Dev mode: anyone may create.
  std::string me;
  bool jwt = c->ctx->cfg.edge.jwt_mode();
  if (jwt && !c->requester(me, true))
    return;
  in_actor(c, [c, me, ids](caf::event_based_actor* self) {
    chat::open(
      self, c->ctx, me, ids,
      [c](const conversation& conv) {
        c->reply(201,
                 {{"success", true}, {"conversation", chat::to_json(conv)}});
      },
      [c](const client_error& e) { chat_fail(c, e); });
  });
}

void post_message(const call_ptr& c) {
  json body;
  if (!c->json_body(body))
    return;
  message_body m;
  body_error err;
  if (!read_message_body(body, m, err)) {
    chat_fail(c, chat::failure(400, err.code, err.message));
    return;
  }
  chat::send_request req;
  if (!c->requester(req.sender, true, m.sender, "senderId"))
    return;
  req.conversation_id = std::move(m.conversation_id);
  req.content = std::move(m.content);
  req.temp_id = std::move(m.temp_id);
  in_actor(c, [c, req](caf::event_based_actor* self) {
    chat::send(
      self, c->ctx, req,
      [c](const chat::sent& r) {
        c->reply(r.message.duplicate ? 200 : 201,
                 {{"success", true},
                  {"message", chat::to_json(r.message)},
                  {"delivered", r.delivered}});
      },
      [c](const client_error& e) { chat_fail(c, e); });
  });
}

void get_messages(const call_ptr& c) {
  std::string me;
  if (!c->requester(me, true))
    return;
  auto conv = c->params[0];
  uint32_t limit = 0;
  if (!c->limit(chat::default_page, chat::max_page, limit))
    return;
  uint64_t before = 0;
  auto b = query_param(c->target, "before");
  if (!b.empty()) {
    before = chat::seq_of(conv, b);
    if (before == 0) {
      chat_fail(c, chat::failure(400, "bad_request",
                                 "before must be a message id of this "
                                 "conversation"));
      return;
    }
  }
  in_actor(c, [c, me, conv, before, limit](caf::event_based_actor* self) {
    chat::history(
      self, c->ctx, me, conv, before, limit,
      [c](const message_page& p) {
        auto xs = json::array();
        for (auto& m : p.messages)
          xs.push_back(chat::to_json(m));
        c->reply(200, {{"success", true},
                       {"messages", std::move(xs)},
                       {"hasMore", p.has_more}});
      },
      [c](const client_error& e) { chat_fail(c, e); });
  });
}

} // namespace

void add_chat_routes(route_table& t) {
  t.add("POST", "/api/privatechat/conversations", create_conversation);
  t.add("POST", "/api/privatechat/message", post_message);
  t.add("GET", "/api/privatechat/messages/:conversation", get_messages);
}

} // namespace presence::edge::rest
