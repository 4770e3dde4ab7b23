#include "edge/common/edge_context.hpp"

#include <cstdio>

#include <caf/send.hpp>
#include <prometheus/gauge.h>
#include <random>
#include <vector>

namespace presence::edge {

edge_context::edge_context(caf::actor_system& sys, const config& cfg)
  : sys(sys), cfg(cfg) {
  std::random_device rd;
  device_salt_ = (static_cast<uint64_t>(rd()) << 32) ^ rd();
}

std::shared_ptr<const jwt_keys> edge_context::keys() const {
  return std::atomic_load(&keys_);
}

bool edge_context::reload_keys(std::string& err) {
  auto k = jwt_keys::load(cfg.edge, err);
  if (!k)
    return false;
  std::atomic_store(&keys_, std::move(k));
  return true;
}

void edge_context::record_activity(const activity_cell_ptr& cell, millis now) {
  auto urgent = activity_urgent(activity_gap(cfg), cfg.actors.heartbeat_ttl);
  // With a gap of 0 every activity went at once: no flusher needed.
  if (cell->record(now, urgent) && urgent > 0)
    caf::anon_send(activity, activity_atom::value, cell);
}

void edge_context::track_activity(const activity_cell_ptr& cell) {
  if (cell->hand())
    caf::anon_send(activity, activity_atom::value, cell);
}

uint32_t edge_context::count_connection(int delta) {
  auto n = delta > 0 ? ++connections : --connections;
  if (delta > 0)
    probe.connections->Increment();
  else
    probe.connections->Decrement();
  if (stats)
    stats->connections = n;
  return n;
}

bool edge_context::add_from(const std::string& address) {
  std::lock_guard<std::mutex> guard{address_mu_};
  auto& n = per_address_[address];
  if (n >= cfg.edge.max_connections_per_ip)
    return false;
  ++n;
  return true;
}

void edge_context::remove_from(const std::string& address) {
  std::lock_guard<std::mutex> guard{address_mu_};
  auto i = per_address_.find(address);
  if (i != per_address_.end() && --i->second == 0)
    per_address_.erase(i);
}

uint64_t edge_context::add_session(std::weak_ptr<session_sink> s) {
  std::lock_guard<std::mutex> guard{mu_};
  auto key = ++next_key_;
  sessions_.emplace(key, std::move(s));
  return key;
}

void edge_context::remove_session(uint64_t key) {
  std::lock_guard<std::mutex> guard{mu_};
  sessions_.erase(key);
}

std::vector<std::shared_ptr<session_sink>> edge_context::live() {
  std::vector<std::shared_ptr<session_sink>> result;
  std::lock_guard<std::mutex> guard{mu_};
  result.reserve(sessions_.size());
  for (auto& kvp : sessions_)
    if (auto p = kvp.second.lock())
      result.push_back(std::move(p));
  return result;
}

size_t edge_context::close_all(uint16_t code, const std::string& reason) {
  auto sinks = live();
  for (auto& p : sinks)
    p->close(code, reason);
  return sinks.size();
}

size_t edge_context::tick_sessions() {
  // Outside the lock: a session the last reference to drops here removes
  // itself from sessions_.
  auto sinks = live();
  for (auto& p : sinks)
    p->tick();
  return sinks.size();
}

size_t edge_context::live_sessions() {
  std::lock_guard<std::mutex> guard{mu_};
  return sessions_.size();
}

std::string edge_context::make_device_id() {
  auto n = ++device_counter_;
  char buf[40];
  std::snprintf(buf, sizeof(buf), "dev-%08llx-%llu",
                static_cast<unsigned long long>(device_salt_ & 0xffffffffu),
                static_cast<unsigned long long>(n));
  return buf;
}

} // namespace presence::edge
