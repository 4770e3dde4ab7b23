// libFuzzer target: presence::edge::ws::frame_parser, the WebSocket frames
// a client sends (edge/transport/ws_frame.hpp). Every event must use bytes
// that are there, text must be valid UTF-8, a message must stay within the
// limit, and the same bytes fed in two pieces must give the same events.
//
//   build-fuzz/tests/fuzz_ws_frame -max_total_time=30 CORPUS_DIR \
//     tests/fuzz/corpus/ws_frame

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "edge/transport/ws_frame.hpp"

using namespace presence::edge::ws;

namespace {

constexpr std::size_t max_message = 1024;

[[noreturn]] void violated(const char* what) {
  std::fprintf(stderr, "property violated: %s\n", what);
  std::abort();
}

/// Every event in `input`, fed `split` bytes first and the rest after.
std::vector<std::string> events(std::string input, std::size_t split) {
  frame_parser p{max_message};
  std::vector<std::string> out;
  std::string buf = input.substr(0, split);
  std::size_t fed = buf.size();
  for (;;) {
    std::size_t used = 0;
    for (;;) {
      auto ev = p.next(buf.data() + used, buf.size() - used);
      if (ev.kind == event::need_more)
        break;
      if (ev.kind == event::error) {
        out.push_back("error " + std::to_string(ev.code));
        return out;
      }
      if (ev.consumed == 0 || ev.consumed > buf.size() - used)
        violated("an event used bytes that are not there");
      if (ev.kind == event::text && !valid_utf8(ev.payload))
        violated("a text message that is not UTF-8");
      if (ev.payload.size() > max_message)
        violated("a message over the limit");
      out.push_back(std::to_string(ev.kind) + ":" + std::string{ev.payload});
      used += ev.consumed;
    }
    buf.erase(0, used);
    if (fed == input.size())
      return out;
    buf += input.substr(fed);
    fed = input.size();
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string input(reinterpret_cast<const char*>(data), size);
  auto whole = events(input, size);
  auto split = events(input, size / 2);
  if (whole != split)
    violated("the events depend on how the bytes arrive");
  return 0;
}
