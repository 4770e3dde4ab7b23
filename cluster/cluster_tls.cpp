#include "cluster/cluster_tls.hpp"

#include <cstdlib>
#include <memory>

#include <dlfcn.h>

#include <caf/actor_system_config.hpp>
#include <caf/openssl/manager.hpp>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <spdlog/spdlog.h>

#include "cluster/cluster_log.hpp"

// CAF 0.17.6's OpenSSL module leaves OpenSSL's per-thread error queue as
// a failed call left it (it drains the queue only when its own logger is
// on), and then asks SSL_get_error about the next call on the same thread:
// a stale entry makes that call look failed, and CAF closes that
// connection. All of CAF's connections share one network thread, so one
// peer's failed handshake (a certificate the CA did not sign) or a closed
// redundant connection cut the healthy links to the other members: they
// were declared gone and came back a second later, and a join routed over
// such a link in that second was lost (an e2e run saw its ack time out).
// OpenSSL's rule is that the queue be empty before each TLS call; these
// definitions (the executable's symbols come first for libcaf_openssl)
// empty it and call OpenSSL's own. Asio/Beast clear it themselves already,
// so their calls are unchanged.
namespace {

template <class Fn>
Fn openssl_next(const char* name) {
  auto* fn = reinterpret_cast<Fn>(dlsym(RTLD_NEXT, name));
  if (fn == nullptr)
    std::abort(); // libssl is linked: cannot happen
  return fn;
}

} // namespace

extern "C" {

int SSL_read(SSL* ssl, void* buf, int num) {
  static auto next = openssl_next<int (*)(SSL*, void*, int)>("SSL_read");
  ERR_clear_error();
  return next(ssl, buf, num);
}

int SSL_write(SSL* ssl, const void* buf, int num) {
  static auto next = openssl_next<int (*)(SSL*, const void*, int)>("SSL_write");
  ERR_clear_error();
  return next(ssl, buf, num);
}

int SSL_connect(SSL* ssl) {
  static auto next = openssl_next<int (*)(SSL*)>("SSL_connect");
  ERR_clear_error();
  return next(ssl);
}

int SSL_accept(SSL* ssl) {
  static auto next = openssl_next<int (*)(SSL*)>("SSL_accept");
  ERR_clear_error();
  return next(ssl);
}

} // extern "C"

namespace presence::cluster {

namespace {

/// OpenSSL's last error, for a message.
std::string last_ssl_error() {
  auto code = ERR_get_error();
  ERR_clear_error();
  if (code == 0)
    return "unknown error";
  char buf[256];
  ERR_error_string_n(code, buf, sizeof(buf));
  return buf;
}

} // namespace

std::string check_cluster_tls(const cluster_config& cfg) {
  std::unique_ptr<SSL_CTX, void (*)(SSL_CTX*)> ctx{SSL_CTX_new(TLS_method()),
                                                   SSL_CTX_free};
  if (!ctx)
    return "cluster TLS: " + last_ssl_error();
  ERR_clear_error();
  if (SSL_CTX_use_certificate_chain_file(ctx.get(), cfg.tls_cert.c_str()) != 1)
    return "cluster-tls-cert: cannot load " + cfg.tls_cert + ": "
           + last_ssl_error();
  if (SSL_CTX_use_PrivateKey_file(ctx.get(), cfg.tls_key.c_str(),
                                  SSL_FILETYPE_PEM)
      != 1) {
    auto why = last_ssl_error();
    if (why.find("key values mismatch") != std::string::npos)
      return "cluster-tls-key: " + cfg.tls_key
             + " is not the key of the certificate in " + cfg.tls_cert;
    return "cluster-tls-key: cannot load " + cfg.tls_key + ": " + why;
  }
  if (SSL_CTX_check_private_key(ctx.get()) != 1)
    return "cluster-tls-key: " + cfg.tls_key
           + " is not the key of the certificate in " + cfg.tls_cert;
  if (SSL_CTX_load_verify_locations(ctx.get(), cfg.tls_ca.c_str(), nullptr)
      != 1)
    return "cluster-tls-ca: cannot load " + cfg.tls_ca + ": "
           + last_ssl_error();
  // This node's own certificate must check out against the CA: its peers
  // will check it so.
  auto* cert = SSL_CTX_get0_certificate(ctx.get());
  STACK_OF(X509)* chain = nullptr;
  SSL_CTX_get0_chain_certs(ctx.get(), &chain);
  std::unique_ptr<X509_STORE_CTX, void (*)(X509_STORE_CTX*)> check{
    X509_STORE_CTX_new(), X509_STORE_CTX_free};
  if (!check
      || X509_STORE_CTX_init(check.get(), SSL_CTX_get_cert_store(ctx.get()),
                             cert, chain)
           != 1)
    return "cluster TLS: " + last_ssl_error();
  if (X509_verify_cert(check.get()) != 1)
    return "cluster-tls-cert: " + cfg.tls_cert + " is not signed by the CA in "
           + cfg.tls_ca + " ("
           + X509_verify_cert_error_string(
             X509_STORE_CTX_get_error(check.get()))
           + ")";
  return {};
}

bool openssl_error_queue_guarded() {
  // The definitions above are the process's (the executable's symbols
  // come first) unless OpenSSL was linked statically or the process
  // preloads another library that defines them.
  return dlsym(RTLD_DEFAULT, "SSL_read") == reinterpret_cast<void*>(&SSL_read)
         && dlsym(RTLD_DEFAULT, "SSL_accept")
              == reinterpret_cast<void*>(&SSL_accept);
}

void configure_cluster_tls(caf::actor_system_config& caf_cfg,
                           const cluster_config& cfg) {
  if (!openssl_error_queue_guarded())
    cluster_log().warn(
      "cluster TLS: this process's SSL_read is not presenced's own, so "
      "OpenSSL's error queue is not emptied before CAF's calls: a refused "
      "peer may cut the links to healthy members (docs/security.md)");
  caf_cfg.load<caf::openssl::manager>();
  caf_cfg.openssl_certificate = cfg.tls_cert;
  caf_cfg.openssl_key = cfg.tls_key;
  caf_cfg.openssl_cafile = cfg.tls_ca;
}

} // namespace presence::cluster
