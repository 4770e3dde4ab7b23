// libFuzzer target for edge/auth and core/ids. The first byte picks what the
// rest of the input is:
//   0  a token, verified with secret "fuzz-secret" (only the seed tokens'
//      subject "alice" may ever be accepted: anything else is a forgery)
//   1  a JSON claims object, signed HS256 and verified; the outcome is
//      compared with a model of the documented rules (exp/nbf leeway,
//      sub > userId > user_id, valid ids)
//   2  the same, signed HS384: must always be refused
//   3  an Authorization header for bearer_token
//   4  an id for valid_id, compared with a reference UTF-8 decoder
//   5  a token, verified against an RSA and an EC public key whose private
//      halves were thrown away: any accepted token is a forgery
//   6  a JWKS document for parse_jwks (never throws; ok <=> keys and no
//      error)
//
//   build-fuzz/tests/fuzz_jwt -max_total_time=30 CORPUS_DIR \
//     tests/fuzz/corpus/jwt

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>

#include "tests/fuzz/invariants.hpp"

namespace {

const std::string secret = "fuzz-secret";
constexpr presence::millis now_ms = 1'700'000'000'000;
constexpr int modes = 7;

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace presence::fuzz;
  if (size == 0)
    return 0;
  std::string input(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::string violation;
  switch (data[0] % modes) {
    case 0:
      violation = check_jwt(secret, input, now_ms, {"alice"});
      break;
    case 1:
      violation = check_jwt_claims(secret, input, JWT_ALG_HS256, now_ms);
      break;
    case 2:
      violation = check_jwt_claims(secret, input, JWT_ALG_HS384, now_ms);
      break;
    case 3:
      violation = check_bearer(input);
      break;
    case 5:
      violation = check_public_key_forgery(input, now_ms);
      break;
    case 6:
      violation = check_jwks(input);
      break;
    default:
      violation = check_id(input);
  }
  if (!violation.empty()) {
    std::fprintf(stderr, "property violated (mode %d): %s\ninput: %s\n",
                 data[0] % modes, violation.c_str(), escape(input).c_str());
    std::abort();
  }
  return 0;
}
