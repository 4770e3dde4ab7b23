#include "edge/common/auth.hpp"

#include <cctype>
#include <cstdlib>
#include <memory>

#include <jwt.h>
#include <nlohmann/json.hpp>

#include "core/ids.hpp"
#include "edge/common/json_input.hpp"

namespace presence::edge {

namespace {

identity fail(const char* code, std::string msg) {
  identity id;
  id.code = code;
  id.message = std::move(msg);
  return id;
}

} // namespace

identity verify_jwt(const std::string& secret, const std::string& token,
                    millis now, millis leeway_ms,
                    const std::string& admin_claim) {
  if (token.empty())
    return fail("missing_token", "a JWT is required");
  if (token.size() > 8192)
    return fail("invalid_token", "token too long");
  // libjwt reads a C string: a NUL would hide whatever follows it. A JWT is
  // base64url segments and dots, nothing else.
  for (unsigned char c : token)
    if (!std::isalnum(c) && c != '-' && c != '_' && c != '.' && c != '=')
      return fail("invalid_token", "token holds characters a JWT cannot");
  jwt_t* raw = nullptr;
  auto rc = jwt_decode(&raw, token.c_str(),
                       reinterpret_cast<const unsigned char*>(secret.data()),
                       static_cast<int>(secret.size()));
  std::unique_ptr<jwt_t, void (*)(jwt_t*)> jwt{raw, jwt_free};
  if (rc != 0 || !jwt)
    return fail("invalid_token", "token signature or format is invalid");
  // Only HS256: never "none", never an algorithm the client picked for us.
  if (jwt_get_alg(jwt.get()) != JWT_ALG_HS256)
    return fail("invalid_token", "token must be signed with HS256");
  std::unique_ptr<char, void (*)(void*)> grants{jwt_get_grants_json(jwt.get(),
                                                                    nullptr),
                                                std::free};
  if (!grants)
    return fail("invalid_token", "token has no claims");
  auto claims = nlohmann::json::parse(grants.get(), nullptr, false);
  if (!claims.is_object())
    return fail("invalid_token", "token claims are not an object");
  auto seconds = [&](const char* name, double& out) {
    auto i = claims.find(name);
    if (i == claims.end())
      return false;
    if (!i->is_number())
      return true; // present but junk: treated as 0 below
    out = i->get<double>();
    return true;
  };
  double exp = 0;
  bool has_exp = seconds("exp", exp);
  if (has_exp && exp * 1000.0 + leeway_ms <= now)
    return fail("token_expired", "token has expired");
  double nbf = 0;
  if (seconds("nbf", nbf) && nbf * 1000.0 - leeway_ms > now)
    return fail("invalid_token", "token is not valid yet");
  std::string user;
  for (auto name : {"sub", "userId", "user_id"}) {
    auto i = claims.find(name);
    if (i == claims.end())
      continue;
    id_from_json(*i, user);
    if (!user.empty())
      break;
  }
  if (!valid_id(user))
    return fail("invalid_user_id",
                "token names no valid user (sub, userId or user_id)");
  identity id;
  id.ok = true;
  id.user_id = std::move(user);
  if (has_exp)
    id.expires_at = static_cast<millis>(exp * 1000.0);
  if (auto a = claims.find(admin_claim); a != claims.end())
    id.admin = a->is_boolean() && a->get<bool>();
  if (auto r = claims.find("roles");
      !id.admin && r != claims.end() && r->is_array())
    for (auto& role : *r)
      if (role.is_string() && role.get<std::string>() == admin_claim)
        id.admin = true;
  return id;
}

std::string bearer_token(const std::string& authorization) {
  constexpr const char prefix[] = "Bearer ";
  constexpr size_t n = sizeof(prefix) - 1;
  if (authorization.size() <= n)
    return {};
  for (size_t i = 0; i < n; ++i)
    if (std::tolower(static_cast<unsigned char>(authorization[i]))
        != std::tolower(static_cast<unsigned char>(prefix[i])))
      return {};
  auto tok = authorization.substr(n);
  while (!tok.empty() && tok.front() == ' ')
    tok.erase(0, 1);
  while (!tok.empty() && tok.back() == ' ')
    tok.pop_back();
  return tok;
}

} // namespace presence::edge
