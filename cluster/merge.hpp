#pragma once

// The pure half of the router's and the replicator's cluster-wide answers:
// how replies from several nodes become one answer, and how a batch request
// is split by owner and put back together. No actors here: the handlers in
// router.cpp and replicator.cpp call these, and tests/cluster/merge_test.cpp
// tests them without an actor system.

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/messages.hpp"

namespace presence::cluster {

// -- merging replies ----------------------------------------------------------

/// One online page from the pages of every member, each asked for the same
/// cursor and limit (router, list handler): totals summed, users merged in
/// id order (kept as they came: a user on two members is listed twice),
/// truncated to `limit`; `next_cursor` is the last user's id when a member
/// had more or the merge was truncated.
online_page merge_pages(std::vector<online_page> pages, uint32_t limit);

/// One record of `user` from its replicas' records (replicator, reads):
/// known if any knows it, the latest last_seen and version, and the open
/// session with the latest activity (the first on a tie). No records: an
/// unknown user.
user_record merge_records(const std::string& user,
                          const std::vector<user_record>& records);

/// Whether a replica that answered `r` misses what a read repair with the
/// merged record `m` would write (a store's merge raises last_seen and
/// version only, and only of a known user): what the replicator repairs.
bool behind_merged(const user_record& r, const user_record& m);

/// Records of `users`, in that order, from the batch replies of several
/// stores (replicator, batch load): each user's records from every reply,
/// merged as by merge_records. A store answers a record for every id it was
/// asked; `unanswered` (if given) counts the users no reply holds (every
/// replica of theirs failed: their record is not known, not "never seen").
std::vector<user_record>
merge_batch_records(const std::vector<std::string>& users,
                    std::vector<std::vector<user_record>> replies,
                    size_t* unanswered = nullptr);

/// A user's history from its replicas' histories (replicator): one entry
/// per start (the longest end wins), newest first, at most `limit`.
std::vector<session_record>
merge_history(const std::vector<std::vector<session_record>>& histories,
              uint32_t limit);

/// The first known profile of `profiles` (replicas, owner first), or an
/// unknown one (replicator, profile reads).
profile first_known(std::vector<profile> profiles);

/// The offline queues of one user from several replicas as one: each
/// message once (by id), in the first queue's order (the owner's), then
/// what only the others hold.
std::vector<chat_message>
merge_queues(std::vector<std::vector<chat_message>> queues);

// -- batches by owner ---------------------------------------------------------

/// The part of a batch request that goes to one key (an owner's registry, a
/// store), with the places its ids had in the request.
template <class Key>
struct id_batch {
  Key key;
  std::vector<std::string> ids;
  /// ids[k] was the request's ids[slots[k]].
  std::vector<size_t> slots;
};

/// Splits `ids` into one batch per key, in the order the keys first appear;
/// `keys_for(id)` returns every key that gets `id` (a range): several for
/// the replicator (every replica), one for the router (the owner, see
/// group_by). `Key` needs operator<.
template <class Key, class KeysFor>
std::vector<id_batch<Key>> group_by_each(const std::vector<std::string>& ids,
                                         KeysFor keys_for) {
  std::vector<id_batch<Key>> out;
  std::map<Key, size_t> index;
  for (size_t i = 0; i < ids.size(); ++i)
    for (auto&& key : keys_for(ids[i])) {
      auto j = index.find(key);
      if (j == index.end()) {
        j = index.emplace(key, out.size()).first;
        out.push_back(id_batch<Key>{key, {}, {}});
      }
      auto& b = out[j->second];
      b.ids.push_back(ids[i]);
      b.slots.push_back(i);
    }
  return out;
}

/// group_by_each with one key per id: `key_for(id)` returns it (router,
/// batch get by owner; replicator, batch profiles from owners).
template <class Key, class KeyFor>
std::vector<id_batch<Key>> group_by(const std::vector<std::string>& ids,
                                    KeyFor key_for) {
  return group_by_each<Key>(ids, [&](const std::string& id) {
    return std::vector<Key>{key_for(id)};
  });
}

/// The keys of `batches`, in order: the handles to ask.
template <class Key>
std::vector<Key> keys_of(const std::vector<id_batch<Key>>& batches) {
  std::vector<Key> out;
  out.reserve(batches.size());
  for (auto& b : batches)
    out.push_back(b.key);
  return out;
}

/// The replies to `batches` put back in the order of the request of `n`
/// ids: replies[b][k] goes to slot batches[b].slots[k]. Slots of a batch
/// without a reply (it failed), or past the end of a short one, keep T{}.
template <class T, class Key>
std::vector<T> ungroup(const std::vector<id_batch<Key>>& batches,
                       std::vector<std::optional<std::vector<T>>>& replies,
                       size_t n) {
  std::vector<T> out(n);
  for (size_t b = 0; b < batches.size() && b < replies.size(); ++b) {
    if (!replies[b])
      continue;
    auto& xs = *replies[b];
    auto& slots = batches[b].slots;
    for (size_t k = 0; k < xs.size() && k < slots.size(); ++k)
      out[slots[k]] = std::move(xs[k]);
  }
  return out;
}

} // namespace presence::cluster
