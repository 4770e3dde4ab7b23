#include "cluster/merge.hpp"

#include <algorithm>
#include <set>
#include <tuple>

namespace presence::cluster {

online_page merge_pages(std::vector<online_page> pages, uint32_t limit) {
  // Every member sent its first `limit` after the cursor, so the first
  // `limit` of the union are the cluster's first `limit`.
  online_page out;
  bool more = false;
  for (auto& p : pages) {
    out.total += p.total;
    more = more || !p.next_cursor.empty();
    for (auto& u : p.users)
      out.users.push_back(std::move(u));
  }
  // Stable: the same id from two members stays in the order asked.
  std::stable_sort(out.users.begin(), out.users.end(),
                   [](const presence_delta& a, const presence_delta& b) {
                     return a.user_id < b.user_id;
                   });
  if (out.users.size() > limit) {
    out.users.resize(limit);
    more = true;
  }
  if (more && !out.users.empty())
    out.next_cursor = out.users.back().user_id;
  return out;
}

user_record merge_records(const std::string& user,
                          const std::vector<user_record>& records) {
  user_record m;
  m.user_id = user;
  for (auto& r : records) {
    m.known = m.known || r.known;
    m.last_seen = std::max(m.last_seen, r.last_seen);
    m.version = std::max(m.version, r.version);
    m.queued = std::max(m.queued, r.queued);
    for (size_t i = 0; i < r.queue_devices.size(); ++i) {
      auto seen = i < r.queue_seen.size() ? r.queue_seen[i] : millis{0};
      auto j = std::find(m.queue_devices.begin(), m.queue_devices.end(),
                         r.queue_devices[i]);
      if (j == m.queue_devices.end()) {
        m.queue_devices.push_back(r.queue_devices[i]);
        m.queue_seen.push_back(seen);
      } else {
        auto& s = m.queue_seen[j - m.queue_devices.begin()];
        s = std::max(s, seen);
      }
    }
    // Contacts: the newest write (a replica that missed one has an older
    // stamp); on a tie the first replica, owner first.
    if (r.contacts_stored
        && (!m.contacts_stored || r.contacts.since > m.contacts.since)) {
      m.contacts_stored = true;
      m.contacts = r.contacts;
    }
    if (r.open && (!m.open || r.open_last_active > m.open_last_active)) {
      m.open = true;
      m.open_start = r.open_start;
      m.open_last_active = r.open_last_active;
      m.open_status = r.open_status;
    }
  }
  return m;
}

bool behind_merged(const user_record& r, const user_record& m) {
  return m.known
         && (!r.known || r.last_seen < m.last_seen || r.version < m.version);
}

std::vector<user_record>
merge_batch_records(const std::vector<std::string>& users,
                    std::vector<std::vector<user_record>> replies,
                    size_t* unanswered) {
  std::map<std::string, std::vector<user_record>> by_user;
  for (auto& rs : replies)
    for (auto& r : rs)
      by_user[r.user_id].push_back(std::move(r));
  std::vector<user_record> out;
  out.reserve(users.size());
  if (unanswered)
    *unanswered = 0;
  for (auto& u : users) {
    auto& rs = by_user[u];
    if (rs.empty() && unanswered)
      ++*unanswered;
    out.push_back(merge_records(u, rs));
  }
  return out;
}

std::vector<session_record>
merge_history(const std::vector<std::vector<session_record>>& histories,
              uint32_t limit) {
  std::map<millis, millis> by_start;
  for (auto& rs : histories)
    for (auto& r : rs) {
      auto& end = by_start[r.start];
      end = std::max(end, r.end);
    }
  std::vector<session_record> out;
  for (auto i = by_start.rbegin(); i != by_start.rend() && out.size() < limit;
       ++i)
    out.push_back(session_record{i->first, i->second});
  return out;
}

profile first_known(std::vector<profile> profiles) {
  for (auto& p : profiles)
    if (p.known)
      return std::move(p);
  return profile{};
}

std::vector<chat_message>
merge_queues(std::vector<std::vector<chat_message>> queues) {
  // The first queue (the owner's, when it answered) gives the order; what
  // only others hold follows, each in its own order. No clock decides:
  // senders' clocks may disagree.
  std::vector<chat_message> out;
  std::set<std::string> seen;
  for (auto& q : queues)
    for (auto& m : q)
      if (seen.insert(m.id).second)
        out.push_back(std::move(m));
  return out;
}

} // namespace presence::cluster
