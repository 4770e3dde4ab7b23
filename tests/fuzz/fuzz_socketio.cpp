// libFuzzer target: the Engine.IO and Socket.IO codecs
// (edge/socketio/socketio_codec.*) against check_socketio in invariants.hpp:
// the input as one Engine.IO packet, as a polling payload and as a
// Socket.IO packet; whatever parses must re-encode to the same packet.
//
//   build-fuzz/tests/fuzz_socketio -dict=tests/fuzz/socketio.dict \
//     -max_total_time=60 CORPUS_DIR tests/fuzz/corpus/socketio

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "tests/fuzz/invariants.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string input(reinterpret_cast<const char*>(data), size);
  auto violation = presence::fuzz::check_socketio(input);
  if (!violation.empty()) {
    std::fprintf(stderr, "property violated: %s\ninput: %s\n",
                 violation.c_str(), presence::fuzz::escape(input).c_str());
    std::abort();
  }
  return 0;
}
