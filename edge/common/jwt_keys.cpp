#include "edge/common/jwt_keys.hpp"

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

namespace presence::edge {

namespace {

template <class T, void (*Free)(T*)>
struct ossl_deleter {
  void operator()(T* p) const { Free(p); }
};
template <class T, void (*Free)(T*)>
using ossl_ptr = std::unique_ptr<T, ossl_deleter<T, Free>>;

void free_bio(BIO* b) {
  BIO_free(b);
}
using bio_ptr = ossl_ptr<BIO, free_bio>;
using pkey_ptr = ossl_ptr<EVP_PKEY, EVP_PKEY_free>;
using pkey_ctx_ptr = ossl_ptr<EVP_PKEY_CTX, EVP_PKEY_CTX_free>;
using x509_ptr = ossl_ptr<X509, X509_free>;
using bn_ptr = ossl_ptr<BIGNUM, BN_free>;
using param_bld_ptr = ossl_ptr<OSSL_PARAM_BLD, OSSL_PARAM_BLD_free>;
using params_ptr = ossl_ptr<OSSL_PARAM, OSSL_PARAM_free>;

/// The algorithm an EC key's curve signs ("" if not a JWT curve).
std::string curve_alg_of(const std::string& group) {
  if (group == "prime256v1" || group == "P-256")
    return "ES256";
  if (group == "secp384r1" || group == "P-384")
    return "ES384";
  if (group == "secp521r1" || group == "P-521")
    return "ES512";
  return {};
}

/// `key` as a jwt_public_key (PEM re-encoded on its own), or false + err.
bool describe_key(EVP_PKEY* key, const std::string& origin, jwt_public_key& out,
                  std::string& err) {
  // An RSA key with e = 1 or a point off its curve would make signatures
  // meaningless: checked once here, for PEM and JWK keys alike.
  pkey_ctx_ptr check{EVP_PKEY_CTX_new_from_pkey(nullptr, key, nullptr)};
  if (!check || EVP_PKEY_public_check(check.get()) != 1) {
    ERR_clear_error();
    err = origin + ": not a valid public key";
    return false;
  }
  switch (EVP_PKEY_get_base_id(key)) {
    case EVP_PKEY_RSA:
      out.kind = jwt_public_key::rsa;
      if (EVP_PKEY_get_bits(key) < 2048) {
        err = origin + ": RSA key shorter than 2048 bits";
        return false;
      }
      break;
    case EVP_PKEY_EC: {
      out.kind = jwt_public_key::ec;
      char group[64] = {0};
      size_t len = 0;
      if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group,
                                         sizeof(group), &len)
          != 1) {
        err = origin + ": EC key without a named curve";
        return false;
      }
      out.curve_alg = curve_alg_of(group);
      if (out.curve_alg.empty()) {
        err = origin + ": EC curve " + group
              + " is not one JWTs use (P-256, P-384, P-521)";
        return false;
      }
      break;
    }
    default:
      err = origin + ": only RSA and EC keys are supported";
      return false;
  }
  bio_ptr mem{BIO_new(BIO_s_mem())};
  if (!mem || PEM_write_bio_PUBKEY(mem.get(), key) != 1) {
    err = origin + ": cannot encode the key";
    return false;
  }
  char* data = nullptr;
  auto n = BIO_get_mem_data(mem.get(), &data);
  out.pem.assign(data, static_cast<size_t>(n));
  out.origin = origin;
  return true;
}

/// A JWK member that must be a non-empty base64url string.
bool jwk_bytes(const nlohmann::json& jwk, const char* name,
               const std::string& origin, std::string& out, std::string& err) {
  auto i = jwk.find(name);
  if (i == jwk.end() || !i->is_string()
      || i->get_ref<const std::string&>().empty()
      || !base64url_decode(i->get<std::string>(), out) || out.empty()) {
    err = origin + ": \"" + name + "\" is missing or not base64url";
    return false;
  }
  return true;
}

pkey_ptr key_from_params(const char* type, OSSL_PARAM_BLD* bld) {
  params_ptr params{OSSL_PARAM_BLD_to_param(bld)};
  pkey_ctx_ptr ctx{EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr)};
  EVP_PKEY* raw = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1
      || EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get())
           != 1)
    return nullptr;
  pkey_ptr key{raw};
  // fromdata takes the numbers as given; a point off the curve or an even
  // modulus would only fail later, at every token.
  pkey_ctx_ptr check{EVP_PKEY_CTX_new_from_pkey(nullptr, key.get(), nullptr)};
  if (!check || EVP_PKEY_public_check(check.get()) != 1)
    return nullptr;
  return key;
}

pkey_ptr rsa_from_jwk(const nlohmann::json& jwk, const std::string& origin,
                      std::string& err) {
  std::string n, e;
  if (!jwk_bytes(jwk, "n", origin, n, err)
      || !jwk_bytes(jwk, "e", origin, e, err))
    return nullptr;
  if (n.size() > 2048 || e.size() > 8) {
    err = origin + ": RSA numbers too large";
    return nullptr;
  }
  auto bn = [](const std::string& s) {
    return bn_ptr{BN_bin2bn(reinterpret_cast<const unsigned char*>(s.data()),
                            static_cast<int>(s.size()), nullptr)};
  };
  auto bn_n = bn(n);
  auto bn_e = bn(e);
  param_bld_ptr bld{OSSL_PARAM_BLD_new()};
  if (!bn_n || !bn_e || !bld
      || OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get())
           != 1
      || OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get())
           != 1) {
    err = origin + ": cannot build the RSA key";
    return nullptr;
  }
  auto key = key_from_params("RSA", bld.get());
  if (!key)
    err = origin + ": not a valid RSA public key";
  return key;
}

pkey_ptr ec_from_jwk(const nlohmann::json& jwk, const std::string& origin,
                     std::string& err) {
  auto crv = jwk.find("crv");
  if (crv == jwk.end() || !crv->is_string()) {
    err = origin + ": EC key without \"crv\"";
    return nullptr;
  }
  const auto& name = crv->get_ref<const std::string&>();
  size_t size = name == "P-256"   ? 32
                : name == "P-384" ? 48
                : name == "P-521" ? 66
                                  : 0;
  if (size == 0) {
    err = origin + ": EC curve \"" + name.substr(0, 32)
          + "\" is not supported (P-256, P-384, P-521)";
    return nullptr;
  }
  std::string x, y;
  if (!jwk_bytes(jwk, "x", origin, x, err)
      || !jwk_bytes(jwk, "y", origin, y, err))
    return nullptr;
  if (x.size() != size || y.size() != size) {
    err = origin + ": \"x\" and \"y\" must be " + std::to_string(size)
          + " bytes for " + name;
    return nullptr;
  }
  std::string point = "\x04" + x + y; // uncompressed point
  const char* group = size == 32   ? "prime256v1"
                      : size == 48 ? "secp384r1"
                                   : "secp521r1";
  param_bld_ptr bld{OSSL_PARAM_BLD_new()};
  if (!bld
      || OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME,
                                         group, 0)
           != 1
      || OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY,
                                          point.data(), point.size())
           != 1) {
    err = origin + ": cannot build the EC key";
    return nullptr;
  }
  auto key = key_from_params("EC", bld.get());
  if (!key)
    err = origin + ": not a point on " + name;
  return key;
}

bool read_file(const std::string& path, std::string& out, std::string& err) {
  std::ifstream in{path, std::ios::binary};
  if (!in) {
    err = "cannot read " + path;
    return false;
  }
  std::ostringstream s;
  s << in.rdbuf();
  out = s.str();
  if (out.size() > 4 * 1024 * 1024) {
    err = path + " is larger than 4 MiB";
    return false;
  }
  return true;
}

} // namespace

bool base64url_decode(const std::string& in, std::string& out) {
  out.clear();
  size_t len = in.size();
  while (len > 0 && in[len - 1] == '=')
    --len;
  if (len % 4 == 1)
    return false;
  out.reserve(len * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < len; ++i) {
    char c = in[i];
    int v;
    if (c >= 'A' && c <= 'Z')
      v = c - 'A';
    else if (c >= 'a' && c <= 'z')
      v = c - 'a' + 26;
    else if (c >= '0' && c <= '9')
      v = c - '0' + 52;
    else if (c == '-')
      v = 62;
    else if (c == '_')
      v = 63;
    else
      return false;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return true;
}

bool parse_pem_keys(const std::string& text, const std::string& name,
                    std::vector<jwt_public_key>& out, std::string& err) {
  bio_ptr in{BIO_new_mem_buf(text.data(), static_cast<int>(text.size()))};
  if (!in) {
    err = name + ": out of memory";
    return false;
  }
  size_t found = 0;
  std::vector<jwt_public_key> found_keys;
  ERR_clear_error();
  for (;;) {
    char* type = nullptr;
    char* header = nullptr;
    unsigned char* data = nullptr;
    long len = 0;
    if (PEM_read_bio(in.get(), &type, &header, &data, &len) != 1) {
      // The end of the text, or a block cut short (a file copied while it
      // was written): only the first is fine.
      auto e = ERR_peek_last_error();
      ERR_clear_error();
      if (ERR_GET_LIB(e) == ERR_LIB_PEM
          && ERR_GET_REASON(e) == PEM_R_NO_START_LINE)
        break;
      err = name + ": PEM block " + std::to_string(found + 1)
            + " is broken (cut short, or not base64)";
      return false;
    }
    std::string kind = type;
    OPENSSL_free(type);
    OPENSSL_free(header);
    const unsigned char* p = data;
    pkey_ptr key;
    auto origin = name + " #" + std::to_string(found + 1);
    if (kind == "PUBLIC KEY") {
      key.reset(d2i_PUBKEY(nullptr, &p, len));
    } else if (kind == "CERTIFICATE") {
      x509_ptr cert{d2i_X509(nullptr, &p, len)};
      if (cert)
        key.reset(X509_get_pubkey(cert.get()));
    } else {
      OPENSSL_free(data);
      err = name + " holds a \"" + kind + "\" block; give public keys "
            + (kind.find("PRIVATE") != std::string::npos
                 ? "(openssl pkey -in KEY -pubout)"
                 : "(\"PUBLIC KEY\") or certificates");
      return false;
    }
    OPENSSL_free(data);
    if (!key) {
      err = origin + ": cannot decode its " + kind;
      return false;
    }
    jwt_public_key k;
    if (!describe_key(key.get(), origin, k, err))
      return false;
    found_keys.push_back(std::move(k));
    ++found;
  }
  if (found == 0) {
    err = name + " holds no PEM public key or certificate";
    return false;
  }
  out.insert(out.end(), std::make_move_iterator(found_keys.begin()),
             std::make_move_iterator(found_keys.end()));
  return true;
}

bool parse_jwks(const std::string& text, const std::string& name,
                std::vector<jwt_public_key>& out, std::string& err,
                size_t* skipped) {
  auto doc = nlohmann::json::parse(text, nullptr, false);
  if (doc.is_discarded()) {
    err = name + " is not JSON";
    return false;
  }
  nlohmann::json single = nlohmann::json::array();
  const nlohmann::json* keys = nullptr;
  if (doc.is_object() && doc.contains("keys")) {
    keys = &doc["keys"];
    if (!keys->is_array()) {
      err = name + ": \"keys\" is not an array";
      return false;
    }
  } else if (doc.is_object() && doc.contains("kty")) {
    single.push_back(doc);
    keys = &single;
  } else {
    err = name + " is neither a JWKS ({\"keys\": [...]}) nor a JWK";
    return false;
  }
  if (keys->size() > 1000) {
    err = name + " holds more than 1,000 keys";
    return false;
  }
  size_t skip = 0;
  size_t index = 0;
  std::vector<jwt_public_key> found_keys;
  for (auto& jwk : *keys) {
    ++index;
    auto origin = name + " key " + std::to_string(index);
    if (!jwk.is_object()) {
      err = origin + " is not an object";
      return false;
    }
    auto str = [&](const char* member) -> std::string {
      auto i = jwk.find(member);
      return i != jwk.end() && i->is_string() ? i->get<std::string>() : "";
    };
    // A JWKS with private parts (an identity provider's signing set) would
    // put on this server what mints tokens: refused, as PEM private keys.
    for (auto member : {"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
      if (jwk.contains(member)) {
        err = origin + " holds private key material (\"" + member
              + "\"): give the public JWKS";
        return false;
      }
    auto kty = str("kty");
    auto use = str("use");
    if ((kty != "RSA" && kty != "EC") || (!use.empty() && use != "sig")) {
      ++skip;
      continue;
    }
    jwt_public_key k;
    k.kid = str("kid");
    if (k.kid.size() > 256) {
      err = origin + ": kid longer than 256 characters";
      return false;
    }
    if (!k.kid.empty())
      origin += " (kid " + k.kid + ")";
    k.alg = str("alg");
    static const char* const rsa_algs[] = {"RS256", "RS384", "RS512"};
    static const char* const ec_algs[] = {"ES256", "ES384", "ES512"};
    if (!k.alg.empty()) {
      bool known = false;
      for (auto a : kty == "RSA" ? rsa_algs : ec_algs)
        known = known || k.alg == a;
      if (!known) {
        // PS256 and the like: a key this server cannot check; skip it.
        ++skip;
        continue;
      }
    }
    auto key = kty == "RSA" ? rsa_from_jwk(jwk, origin, err)
                            : ec_from_jwk(jwk, origin, err);
    if (!key)
      return false;
    auto kid = std::move(k.kid);
    auto alg = std::move(k.alg);
    if (!describe_key(key.get(), origin, k, err))
      return false;
    k.kid = std::move(kid);
    k.alg = std::move(alg);
    if (k.kind == jwt_public_key::ec && !k.alg.empty()
        && k.alg != k.curve_alg) {
      err = origin + ": alg " + k.alg + " does not match its curve ("
            + k.curve_alg + ")";
      return false;
    }
    found_keys.push_back(std::move(k));
  }
  if (skipped)
    *skipped = skip;
  if (found_keys.empty()) {
    err = name + " holds no RSA or EC signing key";
    return false;
  }
  out.insert(out.end(), std::make_move_iterator(found_keys.begin()),
             std::make_move_iterator(found_keys.end()));
  return true;
}

jwt_keys jwt_keys::hs256(std::string secret, millis leeway_ms) {
  return make(std::move(secret), {}, {}, {}, leeway_ms);
}

jwt_keys jwt_keys::make(std::string secret, std::vector<jwt_public_key> keys,
                        std::string issuer, std::string audience,
                        millis leeway_ms) {
  jwt_keys k;
  k.secret_ = std::move(secret);
  k.public_ = std::move(keys);
  k.issuer_ = std::move(issuer);
  k.audience_ = std::move(audience);
  k.leeway_ = leeway_ms;
  return k;
}

std::shared_ptr<const jwt_keys> jwt_keys::load(const edge_config& cfg,
                                               std::string& err) {
  auto k = std::make_shared<jwt_keys>();
  k->secret_ = cfg.jwt_secret;
  k->issuer_ = cfg.jwt_issuer;
  k->audience_ = cfg.jwt_audience;
  k->leeway_ = cfg.jwt_leeway.count();
  if (!cfg.jwt_public_key.empty()) {
    std::string text;
    if (!read_file(cfg.jwt_public_key, text, err)
        || !parse_pem_keys(text, cfg.jwt_public_key, k->public_, err))
      return nullptr;
  }
  if (!cfg.jwt_jwks.empty()) {
    std::string text;
    if (!read_file(cfg.jwt_jwks, text, err)
        || !parse_jwks(text, cfg.jwt_jwks, k->public_, err))
      return nullptr;
  }
  return k;
}

std::vector<const jwt_public_key*>
jwt_keys::candidates(const std::string& alg, const std::string& kid) const {
  bool rsa = alg == "RS256" || alg == "RS384" || alg == "RS512";
  bool ec = alg == "ES256" || alg == "ES384" || alg == "ES512";
  std::vector<const jwt_public_key*> named, anonymous;
  if (!rsa && !ec)
    return named;
  for (auto& k : public_) {
    if (rsa ? k.kind != jwt_public_key::rsa
            : k.kind != jwt_public_key::ec || k.curve_alg != alg)
      continue;
    if (!k.alg.empty() && k.alg != alg)
      continue;
    if (k.kid.empty())
      anonymous.push_back(&k);
    else if (kid.empty() || k.kid == kid)
      named.push_back(&k);
  }
  named.insert(named.end(), anonymous.begin(), anonymous.end());
  return named;
}

std::string jwt_keys::describe() const {
  size_t rsa = 0, ec = 0;
  for (auto& k : public_)
    (k.kind == jwt_public_key::rsa ? rsa : ec) += 1;
  std::string out;
  auto add = [&](const std::string& part) {
    out += out.empty() ? part : ", " + part;
  };
  if (!secret_.empty())
    add("HS256 secret");
  if (rsa)
    add(std::to_string(rsa) + (rsa == 1 ? " RSA key" : " RSA keys"));
  if (ec)
    add(std::to_string(ec) + (ec == 1 ? " EC key" : " EC keys"));
  if (!issuer_.empty())
    add("iss " + issuer_);
  if (!audience_.empty())
    add("aud " + audience_);
  return out.empty() ? "no keys" : out;
}

} // namespace presence::edge
