#pragma once

// One logger per folder (STYLE.md): "edge", "cluster", "store", ... Each is
// a clone of the default logger (same sinks, level and pattern as main set
// up), registered once under its name. Header-only: the folders that log
// link spdlog themselves; core does not.

#include <memory>

#include <spdlog/spdlog.h>

namespace presence {

/// The logger named `name`, created from the default logger on first use.
/// Thread-safe; call it once per folder and keep the reference (see the
/// folder's `*_log()` function).
inline std::shared_ptr<spdlog::logger> folder_logger(const char* name) {
  auto l = spdlog::get(name);
  if (!l) {
    l = spdlog::default_logger()->clone(name);
    // Another thread may have registered it meanwhile: take theirs.
    try {
      spdlog::register_logger(l);
    } catch (const spdlog::spdlog_ex&) {
      l = spdlog::get(name);
    }
  }
  return l;
}

} // namespace presence
