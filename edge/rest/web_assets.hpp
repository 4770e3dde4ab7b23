#pragma once

#include <string_view>

namespace presence::edge {

/// web/index.html, compiled into the binary (cmake/embed.cmake), so the
/// page is served whatever the working directory.
std::string_view index_html();

/// clients/js/index.js (the native protocol's JavaScript client), compiled
/// in the same way; the page imports it from /presenced-client.js.
std::string_view presenced_client_js();

} // namespace presence::edge
