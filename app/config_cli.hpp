#pragma once

#include <string>

#include "core/config.hpp"

namespace presence::app {

/// Settings of the binary that are not part of the node's config.
struct cli_extras {
  std::string port_file;
  /// --check-config: print the effective configuration and exit.
  bool check_only = false;
};

/// The effective configuration in config-file syntax (for --check-config).
std::string to_toml(const config& cfg);

/// Fills `cfg` from defaults, the config file (--config), PRESENCE_*
/// variables and the command line, in rising precedence, and validates it.
/// Returns -1 to go on, else the exit code (0 after --help/--version, 2 on a
/// bad configuration, with the reason on stderr).
int parse_command_line(int argc, char** argv, config& cfg, cli_extras& extra);

} // namespace presence::app
