// RS256 / ES256 tokens, PEM and JWKS keys, kid selection, iss / aud, and
// the algorithm confusions a verifier must refuse.

#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <jwt.h>
#include <nlohmann/json.hpp>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "edge/common/auth.hpp"
#include "edge/common/jwt_keys.hpp"
#include "tests/edge/jwt_signing.hpp"

using namespace presence;
using namespace presence::edge;
using nlohmann::json;

namespace {

constexpr millis now_ms = 1'700'000'000'000;

struct pkey_deleter {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using pkey_ptr = std::unique_ptr<EVP_PKEY, pkey_deleter>;

pkey_ptr rsa_key(size_t bits = 2048) {
  pkey_ptr k{EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", bits)};
  REQUIRE(k);
  return k;
}

pkey_ptr ec_key(const char* curve) {
  pkey_ptr k{EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", curve)};
  REQUIRE(k);
  return k;
}

std::string bio_text(BIO* mem) {
  char* data = nullptr;
  auto n = BIO_get_mem_data(mem, &data);
  std::string out(data, static_cast<size_t>(n));
  BIO_free(mem);
  return out;
}

std::string private_pem(EVP_PKEY* k) {
  BIO* mem = BIO_new(BIO_s_mem());
  REQUIRE(
    PEM_write_bio_PrivateKey(mem, k, nullptr, nullptr, 0, nullptr, nullptr)
    == 1);
  return bio_text(mem);
}

std::string public_pem(EVP_PKEY* k) {
  BIO* mem = BIO_new(BIO_s_mem());
  REQUIRE(PEM_write_bio_PUBKEY(mem, k) == 1);
  return bio_text(mem);
}

/// A self-signed certificate for `k`, as PEM.
std::string certificate_pem(EVP_PKEY* k) {
  X509* cert = X509_new();
  REQUIRE(cert);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
  X509_set_pubkey(cert, k);
  auto* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("issuer"),
                             -1, -1, 0);
  X509_set_issuer_name(cert, name);
  REQUIRE(X509_sign(cert, k, EVP_sha256()) > 0);
  BIO* mem = BIO_new(BIO_s_mem());
  REQUIRE(PEM_write_bio_X509(mem, cert) == 1);
  X509_free(cert);
  return bio_text(mem);
}

std::string base64url(const std::string& bytes) {
  static const char* abc
    = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (unsigned char c : bytes) {
    acc = (acc << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(abc[(acc >> bits) & 63]);
    }
  }
  if (bits > 0)
    out.push_back(abc[(acc << (6 - bits)) & 63]);
  return out;
}

std::string bn_param(EVP_PKEY* k, const char* name, size_t pad = 0) {
  BIGNUM* bn = nullptr;
  REQUIRE(EVP_PKEY_get_bn_param(k, name, &bn) == 1);
  std::string out(std::max<size_t>(pad, BN_num_bytes(bn)), '\0');
  REQUIRE(BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()),
                       static_cast<int>(out.size()))
          > 0);
  BN_free(bn);
  return out;
}

/// The JWK of `k`'s public half.
json jwk_of(EVP_PKEY* k, const std::string& kid = "") {
  json j;
  if (EVP_PKEY_get_base_id(k) == EVP_PKEY_RSA) {
    j = {{"kty", "RSA"},
         {"n", base64url(bn_param(k, OSSL_PKEY_PARAM_RSA_N))},
         {"e", base64url(bn_param(k, OSSL_PKEY_PARAM_RSA_E))}};
  } else {
    char group[64] = {0};
    size_t len = 0;
    REQUIRE(EVP_PKEY_get_utf8_string_param(k, OSSL_PKEY_PARAM_GROUP_NAME, group,
                                           sizeof(group), &len)
            == 1);
    std::string g = group;
    auto crv = g == "prime256v1"  ? "P-256"
               : g == "secp384r1" ? "P-384"
                                  : "P-521";
    size_t size = g == "prime256v1" ? 32 : g == "secp384r1" ? 48 : 66;
    j = {{"kty", "EC"},
         {"crv", crv},
         {"x", base64url(bn_param(k, OSSL_PKEY_PARAM_EC_PUB_X, size))},
         {"y", base64url(bn_param(k, OSSL_PKEY_PARAM_EC_PUB_Y, size))}};
  }
  if (!kid.empty())
    j["kid"] = kid;
  return j;
}

/// A token for `sub` signed with `alg` and `key` (a PEM private key or an
/// HMAC secret), with `kid` in the header and extra claims.
std::string sign(jwt_alg_t alg, const std::string& key, const std::string& sub,
                 const std::string& kid = "",
                 const json& extra = json::object()) {
  json claims = extra;
  claims["sub"] = sub;
  std::vector<std::pair<std::string, std::string>> headers;
  if (!kid.empty())
    headers.emplace_back("kid", kid);
  return test::sign_jwt(claims.dump(), alg, key, headers);
}

std::vector<jwt_public_key> pem_keys(const std::string& pem) {
  std::vector<jwt_public_key> out;
  std::string err;
  INFO(err);
  REQUIRE(parse_pem_keys(pem, "test.pem", out, err));
  CHECK(err.empty());
  return out;
}

std::vector<jwt_public_key> jwks_keys(const json& doc,
                                      size_t* skipped = nullptr) {
  std::vector<jwt_public_key> out;
  std::string err;
  bool ok = parse_jwks(doc.dump(), "jwks.json", out, err, skipped);
  INFO(err);
  REQUIRE(ok);
  return out;
}

std::string jwks_error(const std::string& text) {
  std::vector<jwt_public_key> out;
  std::string err;
  CHECK_FALSE(parse_jwks(text, "jwks.json", out, err));
  CHECK(out.empty());
  return err;
}

void check_refused(const identity& id, const std::string& message_part = "") {
  CHECK_FALSE(id.ok);
  CHECK(id.code == "invalid_token");
  CHECK(id.user_id.empty());
  if (!message_part.empty())
    CHECK(id.message.find(message_part) != std::string::npos);
}

} // namespace

TEST_CASE("RS256/384/512 tokens verify against a PEM public key",
          "[jwt_keys]") {
  auto k = rsa_key();
  auto keys = jwt_keys::make({}, pem_keys(public_pem(k.get())));
  REQUIRE(keys.enabled());
  CHECK(keys.describe() == "1 RSA key");
  for (auto alg : {JWT_ALG_RS256, JWT_ALG_RS384, JWT_ALG_RS512}) {
    auto id = verify_jwt(keys, sign(alg, private_pem(k.get()), "alice"),
                         now_ms);
    CHECK(id.ok);
    CHECK(id.user_id == "alice");
  }
  // Another RSA key's token: refused.
  auto other = rsa_key();
  check_refused(
    verify_jwt(keys, sign(JWT_ALG_RS256, private_pem(other.get()), "alice"),
               now_ms));
  // An HS256 token: there is no secret.
  check_refused(verify_jwt(keys, sign(JWT_ALG_HS256, "secret", "alice"),
                           now_ms),
                "HS256 tokens are not accepted");
}

TEST_CASE("ES256/384/512 tokens verify against EC keys of their curve",
          "[jwt_keys]") {
  auto p256 = ec_key("P-256");
  auto p384 = ec_key("P-384");
  auto p521 = ec_key("P-521");
  auto keys = jwt_keys::make({}, pem_keys(public_pem(p256.get())
                                          + public_pem(p384.get())
                                          + public_pem(p521.get())));
  CHECK(keys.describe() == "3 EC keys");
  CHECK(
    verify_jwt(keys, sign(JWT_ALG_ES256, private_pem(p256.get()), "a"), now_ms)
      .ok);
  CHECK(
    verify_jwt(keys, sign(JWT_ALG_ES384, private_pem(p384.get()), "b"), now_ms)
      .ok);
  CHECK(
    verify_jwt(keys, sign(JWT_ALG_ES512, private_pem(p521.get()), "c"), now_ms)
      .ok);
  // A token claiming ES256 but signed by no key here.
  auto stranger = ec_key("P-256");
  check_refused(
    verify_jwt(keys, sign(JWT_ALG_ES256, private_pem(stranger.get()), "a"),
               now_ms));
  // Only a P-256 key: an ES384 token finds no key of its curve.
  auto only256 = jwt_keys::make({}, pem_keys(public_pem(p256.get())));
  check_refused(verify_jwt(only256,
                           sign(JWT_ALG_ES384, private_pem(p384.get()), "b"),
                           now_ms),
                "no key here verifies ES384");
}

TEST_CASE("a public key is never an HMAC secret, and alg none never passes",
          "[jwt_keys]") {
  auto k = rsa_key();
  auto pem = public_pem(k.get());
  auto keys = jwt_keys::make({}, pem_keys(pem));
  // The classic confusion: HS256 signed with the public key's PEM text (and
  // with the PEM libjwt would be handed).
  check_refused(verify_jwt(keys, sign(JWT_ALG_HS256, pem, "mallory"), now_ms));
  check_refused(
    verify_jwt(keys, sign(JWT_ALG_HS256, keys.public_keys()[0].pem, "mallory"),
               now_ms));
  // With a secret configured too, only the secret signs HS256.
  auto both = jwt_keys::make("the-secret", pem_keys(pem));
  check_refused(verify_jwt(both, sign(JWT_ALG_HS256, pem, "mallory"), now_ms));
  CHECK(verify_jwt(both, sign(JWT_ALG_HS256, "the-secret", "ok"), now_ms).ok);
  CHECK(
    verify_jwt(both, sign(JWT_ALG_RS256, private_pem(k.get()), "ok"), now_ms)
      .ok);
  CHECK(both.describe() == "HS256 secret, 1 RSA key");
  // alg none, with and without a kid; HS384 with the secret.
  auto header = [](const std::string& h) { return base64url(h); };
  auto body = base64url(R"({"sub":"mallory"})");
  for (auto h :
       {R"({"alg":"none"})", R"({"alg":"none","kid":"k"})", R"({"alg":"NONE"})",
        R"({"alg":"PS256"})", R"({"alg":5})", R"({"typ":"JWT"})"}) {
    INFO(h);
    check_refused(verify_jwt(both, header(h) + "." + body + ".", now_ms));
    check_refused(verify_jwt(both, header(h) + "." + body + ".c2ln", now_ms));
  }
  check_refused(verify_jwt(both, sign(JWT_ALG_HS384, "the-secret", "x"),
                           now_ms),
                "must be signed with RS256/384/512 or ES256/384/512 or HS256");
  // A signature cut or changed.
  auto good = sign(JWT_ALG_RS256, private_pem(k.get()), "alice");
  check_refused(
    verify_jwt(keys, good.substr(0, good.size() - 4) + "AAAA", now_ms));
  check_refused(verify_jwt(keys, good.substr(0, good.rfind('.') + 1), now_ms));
}

TEST_CASE("JWKS keys are chosen by kid", "[jwt_keys]") {
  auto k1 = rsa_key();
  auto k2 = ec_key("P-256");
  auto k3 = rsa_key();
  size_t skipped = 0;
  // k3 appears only as an encryption key and as a PS256 key: both skipped,
  // like an Ed25519 key.
  auto enc = jwk_of(k3.get(), "enc");
  enc["use"] = "enc";
  auto ps = jwk_of(k3.get(), "ps");
  ps["alg"] = "PS256";
  json doc = {{"keys",
               {jwk_of(k1.get(), "k1"),
                jwk_of(k2.get(), "k2"),
                {{"kty", "OKP"}, {"crv", "Ed25519"}, {"x", "AAAA"}},
                enc,
                ps}}};
  auto keys = jwt_keys::make({}, jwks_keys(doc, &skipped));
  CHECK(skipped == 3);
  REQUIRE(keys.public_keys().size() == 2);
  CHECK(keys.public_keys()[0].kid == "k1");
  CHECK(keys.public_keys()[1].curve_alg == "ES256");
  auto t1 = sign(JWT_ALG_RS256, private_pem(k1.get()), "alice", "k1");
  auto t2 = sign(JWT_ALG_ES256, private_pem(k2.get()), "bob", "k2");
  CHECK(verify_jwt(keys, t1, now_ms).user_id == "alice");
  CHECK(verify_jwt(keys, t2, now_ms).user_id == "bob");
  // No kid: every key of the alg's type is tried.
  CHECK(verify_jwt(keys, sign(JWT_ALG_RS256, private_pem(k1.get()), "carol"),
                   now_ms)
          .ok);
  // A kid nobody has.
  check_refused(
    verify_jwt(keys, sign(JWT_ALG_RS256, private_pem(k1.get()), "a", "k9"),
               now_ms),
    "kid k9");
  // The right kid, the wrong key behind it.
  check_refused(
    verify_jwt(keys, sign(JWT_ALG_RS256, private_pem(k3.get()), "a", "k1"),
               now_ms));
  // A key skipped for its use / alg verifies nothing.
  check_refused(
    verify_jwt(keys, sign(JWT_ALG_RS256, private_pem(k3.get()), "a", "enc"),
               now_ms));
  // A JWK with alg RS256 refuses RS512 tokens.
  auto pinned = jwk_of(k1.get(), "p");
  pinned["alg"] = "RS256";
  auto pinned_keys = jwt_keys::make({}, jwks_keys(pinned));
  CHECK(verify_jwt(pinned_keys,
                   sign(JWT_ALG_RS256, private_pem(k1.get()), "a", "p"), now_ms)
          .ok);
  check_refused(verify_jwt(pinned_keys,
                           sign(JWT_ALG_RS512, private_pem(k1.get()), "a", "p"),
                           now_ms));
}

TEST_CASE("a token type other than JWT is refused by name", "[jwt_keys]") {
  auto k = ec_key("P-256");
  auto keys = jwt_keys::make({}, pem_keys(public_pem(k.get())));
  auto tok = sign(JWT_ALG_ES256, private_pem(k.get()), "alice");
  auto body = tok.substr(tok.find('.'));
  auto with_typ = [&](const char* typ) {
    return base64url(std::string{R"({"alg":"ES256","typ":")"} + typ + "\"}")
           + body;
  };
  // The signature covers the header: any change fails there anyway, but
  // the message must name the type (RFC 9068 access tokens use at+jwt).
  check_refused(verify_jwt(keys, with_typ("at+jwt"), now_ms),
                "token type (typ) at+jwt is not accepted");
  CHECK(verify_jwt(keys, tok, now_ms).ok);
}

TEST_CASE("iss and aud are checked when configured", "[jwt_keys]") {
  auto k = ec_key("P-256");
  auto keys = jwt_keys::make({}, pem_keys(public_pem(k.get())),
                             "https://auth.example", "presence");
  auto priv = private_pem(k.get());
  auto tok = [&](const json& extra) {
    return sign(JWT_ALG_ES256, priv, "alice", "", extra);
  };
  CHECK(verify_jwt(keys,
                   tok({{"iss", "https://auth.example"}, {"aud", "presence"}}),
                   now_ms)
          .ok);
  CHECK(verify_jwt(keys,
                   tok({{"iss", "https://auth.example"},
                        {"aud", {"other", "presence"}}}),
                   now_ms)
          .ok);
  check_refused(verify_jwt(keys, tok({{"aud", "presence"}}), now_ms), "issuer");
  check_refused(verify_jwt(keys,
                           tok({{"iss", "https://evil"}, {"aud", "presence"}}),
                           now_ms),
                "issuer");
  check_refused(verify_jwt(keys, tok({{"iss", "https://auth.example"}}),
                           now_ms),
                "audience");
  check_refused(
    verify_jwt(keys, tok({{"iss", "https://auth.example"}, {"aud", {"other"}}}),
               now_ms),
    "audience");
  // Without the settings neither claim matters.
  auto open = jwt_keys::make({}, pem_keys(public_pem(k.get())));
  CHECK(verify_jwt(open, tok({{"iss", "anyone"}}), now_ms).ok);
}

TEST_CASE("PEM files: keys and certificates in, private keys out",
          "[jwt_keys]") {
  auto k = rsa_key();
  auto e = ec_key("P-384");
  auto keys = pem_keys(certificate_pem(k.get()) + public_pem(e.get()));
  REQUIRE(keys.size() == 2);
  CHECK(keys[0].kind == jwt_public_key::rsa);
  CHECK(keys[1].curve_alg == "ES384");
  auto set = jwt_keys::make({}, keys);
  CHECK(
    verify_jwt(set, sign(JWT_ALG_RS256, private_pem(k.get()), "a"), now_ms).ok);

  std::vector<jwt_public_key> out;
  std::string err;
  CHECK_FALSE(parse_pem_keys(private_pem(k.get()), "key.pem", out, err));
  CHECK(err.find("PRIVATE KEY") != std::string::npos);
  CHECK(err.find("-pubout") != std::string::npos);
  CHECK_FALSE(parse_pem_keys("not a pem", "key.pem", out, err));
  CHECK(err == "key.pem holds no PEM public key or certificate");
  CHECK_FALSE(
    parse_pem_keys(public_pem(rsa_key(1024).get()), "key.pem", out, err));
  CHECK(err.find("shorter than 2048") != std::string::npos);
  auto secp256k1 = ec_key("secp256k1");
  CHECK_FALSE(parse_pem_keys(public_pem(secp256k1.get()), "key.pem", out, err));
  CHECK(err.find("secp256k1") != std::string::npos);
  // A good key followed by a block cut short (a file copied while it was
  // written): the whole file is refused, not read up to the break.
  auto two = public_pem(k.get()) + public_pem(e.get());
  auto cut = two.substr(0, two.size() - 40);
  CHECK_FALSE(parse_pem_keys(cut, "key.pem", out, err));
  CHECK(err == "key.pem: PEM block 2 is broken (cut short, or not base64)");
  auto cut_private = public_pem(k.get()) + private_pem(k.get()).substr(0, 100);
  CHECK_FALSE(parse_pem_keys(cut_private, "key.pem", out, err));
  // A PEM block that is not base64 inside.
  CHECK_FALSE(
    parse_pem_keys("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC "
                   "KEY-----\n",
                   "key.pem", out, err));
  CHECK(out.empty());
}

TEST_CASE("JWKS documents that are wrong say how", "[jwt_keys]") {
  auto k = ec_key("P-256");
  auto good = jwk_of(k.get(), "k");
  CHECK(jwks_error("{") == "jwks.json is not JSON");
  CHECK(jwks_error("[]").find("neither a JWKS") != std::string::npos);
  CHECK(jwks_error(R"({"keys":{}})") == "jwks.json: \"keys\" is not an array");
  CHECK(jwks_error(R"({"keys":[]})")
        == "jwks.json holds no RSA or EC signing key");
  CHECK(jwks_error(R"({"keys":[{"kty":"OKP","crv":"Ed25519","x":"AAAA"}]})")
        == "jwks.json holds no RSA or EC signing key");
  CHECK(jwks_error(R"({"keys":[1]})") == "jwks.json key 1 is not an object");
  auto bad = good;
  bad["x"] = "not base64!";
  CHECK(jwks_error(json{{"keys", {bad}}}.dump())
          .find("\"x\" is missing or not base64url")
        != std::string::npos);
  bad = good;
  bad["x"] = base64url(std::string(31, 'a'));
  CHECK(jwks_error(json{{"keys", {bad}}}.dump()).find("must be 32 bytes")
        != std::string::npos);
  bad = good;
  bad["y"] = base64url(std::string(32, '\x01')); // off the curve
  CHECK(jwks_error(json{{"keys", {bad}}}.dump()).find("not a point on P-256")
        != std::string::npos);
  bad = good;
  bad["crv"] = "P-192";
  CHECK(jwks_error(json{{"keys", {bad}}}.dump()).find("not supported")
        != std::string::npos);
  bad = good;
  bad["alg"] = "ES384";
  CHECK(
    jwks_error(json{{"keys", {bad}}}.dump()).find("does not match its curve")
    != std::string::npos);
  // Private parts: refused (the file is a signing set, not a public one).
  for (auto member : {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}) {
    bad = good;
    bad[member] = "AQAB";
    CHECK(jwks_error(json{{"keys", {bad}}}.dump())
            .find("holds private key material")
          != std::string::npos);
  }
  CHECK(jwks_error(R"({"keys":[{"kty":"oct","k":"c2VjcmV0"}]})").find("private")
        != std::string::npos);
  auto r = jwk_of(rsa_key().get());
  r.erase("e");
  CHECK(jwks_error(json{{"keys", {r}}}.dump()).find("\"e\" is missing")
        != std::string::npos);
  // An RSA modulus that is even: not a valid key.
  r = jwk_of(rsa_key().get());
  r["n"] = base64url(std::string(256, '\x02'));
  CHECK(jwks_error(json{{"keys", {r}}}.dump()).find("RSA")
        != std::string::npos);
}

TEST_CASE("jwt_keys::load reads the files and refuses bad ones", "[jwt_keys]") {
  char dir_tpl[] = "/tmp/presenced-keys-XXXXXX";
  REQUIRE(mkdtemp(dir_tpl) != nullptr);
  std::string dir = dir_tpl;
  auto rsa = rsa_key();
  auto ec = ec_key("P-256");
  std::ofstream{dir + "/pub.pem"} << public_pem(rsa.get());
  std::ofstream{dir + "/jwks.json"}
    << json{{"keys", {jwk_of(ec.get(), "e1")}}}.dump();
  std::ofstream{dir + "/private.pem"} << private_pem(rsa.get());
  edge_config cfg;
  cfg.jwt_public_key = dir + "/pub.pem";
  cfg.jwt_jwks = dir + "/jwks.json";
  cfg.jwt_issuer = "iss";
  cfg.jwt_leeway = milliseconds{0};
  std::string err;
  auto keys = jwt_keys::load(cfg, err);
  INFO(err);
  REQUIRE(keys);
  CHECK(keys->describe() == "1 RSA key, 1 EC key, iss iss");
  CHECK(keys->leeway() == 0);
  auto t = sign(JWT_ALG_ES256, private_pem(ec.get()), "a", "e1",
                {{"iss", "iss"}, {"exp", now_ms / 1000 + 1}});
  CHECK(verify_jwt(*keys, t, now_ms).ok);
  CHECK(verify_jwt(*keys, t, now_ms + 1000).code == "token_expired");

  cfg.jwt_public_key = dir + "/missing.pem";
  CHECK_FALSE(jwt_keys::load(cfg, err));
  CHECK(err == "cannot read " + dir + "/missing.pem");
  cfg.jwt_public_key = dir + "/private.pem";
  CHECK_FALSE(jwt_keys::load(cfg, err));
  CHECK(err.find("PRIVATE KEY") != std::string::npos);
  std::system(("rm -rf " + dir).c_str());
}

TEST_CASE("base64url decoding", "[jwt_keys]") {
  std::string out;
  CHECK(base64url_decode("", out));
  CHECK(out.empty());
  CHECK(base64url_decode("YWJj", out));
  CHECK(out == "abc");
  CHECK(base64url_decode("YWI", out));
  CHECK(out == "ab");
  CHECK(base64url_decode("YWI=", out));
  CHECK(out == "ab");
  CHECK(base64url_decode("-_8", out));
  CHECK(out == "\xfb\xff");
  CHECK_FALSE(base64url_decode("Y", out));
  CHECK_FALSE(base64url_decode("YW+j", out));
  CHECK_FALSE(base64url_decode("YW/j", out));
  CHECK_FALSE(base64url_decode("YW j", out));
}
