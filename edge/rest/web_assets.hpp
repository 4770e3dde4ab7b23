#pragma once

#include <string_view>

namespace presence::edge {

/// web/index.html, compiled into the binary (cmake/embed.cmake), so the
/// page is served whatever the working directory.
std::string_view index_html();

} // namespace presence::edge
