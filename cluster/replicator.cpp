#include "cluster/replicator.hpp"

#include <algorithm>
#include <functional>
#include <map>
#include <tuple>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/detail/type_traits.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <spdlog/spdlog.h>

#include "cluster/cluster_log.hpp"
#include "cluster/membership.hpp"
#include "cluster/merge.hpp"
#include "cluster/scatter_gather.hpp"
#include "core/hash_ring.hpp"

namespace presence::cluster {

namespace {

/// The replicator's full interface: the views it follows, and the end of
/// a mailbox pass with loads waiting (a message to itself), are private.
using replicator_api
  = store_api::extend<caf::reacts_to<view_atom, cluster_view>,
                      caf::reacts_to<load_atom, flush_atom>>;

/// A single load waiting for the end of the mailbox pass, and what to do
/// with its outcome.
struct waiting_load {
  std::string user;
  std::function<void(caf::expected<user_record>)> done;
};

/// The writes of a mailbox pass waiting for one store: a run of open marks
/// or a run of checkpoints (one of the two is empty; a write of the other
/// kind sends the run first, so the store gets them in the order they came).
struct pass_writes {
  std::vector<session_open> opens;
  std::vector<session_checkpoint> checkpoints;
};

struct replicator_state {
  cluster_config cfg;
  /// For each request to a store (actors.request_timeout, set at spawn).
  milliseconds timeout{};
  /// This node's store (the detached store actor itself).
  store_api local;
  std::string self;
  hash_ring ring;
  /// Stores of the alive members (store gateways), by node id; this node's
  /// is `local`.
  std::map<std::string, store_api> stores;
  /// Copies per user under the current view.
  uint32_t rf = 1;
  /// Its scatter-gathers still waiting: a view that drops a node fails
  /// their requests to it at once.
  gather_watch watch;
  /// The single loads (user actors starting) of this mailbox pass: sent at
  /// its end, one batch per store when there are several (flush_loads).
  std::vector<waiting_load> loads;
  /// The open marks and checkpoints of this mailbox pass, per store, in
  /// order: sent at its end, or before anything else goes to a store
  /// (flush_opens).
  std::map<store_api, pass_writes> opens;
  /// The message that ends this pass is on its way.
  bool pass_end_sent = false;
  static inline const char* name = "presence.replicator";
};

using replicator_ptr = replicator_api::stateful_pointer<replicator_state>;

/// The stores holding `user`: owner first (`local` alone outside a
/// cluster).
std::vector<store_api> replicas(replicator_ptr self, const std::string& user) {
  auto& st = self->state;
  std::vector<store_api> out;
  for (auto& node : st.ring.replicas(user, st.rf)) {
    auto i = st.stores.find(node);
    if (i != st.stores.end())
      out.push_back(i->second);
  }
  if (out.empty())
    out.push_back(st.local);
  return out;
}

/// The answer when no replica answered: the user's data is out of reach,
/// whatever was asked.
caf::error no_replica_answered() {
  return persistence::make_error(persistence::errc::unavailable);
}

/// Asks every replica in `to` (the stores of one key) `xs...` and answers
/// with `pick(answers, gathered)`, the answers in the order asked (owner
/// first), or with unavailable when none answered; a replica that failed
/// is left out. A single replica is asked straight (delegated). Under the
/// replicator's gather_watch, like every read here: a view that drops a
/// replica's node ends the wait for it.
template <class T, class Pick, class... Ts>
caf::result<T> ask_replicas(replicator_ptr self,
                            const std::vector<store_api>& to, Pick pick,
                            Ts... xs) {
  if (to.size() == 1)
    return self->delegate(to.front(), std::move(xs)...);
  auto rp = self->make_response_promise<T>();
  scatter_gather<T>(
    self, to, self->state.timeout, gather_policy::use_answered,
    same_message(std::move(xs)...),
    [=](gathered<T>& g) mutable {
      auto rs = answered(g);
      if (rs.empty())
        rp.deliver(no_replica_answered());
      else
        rp.deliver(pick(rs, g));
    },
    &self->state.watch);
  return rp;
}

template <class T>
void deliver(caf::typed_response_promise<T>& rp, caf::expected<T> x) {
  if (x)
    rp.deliver(std::move(*x));
  else
    rp.deliver(std::move(x.error()));
}

/// One user's load as its replicas `to` answered it (`g`, in the order of
/// `to`): their merged record, or unavailable when none answered. Read
/// repair: a replica that failed, or whose answer is behind the merged
/// record, catches up; one that is not behind gets no message (in a join
/// storm that was a remote message and a store read per join for nothing).
caf::expected<user_record> finish_load(replicator_ptr self,
                                       const std::string& user,
                                       const std::vector<store_api>& to,
                                       gathered<user_record>& g) {
  std::vector<user_record> rs;
  for (size_t i = 0; i < to.size() && i < g.replies.size(); ++i)
    if (g.replies[i])
      rs.push_back(*g.replies[i]);
  if (rs.empty())
    return no_replica_answered();
  auto m = merge_records(user, rs);
  for (size_t i = 0; i < to.size(); ++i) {
    bool answered = i < g.replies.size() && g.replies[i].has_value();
    if (answered ? behind_merged(*g.replies[i], m) : m.known)
      self->send(to[i], merge_atom::value, m);
  }
  return m;
}

/// Asks for the message that ends this mailbox pass (a message to itself
/// comes after everything already in the mailbox), once.
void end_pass_later(replicator_ptr self) {
  auto& st = self->state;
  if (st.pass_end_sent)
    return;
  st.pass_end_sent = true;
  self->send(self, load_atom::value, flush_atom::value);
}

/// The most loads one batch request carries to a store: a storm's mailbox
/// pass can hold thousands, and each batch is answered (or times out) as
/// a whole. More go as further batches at once; a store reads them in
/// turn, so the first are answered early and only the tail of a long pass
/// can still time out (before, one timeout covered every load of it).
constexpr size_t max_load_batch = 256;

void flush_loads(replicator_ptr self);

/// Queues a load of `user` for the end of this mailbox pass, or sends the
/// pass's loads now when they reach max_load_batch.
void wait_for_pass(replicator_ptr self, const std::string& user,
                   std::function<void(caf::expected<user_record>)> done) {
  auto& loads = self->state.loads;
  loads.push_back(waiting_load{user, std::move(done)});
  if (loads.size() >= max_load_batch)
    flush_loads(self);
  else
    end_pass_later(self);
}

/// Sends the open marks and checkpoints waiting in this pass: to each
/// store in the order they came, one alone as it came, several of a kind
/// as one message. Called at the end of the pass and before any other
/// message is handled, so nothing else sent to a store overtakes them (a
/// close of the same user must come after its open and checkpoints).
/// send_run sends one store's run.
void send_run(replicator_ptr self, const store_api& store, pass_writes& w) {
  if (w.opens.size() == 1) {
    auto& o = w.opens.front();
    self->send(store, open_atom::value, o.user_id, o.start, o.version);
  } else if (!w.opens.empty()) {
    self->send(store, open_atom::value, std::move(w.opens));
  }
  if (w.checkpoints.size() == 1) {
    auto& c = w.checkpoints.front();
    self->send(store, checkpoint_atom::value, c.user_id, c.start, c.last_active,
               c.version, c.status);
  } else if (!w.checkpoints.empty()) {
    self->send(store, checkpoint_atom::value, std::move(w.checkpoints));
  }
  w.opens.clear();
  w.checkpoints.clear();
}

void flush_opens(replicator_ptr self) {
  auto& st = self->state;
  if (st.opens.empty())
    return;
  auto opens = std::move(st.opens);
  st.opens.clear();
  for (auto& [store, w] : opens)
    send_run(self, store, w);
}

/// Adds an open mark for `store` to this pass (after the store's run of
/// checkpoints, which goes first).
void pass_open(replicator_ptr self, const store_api& store, session_open o) {
  auto& w = self->state.opens[store];
  if (!w.checkpoints.empty())
    send_run(self, store, w);
  w.opens.push_back(std::move(o));
}

/// Adds a checkpoint for `store` to this pass (after the store's run of
/// open marks, which goes first).
void pass_checkpoint(replicator_ptr self, const store_api& store,
                     session_checkpoint c) {
  auto& w = self->state.opens[store];
  if (!w.opens.empty())
    send_run(self, store, w);
  w.checkpoints.push_back(std::move(c));
}

/// `f` (a message handler) with the waiting open marks sent first: every
/// handler but the open's own and the end of the pass.
template <class F, class R, class... Ts>
auto after_opens_impl(replicator_ptr self, F f, caf::detail::type_list<Ts...>,
                      R*) {
  return [self, f](Ts... xs) mutable -> R {
    flush_opens(self);
    return f(std::forward<Ts>(xs)...);
  };
}

template <class F>
auto after_opens(replicator_ptr self, F f) {
  using trait = caf::detail::get_callable_trait<F>;
  return after_opens_impl(self, std::move(f), typename trait::arg_types{},
                          static_cast<typename trait::result_type*>(nullptr));
}

/// Sends the loads waiting since the start of this mailbox pass. One goes
/// as it came (a load asked of each replica); several go as one batch per
/// store (`load_atom, join_atom`, the ids it replicates), so a join storm
/// costs a remote request and reply per pass and store rather than per
/// join, and each user's answers are merged as one load's would be.
void flush_loads(replicator_ptr self) {
  auto& st = self->state;
  auto loads = std::move(st.loads);
  st.loads.clear();
  if (loads.empty())
    return;
  if (loads.size() == 1) {
    auto w = std::move(loads.front());
    auto to = replicas(self, w.user);
    scatter_gather<user_record>(
      self, to, st.timeout, gather_policy::use_answered,
      same_message(load_atom::value, w.user),
      [=](gathered<user_record>& g) mutable {
        w.done(finish_load(self, w.user, to, g));
      },
      &st.watch);
    return;
  }
  struct one_user {
    waiting_load w;
    std::vector<store_api> to;
    gathered<user_record> g;
  };
  struct batch_state {
    std::vector<one_user> users;
    std::vector<id_batch<store_api>> batches;
  };
  auto b = std::make_shared<batch_state>();
  std::vector<std::string> ids;
  ids.reserve(loads.size());
  for (auto& w : loads) {
    ids.push_back(w.user);
    auto& u = b->users.emplace_back();
    u.to = replicas(self, w.user);
    u.g.replies.resize(u.to.size());
    u.w = std::move(w);
  }
  b->batches = group_by_each<store_api>(ids, [=](const std::string& u) {
    return replicas(self, u);
  });
  scatter_gather<std::vector<user_record>>(
    self, keys_of(b->batches), st.timeout, gather_policy::use_answered,
    [&](size_t i) {
      return std::make_tuple(load_atom::value, join_atom::value,
                             b->batches[i].ids);
    },
    [=](gathered<std::vector<user_record>>& bg) {
      // Each store's answers into the slot of that store among each
      // user's replicas (owner first, as a single load's); a store that
      // failed, or a record it could not read (an empty id), leaves its
      // slot empty.
      for (size_t i = 0; i < b->batches.size() && i < bg.replies.size(); ++i) {
        if (!bg.replies[i])
          continue;
        auto& xs = *bg.replies[i];
        auto& batch = b->batches[i];
        for (size_t k = 0; k < xs.size() && k < batch.slots.size(); ++k) {
          if (xs[k].user_id.empty())
            continue;
          auto& u = b->users[batch.slots[k]];
          for (size_t r = 0; r < u.to.size(); ++r)
            if (u.to[r] == batch.key) {
              u.g.replies[r] = std::move(xs[k]);
              break;
            }
        }
      }
      for (auto& u : b->users)
        u.w.done(finish_load(self, u.w.user, u.to, u.g));
    },
    &st.watch);
}

/// The largest of the replicas' counts (a replica that missed a message
/// counts fewer).
uint32_t largest(std::vector<uint32_t>& ns, gathered<uint32_t>&) {
  return *std::max_element(ns.begin(), ns.end());
}

/// Sends a write to every replica of `user`. Fire and forget: a replica
/// that misses it (dead, or the message lost with its connection) is
/// brought up to date by the read repair of the next read.
template <class... Ts>
void write_all(replicator_ptr self, const std::string& user, Ts... xs) {
  for (auto& h : replicas(self, user))
    self->send(h, xs...);
}

replicator_api::behavior_type
replicator_impl(replicator_ptr self, cluster_config cfg, milliseconds timeout,
                store_api local, membership_api membership) {
  auto& st = self->state;
  st.cfg = std::move(cfg);
  st.timeout = timeout;
  st.local = std::move(local);
  st.ring = hash_ring{st.cfg.vnodes};
  if (membership)
    caf::anon_send(membership, subscribe_atom::value, view_listener{self});
  return {
    after_opens(self,
                [=](view_atom, const cluster_view& v) {
                  auto& st = self->state;
                  st.self = v.self;
                  st.ring = hash_ring::of(v.node_ids(), st.cfg.vnodes);
                  st.stores.clear();
                  for (auto& m : v.members) {
                    st.stores.emplace(m.node_id,
                                      m.node_id == v.self ? st.local : m.store);
                  }
                  st.rf = effective_replication(st.cfg.replication,
                                                v.members.size());
                  st.watch.keep_only(alive_nodes(v, self->node()));
                }),
    // -- reads: every replica, merged -----------------------------------------
    after_opens(
      self,
      [=](load_atom, const std::string& user) -> caf::result<user_record> {
        // Waits for the end of this mailbox pass (flush_loads): the loads of
        // a storm go as one batch per store. A replica that failed is left
        // out; the read repair brings it up to date if it is only slow.
        auto rp = self->make_response_promise<user_record>();
        wait_for_pass(self, user, [rp](caf::expected<user_record> x) mutable {
          deliver(rp, std::move(x));
        });
        return rp;
      }),
    after_opens(
      self,
      [=](load_atom, join_atom, const std::vector<std::string>& users)
        -> caf::result<std::vector<user_record>> {
        // As many single loads (this is what the replicator asks of stores;
        // one asked of it answers the same way): a user none of whose
        // replicas answered comes back with an empty id.
        auto rp = self->make_response_promise<std::vector<user_record>>();
        struct all {
          std::vector<user_record> out;
          size_t pending;
          caf::typed_response_promise<std::vector<user_record>> rp;
        };
        auto a = std::make_shared<all>(
          all{std::vector<user_record>(users.size()), users.size(), rp});
        if (users.empty())
          rp.deliver(std::vector<user_record>{});
        for (size_t i = 0; i < users.size(); ++i)
          wait_for_pass(self, users[i], [a, i](caf::expected<user_record> x) {
            if (x)
              a->out[i] = std::move(*x);
            if (--a->pending == 0)
              a->rp.deliver(std::move(a->out));
          });
        return rp;
      }),
    [=](load_atom, flush_atom) {
      // The end of a pass: the opens first (they came before the loads
      // that wait with them, or in no order that matters: other users).
      self->state.pass_end_sent = false;
      flush_opens(self);
      flush_loads(self);
    },
    after_opens(
      self,
      [=](load_atom, const std::vector<std::string>& users)
        -> caf::result<std::vector<user_record>> {
        auto& st = self->state;
        if (st.stores.size() <= 1)
          return self->delegate(st.local, load_atom::value, users);
        // One request per store with the ids it replicates.
        auto batches = group_by_each<store_api>(users,
                                                [=](const std::string& u) {
                                                  return replicas(self, u);
                                                });
        auto rp = self->make_response_promise<std::vector<user_record>>();
        scatter_gather<std::vector<user_record>>(
          self, keys_of(batches), st.timeout, gather_policy::use_answered,
          [&](size_t i) {
            return std::make_tuple(load_atom::value, batches[i].ids);
          },
          [=](gathered<std::vector<user_record>>& g) mutable {
            if (g.failed > 0)
              cluster_log().warn("batch load: {} of {} stores failed: {}",
                                 g.failed, g.replies.size(),
                                 self->system().render(g.error));
            // A user whose replicas all failed is not known to be never
            // seen: the batch fails (unavailable, 503) rather than say so.
            size_t unanswered = 0;
            auto merged = merge_batch_records(users, answered(g), &unanswered);
            if (unanswered > 0) {
              rp.deliver(no_replica_answered());
              return;
            }
            rp.deliver(std::move(merged));
          },
          &self->state.watch);
        return rp;
      }),
    after_opens(
      self,
      [=](history_atom, const std::string& user,
          uint32_t limit) -> caf::result<std::vector<session_record>> {
        auto to = replicas(self, user);
        if (to.size() == 1)
          return self->delegate(to.front(), history_atom::value, user, limit);
        auto rp = self->make_response_promise<std::vector<session_record>>();
        scatter_gather<std::vector<session_record>>(
          self, to, self->state.timeout, gather_policy::use_answered,
          same_message(history_atom::value, user, limit),
          [=](gathered<std::vector<session_record>>& g) mutable {
            // A replica that failed is left out: every replica gets every
            // session, so the others' union is the history.
            rp.deliver(merge_history(answered(g), limit));
          },
          &self->state.watch);
        return rp;
      }),
    after_opens(self,
                [=](get_atom, profile_atom,
                    const std::string& user) -> caf::result<profile> {
                  auto to = replicas(self, user);
                  if (to.size() == 1)
                    return self->delegate(to.front(), get_atom::value,
                                          profile_atom::value, user);
                  auto rp = self->make_response_promise<profile>();
                  scatter_gather<profile>(
                    self, to, self->state.timeout, gather_policy::use_answered,
                    same_message(get_atom::value, profile_atom::value, user),
                    [=](gathered<profile>& g) mutable {
                      // A replica that failed is left out: every replica gets every
                      // profile write (see put below).
                      rp.deliver(first_known(answered(g)));
                    },
                    &self->state.watch);
                  return rp;
                }),
    after_opens(
      self,
      [=](get_atom, profile_atom, const std::vector<std::string>& users)
        -> caf::result<std::vector<profile>> {
        auto& st = self->state;
        if (st.stores.size() <= 1)
          return self->delegate(st.local, get_atom::value, profile_atom::value,
                                users);
        // Each id from its owner's store only.
        auto batches = group_by<store_api>(users, [=](const std::string& u) {
          return replicas(self, u).front();
        });
        auto rp = self->make_response_promise<std::vector<profile>>();
        auto n = users.size();
        scatter_gather<std::vector<profile>>(
          self, keys_of(batches), st.timeout, gather_policy::use_answered,
          [&](size_t i) {
            return std::make_tuple(get_atom::value, profile_atom::value,
                                   batches[i].ids);
          },
          [=](gathered<std::vector<profile>>& g) mutable {
            // The ids of an owner that failed come back unknown (no profile);
            // their other replicas are not asked.
            if (g.failed > 0)
              cluster_log().warn("batch profiles: {} of {} owners failed: {}",
                                 g.failed, g.replies.size(),
                                 self->system().render(g.error));
            rp.deliver(ungroup(batches, g.replies, n));
          },
          &self->state.watch);
        return rp;
      }),
    // -- writes: every replica ------------------------------------------------
    [=](open_atom, const std::string& user, millis start, uint64_t version) {
      // Waits for the end of this pass, or for the next other message: a
      // join storm's opens go to each store as one message.
      for (auto& h : replicas(self, user))
        pass_open(self, h, session_open{user, start, version});
      end_pass_later(self);
    },
    [=](open_atom, const std::vector<session_open>& os) {
      for (auto& o : os)
        for (auto& h : replicas(self, o.user_id))
          pass_open(self, h, o);
      end_pass_later(self);
    },
    [=](checkpoint_atom, const std::string& user, millis start,
        millis last_active, uint64_t version, presence_status status) {
      // Waits for the end of this pass like an open: the checkpoints of a
      // flusher's tick (edge/common/activity.hpp) go to each store as one
      // message, and wake its thread once.
      for (auto& h : replicas(self, user))
        pass_checkpoint(self, h,
                        session_checkpoint{user, start, last_active, version,
                                           status});
      end_pass_later(self);
    },
    [=](checkpoint_atom, const std::vector<session_checkpoint>& cps) {
      for (auto& c : cps)
        for (auto& h : replicas(self, c.user_id))
          pass_checkpoint(self, h, c);
      end_pass_later(self);
    },
    after_opens(self,
                [=](close_atom, const std::string& user, millis start,
                    millis end, uint64_t version) {
                  write_all(self, user, close_atom::value, user, start, end,
                            version);
                }),
    after_opens(self,
                [=](drop_atom, const std::string& user) {
                  write_all(self, user, drop_atom::value, user);
                }),
    after_opens(self,
                [=](merge_atom, const user_record& r) {
                  write_all(self, r.user_id, merge_atom::value, r);
                }),
    after_opens(self,
                [=](last_seen_atom, const std::string& user,
                    millis when) -> caf::result<user_record> {
                  // A replica that failed keeps the older last_seen until a read
                  // repairs it (load above).
                  return ask_replicas<user_record>(
                    self, replicas(self, user),
                    [=](std::vector<user_record>& rs, gathered<user_record>&) {
                      return merge_records(user, rs);
                    },
                    last_seen_atom::value, user, when);
                }),
    after_opens(
      self,
      [=](put_atom, profile_atom, const std::string& user, profile& p,
          uint8_t mask) -> caf::result<profile> {
        return ask_replicas<profile>(
          self, replicas(self, user),
          [=](std::vector<profile>& ps, gathered<profile>& g) {
            // A replica that failed keeps its old profile: reads take the
            // first known one, owner first, and no read repairs profiles.
            // Not retried: a late retry could overwrite a newer write.
            if (g.failed > 0)
              cluster_log().warn(
                "profile of {} not written on {} of {} "
                "replicas: {}",
                user, g.failed, g.replies.size(),
                self->system().render(g.error));
            // The owner's answer when it answered.
            return std::move(ps.front());
          },
          put_atom::value, profile_atom::value, user, std::move(p), mask);
      }),
    // -- private messages: keyed by conversation id -----------------------------
    after_opens(self,
                [=](put_atom, conversation_atom,
                    conversation& c) -> caf::result<conversation> {
                  // Every replica that answered holds it; the owner's answer first.
                  auto to = replicas(self, c.id);
                  return ask_replicas<conversation>(
                    self, to,
                    [](std::vector<conversation>& cs, gathered<conversation>&) {
                      return std::move(cs.front());
                    },
                    put_atom::value, conversation_atom::value, std::move(c));
                }),
    after_opens(self,
                [=](get_atom, conversation_atom,
                    const std::string& id) -> caf::result<conversation> {
                  return ask_replicas<conversation>(
                    self, replicas(self, id),
                    [](std::vector<conversation>& cs, gathered<conversation>&) {
                      auto i = std::find_if(cs.begin(), cs.end(),
                                            [](const conversation& c) {
                                              return c.known;
                                            });
                      return i != cs.end() ? std::move(*i)
                                           : std::move(cs.front());
                    },
                    get_atom::value, conversation_atom::value, id);
                }),
    after_opens(
      self,
      [=](put_atom, message_atom,
          chat_message& m) -> caf::result<chat_message> {
        // The conversation's owner numbers the message; the other replicas
        // get the numbered copy. Not retried elsewhere when the owner fails:
        // two stores numbering one conversation would disagree. The client
        // retries with the same temp id (idempotent).
        auto to = replicas(self, m.conversation_id);
        if (to.size() == 1)
          return self->delegate(to.front(), put_atom::value,
                                message_atom::value, std::move(m));
        auto rp = self->make_response_promise<chat_message>();
        self
          ->request(to.front(), self->state.timeout, put_atom::value,
                    message_atom::value, m)
          .then(
            [=](chat_message& stored) mutable {
              if (!stored.duplicate)
                for (size_t i = 1; i < to.size(); ++i)
                  self
                    ->request(to[i], self->state.timeout, put_atom::value,
                              message_atom::value, stored)
                    .then([](chat_message&) {},
                          [=](caf::error& err) {
                            cluster_log().warn(
                              "message {} not copied to a replica: {}",
                              stored.id, self->system().render(err));
                          });
              rp.deliver(std::move(stored));
            },
            [=](caf::error& err) mutable { rp.deliver(std::move(err)); });
        return rp;
      }),
    after_opens(self,
                [=](get_atom, message_atom, const std::string& conv,
                    uint64_t before,
                    uint32_t limit) -> caf::result<message_page> {
                  return ask_replicas<message_page>(
                    self, replicas(self, conv),
                    [](std::vector<message_page>& ps, gathered<message_page>&) {
                      // The most current copy: the one whose newest message is newest.
                      auto newest = [](const message_page& p) -> uint64_t {
                        return p.messages.empty() ? 0 : p.messages.back().seq;
                      };
                      auto best
                        = std::max_element(ps.begin(), ps.end(),
                                           [&](const auto& a, const auto& b) {
                                             return newest(a) < newest(b);
                                           });
                      return std::move(*best);
                    },
                    get_atom::value, message_atom::value, conv, before, limit);
                }),
    // -- a user's offline queue: on every replica of the user ------------------
    after_opens(self,
                [=](queue_atom, const std::string& user,
                    chat_message& m) -> caf::result<uint32_t> {
                  return ask_replicas<uint32_t>(self, replicas(self, user),
                                                largest, queue_atom::value,
                                                user, std::move(m));
                }),
    after_opens(
      self,
      [=](queue_atom, const std::string& user,
          const std::string& device) -> caf::result<std::vector<chat_message>> {
        // The device takes from every replica; what any of them held is
        // delivered once (a replica that missed a message adds nothing).
        using queue = std::vector<chat_message>;
        return ask_replicas<queue>(
          self, replicas(self, user),
          [](std::vector<queue>& qs, gathered<queue>&) {
            return merge_queues(std::move(qs));
          },
          queue_atom::value, user, device);
      }),
    after_opens(self,
                [=](queue_atom, count_atom,
                    const std::string& user) -> caf::result<uint32_t> {
                  return ask_replicas<uint32_t>(self, replicas(self, user),
                                                largest, queue_atom::value,
                                                count_atom::value, user);
                }),
    // -- this node's own store ------------------------------------------------
    after_opens(self,
                [=](flush_atom) -> caf::result<bool> {
                  return self->delegate(self->state.local, flush_atom::value);
                }),
    after_opens(self,
                [=](orphan_atom) -> caf::result<std::vector<user_record>> {
                  return self->delegate(self->state.local, orphan_atom::value);
                }),
    // Replica repair is between stores (cluster/repairer.cpp): these reach
    // this node's own.
    after_opens(self,
                [=](repair_atom, const std::string& after,
                    uint32_t limit) -> caf::result<std::vector<std::string>> {
                  return self->delegate(self->state.local, repair_atom::value,
                                        after, limit);
                }),
    after_opens(self,
                [=](repair_atom, get_atom, const std::vector<std::string>& keys)
                  -> caf::result<std::vector<replica_bundle>> {
                  return self->delegate(self->state.local, repair_atom::value,
                                        get_atom::value, keys);
                }),
    after_opens(self,
                [=](repair_atom, const replica_bundle& b) -> caf::result<bool> {
                  return self->delegate(self->state.local, repair_atom::value,
                                        b);
                }),
  };
}

} // namespace

store_api spawn_replicator(caf::actor_system& sys, const cluster_config& cfg,
                           milliseconds request_timeout, store_api local,
                           membership_api membership) {
  return sys.spawn(replicator_impl, cfg, request_timeout, std::move(local),
                   std::move(membership));
}

} // namespace presence::cluster
