#pragma once

// Signing tokens for the edge's tests (libjwt): one helper for every test
// that needs a JWT.

#include <cstdlib>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>
#include <jwt.h>

namespace presence::test {

/// A JWT whose claims are the JSON object `claims`, signed with `alg` and
/// `key` (an HMAC secret or a PEM private key; none: unsigned), with
/// `headers` added to its header.
inline std::string
sign_jwt(const std::string& claims, jwt_alg_t alg, const std::string& key,
         const std::vector<std::pair<std::string, std::string>>& headers = {}) {
  jwt_t* raw = nullptr;
  REQUIRE(jwt_new(&raw) == 0);
  std::unique_ptr<jwt_t, void (*)(jwt_t*)> j{raw, jwt_free};
  REQUIRE(jwt_add_grants_json(j.get(), claims.c_str()) == 0);
  for (auto& [name, value] : headers)
    REQUIRE(jwt_add_header(j.get(), name.c_str(), value.c_str()) == 0);
  if (alg == JWT_ALG_NONE)
    REQUIRE(jwt_set_alg(j.get(), alg, nullptr, 0) == 0);
  else
    REQUIRE(jwt_set_alg(j.get(), alg,
                        reinterpret_cast<const unsigned char*>(key.data()),
                        static_cast<int>(key.size()))
            == 0);
  char* s = jwt_encode_str(j.get());
  REQUIRE(s != nullptr);
  std::string out{s};
  std::free(s);
  return out;
}

} // namespace presence::test
