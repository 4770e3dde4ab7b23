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

/// The header's alg and kid, or false if it is not a JSON object with an
/// alg string.
bool read_header(const std::string& token, std::string& alg, std::string& kid,
                 std::string& typ) {
  auto dot = token.find('.');
  if (dot == std::string::npos || dot > 2048)
    return false;
  std::string text;
  if (!base64url_decode(token.substr(0, dot), text))
    return false;
  auto header = nlohmann::json::parse(text, nullptr, false);
  if (!header.is_object())
    return false;
  auto a = header.find("alg");
  if (a == header.end() || !a->is_string())
    return false;
  alg = a->get<std::string>();
  if (auto k = header.find("kid"); k != header.end() && k->is_string())
    kid = k->get<std::string>();
  if (auto t = header.find("typ"); t != header.end()) {
    typ = t->is_string() ? t->get<std::string>() : "?";
  }
  return true;
}

using jwt_ptr = std::unique_ptr<jwt_t, void (*)(jwt_t*)>;

jwt_ptr decode(const std::string& token, const std::string& key) {
  jwt_t* raw = nullptr;
  auto rc = jwt_decode(&raw, token.c_str(),
                       reinterpret_cast<const unsigned char*>(key.data()),
                       static_cast<int>(key.size()));
  jwt_ptr jwt{raw, jwt_free};
  if (rc != 0)
    jwt.reset();
  return jwt;
}

/// True if the `aud` claim is `want` or an array holding it.
bool audience_holds(const nlohmann::json& claims, const std::string& want) {
  auto a = claims.find("aud");
  if (a == claims.end())
    return false;
  if (a->is_string())
    return a->get_ref<const std::string&>() == want;
  if (a->is_array())
    for (auto& v : *a)
      if (v.is_string() && v.get_ref<const std::string&>() == want)
        return true;
  return false;
}

} // namespace

identity verify_jwt(const jwt_keys& keys, const std::string& token, millis now,
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
  std::string alg, kid, typ;
  if (!read_header(token, alg, kid, typ))
    return fail("invalid_token", "token signature or format is invalid");
  // libjwt 1.10 refuses a typ other than "JWT" (RFC 9068's "at+jwt", for
  // one) as a bad format: say so instead.
  if (!typ.empty() && typ != "JWT" && typ != "jwt")
    return fail("invalid_token", "token type (typ) " + typ.substr(0, 32)
                                   + " is not accepted: only JWT");
  // The key follows from the header's alg, and the alg a key is for is
  // checked again on the decoded token: a public key is never tried as an
  // HMAC secret, "none" never reaches libjwt with a key.
  jwt_alg_t want = JWT_ALG_INVAL;
  jwt_ptr jwt{nullptr, jwt_free};
  if (alg == "HS256") {
    if (keys.secret().empty())
      return fail("invalid_token", "HS256 tokens are not accepted here");
    want = JWT_ALG_HS256;
    jwt = decode(token, keys.secret());
  } else {
    want = jwt_str_alg(alg.c_str());
    bool unsupported = want == JWT_ALG_INVAL || want == JWT_ALG_NONE
                       || want == JWT_ALG_HS384 || want == JWT_ALG_HS512;
    auto candidates = keys.candidates(alg, kid);
    if (unsupported || candidates.empty()) {
      if (keys.public_keys().empty())
        return fail("invalid_token", "token must be signed with HS256");
      if (unsupported)
        return fail("invalid_token",
                    "token must be signed with RS256/384/512 or "
                    "ES256/384/512"
                      + std::string{keys.secret().empty() ? "" : " or HS256"});
      return fail("invalid_token",
                  kid.empty() ? "no key here verifies " + alg + " tokens"
                              : "no key here verifies " + alg
                                  + " tokens of kid " + kid.substr(0, 64));
    }
    // Bounded: a forged token costs at most this many signature checks.
    constexpr size_t max_tries = 4;
    for (size_t i = 0; i < candidates.size() && i < max_tries && !jwt; ++i)
      jwt = decode(token, candidates[i]->pem);
  }
  if (!jwt)
    return fail("invalid_token", "token signature or format is invalid");
  if (jwt_get_alg(jwt.get()) != want)
    return fail("invalid_token", "token signature or format is invalid");
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
  const auto leeway_ms = static_cast<double>(keys.leeway());
  double exp = 0;
  bool has_exp = seconds("exp", exp);
  if (has_exp && exp * 1000.0 + leeway_ms <= now)
    return fail("token_expired", "token has expired");
  double nbf = 0;
  if (seconds("nbf", nbf) && nbf * 1000.0 - leeway_ms > now)
    return fail("invalid_token", "token is not valid yet");
  if (!keys.issuer().empty()) {
    auto iss = claims.find("iss");
    if (iss == claims.end() || !iss->is_string()
        || iss->get_ref<const std::string&>() != keys.issuer())
      return fail("invalid_token", "token issuer (iss) is not accepted");
  }
  if (!keys.audience().empty() && !audience_holds(claims, keys.audience()))
    return fail("invalid_token", "token audience (aud) is not accepted");
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
  // An exp beyond the year 30000 (or one no integer holds, 3.4e90) never
  // comes: as if there were none.
  if (has_exp && exp < 9e11)
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
