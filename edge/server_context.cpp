#include "edge/server_context.hpp"

#include <cstdio>

#include <prometheus/gauge.h>
#include <random>
#include <vector>

namespace presence::edge {

session_sink::~session_sink() = default;

server_context::server_context(caf::actor_system& sys, const config& cfg)
  : sys(sys), cfg(cfg) {
  std::random_device rd;
  device_salt_ = (static_cast<uint64_t>(rd()) << 32) ^ rd();
}

uint32_t server_context::count_connection(int delta) {
  auto n = delta > 0 ? ++connections : --connections;
  if (delta > 0)
    probe.connections->Increment();
  else
    probe.connections->Decrement();
  if (stats)
    stats->connections = n;
  return n;
}

uint64_t server_context::add_session(std::weak_ptr<session_sink> s) {
  std::lock_guard<std::mutex> guard{mu_};
  auto key = ++next_key_;
  sessions_.emplace(key, std::move(s));
  return key;
}

void server_context::remove_session(uint64_t key) {
  std::lock_guard<std::mutex> guard{mu_};
  sessions_.erase(key);
}

size_t server_context::close_all(uint16_t code, const std::string& reason) {
  std::vector<std::shared_ptr<session_sink>> live;
  {
    std::lock_guard<std::mutex> guard{mu_};
    for (auto& kvp : sessions_)
      if (auto p = kvp.second.lock())
        live.push_back(std::move(p));
  }
  for (auto& p : live)
    p->close(code, reason);
  return live.size();
}

size_t server_context::live_sessions() {
  std::lock_guard<std::mutex> guard{mu_};
  return sessions_.size();
}

bool server_context::is_sio_path(const std::string& path) const {
  auto strip = [](std::string x) {
    while (x.size() > 1 && x.back() == '/')
      x.pop_back();
    return x;
  };
  auto p = strip(path);
  const auto& all = cfg.edge.sio_paths;
  size_t pos = 0;
  while (pos <= all.size()) {
    auto end = all.find(',', pos);
    if (end == std::string::npos)
      end = all.size();
    auto item = all.substr(pos, end - pos);
    while (!item.empty() && item.front() == ' ')
      item.erase(0, 1);
    while (!item.empty() && item.back() == ' ')
      item.pop_back();
    if (!item.empty() && strip(item) == p)
      return true;
    pos = end + 1;
  }
  return false;
}

std::string server_context::make_device_id() {
  auto n = ++device_counter_;
  char buf[40];
  std::snprintf(buf, sizeof(buf), "dev-%08llx-%llu",
                static_cast<unsigned long long>(device_salt_ & 0xffffffffu),
                static_cast<unsigned long long>(n));
  return buf;
}

} // namespace presence::edge
