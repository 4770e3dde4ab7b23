// Cluster TLS's guard of OpenSSL's error queue (cluster/cluster_tls.cpp):
// CAF 0.17.6's OpenSSL module reads SSL_get_error after its calls without
// emptying the thread's error queue first, so a stale entry from another
// connection's failed handshake made a healthy link look failed. The
// process's SSL_read/SSL_write/SSL_connect/SSL_accept are presenced's own,
// which empty it first.

#include <catch2/catch.hpp>

#include <memory>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/ssl.h>

#include "cluster/cluster_tls.hpp"

using namespace presence::cluster;

TEST_CASE(
  "the process's SSL calls are the ones that empty OpenSSL's error "
  "queue",
  "[cluster_tls]") {
  CHECK(openssl_error_queue_guarded());
}

namespace {

template <class T, void (*Free)(T*)>
struct freer {
  void operator()(T* p) const { Free(p); }
};
using ctx_ptr = std::unique_ptr<SSL_CTX, freer<SSL_CTX, SSL_CTX_free>>;
using ssl_ptr = std::unique_ptr<SSL, freer<SSL, SSL_free>>;
using key_ptr = std::unique_ptr<EVP_PKEY, freer<EVP_PKEY, EVP_PKEY_free>>;
using x509_ptr = std::unique_ptr<X509, freer<X509, X509_free>>;

/// A server context with a fresh self-signed P-256 certificate.
ctx_ptr server_ctx() {
  key_ptr key{EVP_EC_gen("P-256")};
  x509_ptr cert{X509_new()};
  if (!key || !cert)
    return nullptr;
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 3600);
  X509_set_pubkey(cert.get(), key.get());
  auto* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("test"), -1,
                             -1, 0);
  X509_set_issuer_name(cert.get(), name);
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0)
    return nullptr;
  ctx_ptr ctx{SSL_CTX_new(TLS_server_method())};
  if (!ctx || SSL_CTX_use_certificate(ctx.get(), cert.get()) != 1
      || SSL_CTX_use_PrivateKey(ctx.get(), key.get()) != 1)
    return nullptr;
  return ctx;
}

} // namespace

TEST_CASE(
  "a read on an open TLS connection does not report an error "
  "another connection left behind",
  "[cluster_tls]") {
  auto sctx = server_ctx();
  REQUIRE(sctx);
  // No TLS 1.3 session tickets after the handshake: a read that takes one
  // runs the handshake's state machine, which empties the queue itself.
  SSL_CTX_set_num_tickets(sctx.get(), 0);
  ctx_ptr cctx{SSL_CTX_new(TLS_client_method())};
  REQUIRE(cctx);
  ssl_ptr client{SSL_new(cctx.get())};
  ssl_ptr server{SSL_new(sctx.get())};
  REQUIRE(client);
  REQUIRE(server);
  BIO* c = nullptr;
  BIO* s = nullptr;
  REQUIRE(BIO_new_bio_pair(&c, 0, &s, 0) == 1);
  SSL_set_bio(client.get(), c, c); // each SSL owns its end
  SSL_set_bio(server.get(), s, s);
  SSL_set_connect_state(client.get());
  SSL_set_accept_state(server.get());
  // The handshake over the pair, in memory.
  bool client_done = false;
  bool server_done = false;
  for (int i = 0; i < 20 && !(client_done && server_done); ++i) {
    client_done = client_done || SSL_do_handshake(client.get()) == 1;
    server_done = server_done || SSL_do_handshake(server.get()) == 1;
  }
  REQUIRE(client_done);
  REQUIRE(server_done);
  ERR_clear_error();
  // What a failed handshake on another connection leaves on this thread
  // (CAF's network thread runs every connection).
  ERR_raise(ERR_LIB_SSL, SSL_R_CERTIFICATE_VERIFY_FAILED);
  REQUIRE(ERR_peek_error() != 0);
  // Nothing to read yet: the read wants more, it did not fail. Without
  // the guard SSL_get_error sees the stale entry and says SSL_ERROR_SSL,
  // and CAF closes this healthy connection.
  char buf[16];
  auto ret = SSL_read(client.get(), buf, sizeof(buf));
  CHECK(ret <= 0);
  CHECK(SSL_get_error(client.get(), ret) == SSL_ERROR_WANT_READ);
  // And data that comes is read.
  REQUIRE(SSL_write(server.get(), "hi", 2) == 2);
  CHECK(SSL_read(client.get(), buf, sizeof(buf)) == 2);
}
