// floor_server: the least a server can do for the load generator's native
// scenarios, to measure what this machine's kernel and cores cost before
// any presence work (docs/benchmarks.md, "the floor"). Not presenced: no
// actors, no store, no fan-out tables; one thread, one epoll set, plain
// sockets. It speaks just enough of presenced's native protocol for
// `loadgen` (and so for bench/native.sh, via PRESENCED_BIN):
//
//   GET /ws?userId=U          -> 101, then {"type":"joined",...}; every
//                                subscribed observer gets U online, and
//                                offline when the socket closes
//   GET /ws/user-status/      -> 101, then {"type":"welcome",...};
//                                {"type":"subscribe",...} -> subscribed
//   {"type":"ping","id":N}    -> {"id":N,"timestamp":"...","type":"pong"}
//   GET /socket.io/ or /api/socketio/ ?EIO=4&transport=websocket: seed
//   000's Socket.IO events as loadgen --protocol sio000 sends them (open
//   packet, CONNECT, join_user with its ack and user_online to every
//   joined socket, user_offline at the close, check_user_online ->
//   user_online_status); no online_users_list, no Engine.IO pings
//   anything else over HTTP   -> 404
//
// The frames have the sizes of presenced's. Arguments presenced takes are
// accepted and ignored, except --listen HOST:PORT and --port-file F.
//   --edge   edge-triggered epoll, each socket read until EAGAIN (what
//            Asio does: one more recvfrom per wake-up); the default is
//            level-triggered with one read per wake-up
#include <arpa/inet.h>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <string>
#include <string_view>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "ws_head.hpp"

namespace {

volatile std::sig_atomic_t stopping = 0;

struct conn {
  int fd = -1;
  bool upgraded = false;
  bool user = false;
  bool sio = false; // Engine.IO / Socket.IO (seed 000)
  bool sio_joined = false;
  bool observer = false; // subscribed to the global feed
  bool want_write = false;
  bool closing = false;
  std::string user_id;
  std::string in;
  std::string out; // bytes the kernel did not take yet
};

int ep = -1;
bool edge = false;
std::unordered_map<int, conn> conns;
std::unordered_set<int> observers;
std::unordered_set<int> sio_joined;             // seed 000: joined sockets
std::unordered_map<std::string, int> sio_users; // user -> sockets joined
uint64_t next_sid = 0;

std::string iso_now() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  tm t{};
  gmtime_r(&ts.tv_sec, &t);
  char b[96];
  std::snprintf(b, sizeof b, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ",
                t.tm_year + 1900, t.tm_mon + 1, t.tm_mday, t.tm_hour, t.tm_min,
                t.tm_sec, ts.tv_nsec / 1000000);
  return b;
}

std::string frame(std::string_view payload, int opcode = 1) {
  std::string f;
  f.push_back(static_cast<char>(0x80 | opcode));
  auto n = payload.size();
  if (n < 126) {
    f.push_back(static_cast<char>(n));
  } else if (n < 65536) {
    f.push_back(126);
    f.push_back(static_cast<char>(n >> 8));
    f.push_back(static_cast<char>(n & 0xff));
  } else {
    f.push_back(127);
    for (int i = 7; i >= 0; --i)
      f.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
  }
  f.append(payload);
  return f;
}

void set_events(conn& c) {
  epoll_event ev{};
  ev.events = EPOLLIN | (c.want_write ? uint32_t{EPOLLOUT} : 0u)
              | (edge ? uint32_t{EPOLLET} : 0u);
  ev.data.fd = c.fd;
  epoll_ctl(ep, EPOLL_CTL_MOD, c.fd, &ev);
}

void drop(int fd);

// Sends at once; what the kernel does not take waits for EPOLLOUT.
void send_bytes(conn& c, std::string_view b) {
  if (c.out.empty()) {
    auto n = ::send(c.fd, b.data(), b.size(), MSG_NOSIGNAL);
    if (n < 0 && errno != EAGAIN)
      return; // the read side sees the error
    if (n < 0)
      n = 0;
    b.remove_prefix(static_cast<size_t>(n));
  }
  if (b.empty())
    return;
  c.out.append(b);
  if (!c.want_write) {
    c.want_write = true;
    set_events(c);
  }
}

void broadcast(const std::string& user_id, bool online) {
  if (observers.empty())
    return;
  auto ts = iso_now();
  std::string p = std::string(R"({"is_online":)") + (online ? "true" : "false")
                  + R"(,"last_seen":")" + ts
                  + R"(","last_seen_ms":1795424080244,"online_since":)"
                  + (online ? "\"" + ts + "\"" : std::string("null"))
                  + R"(,"status":")" + (online ? "online" : "offline")
                  + R"(","type":"user.status.changed","user_id":")" + user_id
                  + R"(","version":1795424080244})";
  auto f = frame(p); // encoded once, written to each
  std::vector<int> to(observers.begin(), observers.end());
  for (int fd : to) {
    auto it = conns.find(fd);
    if (it != conns.end())
      send_bytes(it->second, f);
  }
}

// Seed 000: user_online / user_offline to every joined socket.
void sio_broadcast(const std::string& user_id, bool online) {
  auto f = frame(
    std::string(R"(42[")") + (online ? "user_online" : "user_offline")
    + R"(",{"userId":")" + user_id + R"(","lastSeen":")" + iso_now() + "\"}]");
  std::vector<int> to(sio_joined.begin(), sio_joined.end());
  for (int fd : to) {
    auto it = conns.find(fd);
    if (it != conns.end())
      send_bytes(it->second, f);
  }
}

std::string query_value(std::string_view target, std::string_view key) {
  auto q = target.find('?');
  while (q != std::string_view::npos) {
    auto rest = target.substr(q + 1);
    if (rest.substr(0, key.size()) == key && rest.size() > key.size()
        && rest[key.size()] == '=') {
      auto v = rest.substr(key.size() + 1);
      return std::string(v.substr(0, v.find('&')));
    }
    q = target.find('&', q + 1);
  }
  return {};
}

// The HTTP request: 101 for the two WebSocket paths, 404 for the rest.
bool on_request(conn& c) {
  auto end = c.in.find("\r\n\r\n");
  if (end == std::string::npos)
    return c.in.size() < 16384;
  std::string_view req(c.in.data(), end);
  auto sp1 = req.find(' ');
  auto sp2 = req.find(' ', sp1 + 1);
  auto target = req.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string key;
  for (std::string_view name : {"Sec-WebSocket-Key: ", "sec-websocket-key: "}) {
    auto k = req.find(name);
    if (k != std::string_view::npos) {
      auto v = req.substr(k + name.size());
      key = std::string(v.substr(0, v.find("\r\n")));
    }
  }
  auto starts = [&](std::string_view p) {
    return target.substr(0, p.size()) == p;
  };
  bool status_path = starts("/ws/user-status/");
  bool user_path = starts("/ws?userId=");
  bool sio_path = (starts("/socket.io/?") || starts("/api/socketio/?"))
                  && query_value(target, "transport") == "websocket";
  if (key.empty() || (!status_path && !user_path && !sio_path)) {
    send_bytes(c,
               "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n"
               "Connection: close\r\n\r\n");
    return false;
  }
  key += "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(key.data()), key.size(), digest);
  unsigned char accept[64];
  EVP_EncodeBlock(accept, digest, SHA_DIGEST_LENGTH);
  std::string resp
    = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: "
      "websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ";
  resp += reinterpret_cast<char*>(accept);
  resp += "\r\n\r\n";
  c.in.erase(0, end + 4);
  c.upgraded = true;
  if (sio_path) {
    c.sio = true;
    c.user_id = "sid" + std::to_string(++next_sid); // the sid until a join
    resp += frame(R"(0{"sid":")" + c.user_id
                  + R"(","upgrades":[],"pingInterval":25000,)"
                    R"("pingTimeout":20000,"maxPayload":1000000})");
    send_bytes(c, resp);
  } else if (user_path) {
    c.user = true;
    c.user_id = query_value(target, "userId");
    auto ts = iso_now();
    resp += frame(
      R"({"device_id":"d","type":"joined","user":{"devices":[{"connected_at":")"
      + ts + R"(","device_id":"d","last_active":")" + ts
      + R"(","platform":"web","status":"online","user_agent":""}],)"
      + R"("is_online":true,"last_seen":")" + ts
      + R"(","last_seen_ms":1795424078579,"online_since":")" + ts
      + R"(","status":"online","user_id":")" + c.user_id
      + R"(","version":1795424078579},"user_id":")" + c.user_id + "\"}");
    send_bytes(c, resp);
    broadcast(c.user_id, true);
  } else {
    resp += frame(R"({"device_id":"d","global_feed":false,)"
                  R"("heartbeat_ttl_ms":90000,"server":"presenced",)"
                  R"("type":"welcome","user_id":null})");
    send_bytes(c, resp);
  }
  return true;
}

// One Socket.IO packet of seed 000 (what loadgen sends).
void on_sio(conn& c, const std::string& p, std::string& replies) {
  if (p == "40") {
    replies += frame(R"(40{"sid":")" + c.user_id + "\"}");
    return;
  }
  if (p.size() < 3 || p[0] != '4' || p[1] != '2')
    return; // "3" (pong) and the rest
  size_t i = 2;
  while (i < p.size() && p[i] >= '0' && p[i] <= '9')
    ++i;
  auto ack = p.substr(2, i - 2);
  auto body = std::string_view(p).substr(i);
  auto arg = [&]() -> std::string {
    auto k = body.find("\",\"");
    if (k == std::string_view::npos)
      return {};
    auto v = body.substr(k + 3);
    return std::string(v.substr(0, v.find('"')));
  };
  if (body.rfind(R"(["check_user_online")", 0) == 0) {
    auto u = arg();
    bool on = sio_users.count(u) > 0;
    replies += frame(std::string(R"(42["user_online_status",{"online":)")
                     + (on ? "true" : "false") + R"(,"userId":")" + u + "\"}]");
  } else if (body.rfind(R"(["join_user")", 0) == 0 && !c.sio_joined) {
    c.user_id = arg();
    c.sio_joined = true;
    sio_joined.insert(c.fd);
    ++sio_users[c.user_id];
    if (!ack.empty())
      replies += frame("43" + ack + R"([{"success":true,"userId":")" + c.user_id
                       + "\"}]");
    sio_broadcast(c.user_id, true);
  }
}

// The client's frames (masked; a frame is handled once it is whole).
bool on_frames(conn& c) {
  size_t pos = 0;
  std::string replies;
  bool keep = true;
  while (keep) {
    auto* b = reinterpret_cast<const unsigned char*>(c.in.data() + pos);
    size_t avail = c.in.size() - pos;
    ws_head head;
    if (!read_ws_head(b, avail, head))
      break;
    int opcode = head.op;
    uint64_t len = head.len;
    size_t h = head.size;
    if (!head.masked || len > (1u << 20))
      return false;
    if (avail < h + 4 + len)
      break;
    const unsigned char* mask = b + h;
    std::string p(len, '\0');
    for (uint64_t i = 0; i < len; ++i)
      p[i] = static_cast<char>(b[h + 4 + i] ^ mask[i % 4]);
    pos += h + 4 + len;
    if (opcode == 8) { // close: answer it, then go
      replies += frame({}, 8);
      keep = false;
    } else if (opcode == 9) {
      replies += frame(p, 10);
    } else if (opcode == 1 && c.sio) {
      on_sio(c, p, replies);
    } else if (opcode == 1) {
      if (p.find(R"("type":"ping")") != std::string::npos) {
        std::string id = "1";
        auto k = p.find(R"("id":)");
        if (k != std::string::npos) {
          auto v = p.substr(k + 5);
          id = v.substr(0, v.find_first_of(",}"));
        }
        replies += frame(R"({"id":)" + id + R"(,"timestamp":")" + iso_now()
                         + R"(","type":"pong"})");
      } else if (p.find(R"("type":"subscribe")") != std::string::npos) {
        observers.insert(c.fd);
        c.observer = true;
        replies += frame(R"({"global":true,"id":"obs","type":"subscribed",)"
                         R"("user_ids":[]})");
      }
    }
  }
  c.in.erase(0, pos);
  if (!replies.empty())
    send_bytes(c, replies); // one write per read, as presenced
  return keep;
}

void drop(int fd) {
  auto it = conns.find(fd);
  if (it == conns.end())
    return;
  bool user = it->second.user && it->second.upgraded;
  bool sio_user = it->second.sio_joined;
  std::string id = it->second.user_id;
  observers.erase(fd);
  if (sio_user) {
    sio_joined.erase(fd);
    if (--sio_users[id] == 0)
      sio_users.erase(id);
  }
  epoll_ctl(ep, EPOLL_CTL_DEL, fd, nullptr);
  ::close(fd);
  conns.erase(it);
  if (user)
    broadcast(id, false);
  if (sio_user)
    sio_broadcast(id, false);
}

void on_readable(int fd) {
  char buf[16384];
  for (;;) {
    auto it = conns.find(fd);
    if (it == conns.end())
      return;
    auto& c = it->second;
    auto n = ::recv(fd, buf, sizeof buf, 0);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
      return drop(fd);
    if (n < 0)
      return;
    c.in.append(buf, static_cast<size_t>(n));
    bool keep = c.upgraded ? on_frames(c) : on_request(c);
    if (!keep) {
      // Whatever was queued (a 404, a close frame) goes first.
      if (c.out.empty())
        return drop(fd);
      c.closing = true;
      ::shutdown(fd, SHUT_RD);
      return;
    }
    if (!edge)
      return; // level-triggered: epoll says when there is more
  }
}

void on_writable(int fd) {
  auto it = conns.find(fd);
  if (it == conns.end())
    return;
  auto& c = it->second;
  while (!c.out.empty()) {
    auto n = ::send(fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EAGAIN)
        return;
      return drop(fd);
    }
    c.out.erase(0, static_cast<size_t>(n));
  }
  if (c.closing)
    return drop(fd);
  c.want_write = false;
  set_events(c);
}

} // namespace

int main(int argc, char** argv) {
  std::string listen_at = "127.0.0.1:0", port_file;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--listen" && i + 1 < argc)
      listen_at = argv[++i];
    else if (a == "--port-file" && i + 1 < argc)
      port_file = argv[++i];
    else if (a == "--edge")
      edge = true;
  }
  std::signal(SIGTERM, [](int) { stopping = 1; });
  std::signal(SIGINT, [](int) { stopping = 1; });
  auto colon = listen_at.rfind(':');
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(
    static_cast<uint16_t>(std::stoi(listen_at.substr(colon + 1))));
  inet_pton(AF_INET, listen_at.substr(0, colon).c_str(), &sa.sin_addr);
  int lfd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  int one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(lfd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0
      || ::listen(lfd, 4096) != 0) {
    std::perror("floor_server: listen");
    return 1;
  }
  socklen_t sl = sizeof sa;
  getsockname(lfd, reinterpret_cast<sockaddr*>(&sa), &sl);
  if (!port_file.empty()) {
    auto tmp = port_file + ".tmp";
    if (FILE* f = std::fopen(tmp.c_str(), "w")) {
      std::fprintf(f, "%d\n", ntohs(sa.sin_port));
      std::fclose(f);
      std::rename(tmp.c_str(), port_file.c_str());
    }
  }
  ep = epoll_create1(0);
  epoll_event lev{};
  lev.events = EPOLLIN;
  lev.data.fd = lfd;
  epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &lev);
  std::vector<epoll_event> evs(1024);
  while (!stopping) {
    int n = epoll_wait(ep, evs.data(), static_cast<int>(evs.size()), 500);
    for (int i = 0; i < n; ++i) {
      int fd = evs[i].data.fd;
      if (fd == lfd) {
        for (;;) {
          int c = ::accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK);
          if (c < 0)
            break;
          setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          auto& cn = conns[c];
          cn.fd = c;
          epoll_event ev{};
          ev.events = EPOLLIN | (edge ? uint32_t{EPOLLET} : 0u);
          ev.data.fd = c;
          epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev);
        }
        continue;
      }
      if (evs[i].events & EPOLLOUT)
        on_writable(fd);
      if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
        on_readable(fd);
    }
  }
  return 0;
}
