#pragma once

// Mutual TLS between nodes (--cluster-tls-cert, --cluster-tls-key,
// --cluster-tls-ca) with CAF's OpenSSL module: every node presents a
// certificate signed by the cluster's CA and accepts only peers that do.

#include <string>

#include <caf/fwd.hpp>

#include "core/config.hpp"

namespace presence::cluster {

/// Checks the three files before CAF ever reads them (CAF reads them again
/// for every connection and throws on its network thread when it cannot):
/// the certificate chain and key load, the key is the certificate's, the
/// CA loads and has signed the certificate. "" when fine, else why not.
std::string check_cluster_tls(const cluster_config& cfg);

/// Whether this process's SSL_read/SSL_accept are presenced's own (which
/// empty OpenSSL's error queue before each call, cluster_tls.cpp); the
/// start warns when not (a static OpenSSL, a preloaded library).
bool openssl_error_queue_guarded();

/// Loads CAF's OpenSSL module into `caf_cfg` (after the middleman) with the
/// cluster's certificate, key and CA. Call only with cfg.tls_enabled().
void configure_cluster_tls(caf::actor_system_config& caf_cfg,
                           const cluster_config& cfg);

} // namespace presence::cluster
