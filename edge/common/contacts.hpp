#pragma once

// Who may see a user's presence (docs/api.md, "Contacts and visibility"):
// reading a change to a user's visibility and contact list from JSON (the
// native `set_contacts` frame and `PUT /api/users/:id/contacts` share the
// rules) and writing it back. Storing it: contacts_store.hpp.

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/messages.hpp"

namespace presence::edge {

/// A change to a user's visibility: the mode, the whole contact list, or
/// both (absent fields keep their stored value).
struct contacts_change {
  bool has_mode = false;
  visibility_mode mode = visibility_mode::server_default;
  bool has_ids = false;
  /// Sorted, unique, valid ids.
  std::vector<std::string> ids;
};

/// Reads "visibility" ("default", "everyone" or "contacts") and "contacts"
/// (an array of at most `max` user ids, numbers allowed as in the seeds)
/// from `j`. False with a stable `code` (bad_request, invalid_id,
/// too_many_contacts) and a message otherwise.
bool read_contacts_change(const nlohmann::json& j, uint32_t max,
                          contacts_change& out, std::string& code,
                          std::string& message);

/// {"userId", "visibility", "effective", "contacts"} of `user`.
nlohmann::json contacts_json(const std::string& user, const contact_settings& s,
                             bool contacts_by_default);

} // namespace presence::edge
