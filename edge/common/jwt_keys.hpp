#pragma once

// The keys tokens are checked against: an HS256 secret, public keys from a
// PEM file, keys from a JWKS file, and the claims every token must carry
// (issuer, audience) with the clock skew allowed. Loaded at start and again
// on SIGHUP (edge_context::reload_keys); immutable once loaded, so any
// thread may read a set while a new one replaces it.

#include <memory>
#include <string>
#include <vector>

#include "core/config.hpp"
#include "core/messages.hpp"

namespace presence::edge {

/// One public key, as libjwt takes it (one PEM "PUBLIC KEY" block).
struct jwt_public_key {
  enum kind_t { rsa, ec };
  kind_t kind = rsa;
  /// The JWK's "kid" ("" for keys from a PEM file: they match any kid).
  std::string kid;
  /// The JWK's "alg" when it names one ("" = any of the key type's).
  std::string alg;
  /// EC keys: the one algorithm their curve signs (ES256, ES384, ES512).
  std::string curve_alg;
  std::string pem;
  /// Where it came from, for logs ("keys.pem #1", "jwks.json kid=k1").
  std::string origin;
};

class jwt_keys {
public:
  /// No keys: dev mode (clients name themselves).
  jwt_keys() = default;

  /// Only an HS256 secret (tests, tools).
  static jwt_keys hs256(std::string secret, millis leeway_ms = 30'000);

  /// Keys given in memory (tests, an embedding program).
  static jwt_keys make(std::string secret, std::vector<jwt_public_key> keys,
                       std::string issuer = {}, std::string audience = {},
                       millis leeway_ms = 30'000);

  /// The edge's settings: --jwt-secret, --jwt-public-key FILE, --jwt-jwks
  /// FILE, --jwt-issuer, --jwt-audience, --jwt-leeway. Reads the files; on
  /// any problem (unreadable, no usable key, a private key given) returns
  /// nullptr and says why in `err`.
  static std::shared_ptr<const jwt_keys> load(const edge_config& cfg,
                                              std::string& err);

  /// True when any key is configured (JWT mode).
  bool enabled() const { return !secret_.empty() || !public_.empty(); }

  const std::string& secret() const { return secret_; }
  const std::vector<jwt_public_key>& public_keys() const { return public_; }
  /// Required `iss` ("" = not checked).
  const std::string& issuer() const { return issuer_; }
  /// Required `aud` (the claim equals it or, as an array, holds it; "" =
  /// not checked).
  const std::string& audience() const { return audience_; }
  /// Clock skew allowed on exp / nbf.
  millis leeway() const { return leeway_; }

  /// The keys a token signed with `alg` naming `kid` ("" = none) may be
  /// checked against, best match first: a key with that kid, else the keys
  /// without one (PEM files). Empty when none fits.
  std::vector<const jwt_public_key*> candidates(const std::string& alg,
                                                const std::string& kid) const;

  /// "HS256 secret, 2 RSA keys, 1 EC key": for the start and reload logs.
  std::string describe() const;

private:
  std::string secret_;
  std::vector<jwt_public_key> public_;
  std::string issuer_;
  std::string audience_;
  millis leeway_ = 30'000;
};

/// Parses a PEM file's text: every "PUBLIC KEY" and "CERTIFICATE" block
/// (its key) in order. RSA and EC (P-256, P-384, P-521) keys only.
/// `name` names the source in messages and origins. False + `err` (and
/// `out` unchanged) on a private key, another block type, a block cut
/// short, an unsupported or invalid key, or no key at all.
bool parse_pem_keys(const std::string& text, const std::string& name,
                    std::vector<jwt_public_key>& out, std::string& err);

/// Parses a JWKS document ({"keys":[...]}, or one JWK object): RSA keys
/// (n, e) and EC keys (crv, x, y) meant for signatures (`use` absent or
/// "sig"). Keys of other types ("OKP") or uses are skipped and counted in
/// `skipped`. False + `err` on malformed JSON, a malformed key of a
/// supported type, a key with private parts (d, p, q, ..., an "oct" key's
/// k), or no usable key; `out` is then unchanged. Never throws (fuzzed).
bool parse_jwks(const std::string& text, const std::string& name,
                std::vector<jwt_public_key>& out, std::string& err,
                size_t* skipped = nullptr);

/// base64url (RFC 4648 section 5, padding optional) -> bytes; false on a
/// character outside the alphabet or an impossible length.
bool base64url_decode(const std::string& in, std::string& out);

} // namespace presence::edge
