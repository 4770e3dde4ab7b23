#include "edge/common/contacts.hpp"

#include <algorithm>

#include "core/ids.hpp"
#include "edge/common/json_input.hpp"

namespace presence::edge {

bool read_contacts_change(const nlohmann::json& j, uint32_t max,
                          contacts_change& out, std::string& code,
                          std::string& message) {
  if (!j.is_object()) {
    code = "bad_request";
    message = "expected a JSON object with 'visibility' and/or 'contacts'";
    return false;
  }
  if (auto i = j.find("visibility"); i != j.end() && !i->is_null()) {
    if (!i->is_string() || !parse_visibility(i->get<std::string>(), out.mode)) {
      code = "bad_request";
      message
        = "'visibility' must be \"contacts\", \"everyone\" or "
          "\"default\"";
      return false;
    }
    out.has_mode = true;
  }
  if (auto i = j.find("contacts"); i != j.end() && !i->is_null()) {
    if (!i->is_array()) {
      code = "bad_request";
      message = "'contacts' must be an array of user ids";
      return false;
    }
    out.has_ids = true;
    for (auto& x : *i) {
      std::string id;
      if (!id_from_json(x, id) || !valid_id(id)) {
        code = "invalid_id";
        message = "'contacts' holds an invalid user id";
        return false;
      }
      out.ids.push_back(std::move(id));
    }
    std::sort(out.ids.begin(), out.ids.end());
    out.ids.erase(std::unique(out.ids.begin(), out.ids.end()), out.ids.end());
    if (out.ids.size() > max) {
      code = "too_many_contacts";
      message = "at most " + std::to_string(max)
                + " contacts per user (--max-contacts)";
      return false;
    }
  }
  return true;
}

nlohmann::json contacts_json(const std::string& user, const contact_settings& s,
                             bool contacts_by_default) {
  auto vis = make_visibility(s, contacts_by_default);
  return {{"userId", user},
          {"visibility", visibility_name(s.mode)},
          {"effective", vis.restricted() ? "contacts" : "everyone"},
          {"contacts", s.ids}};
}

} // namespace presence::edge
