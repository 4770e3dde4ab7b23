// libFuzzer target: the JSON bodies of every REST endpoint
// (edge/rest/rest_bodies.hpp and the contacts body) against the
// properties in invariants.hpp.
//
//   build-fuzz/tests/fuzz_rest_bodies -max_total_time=30 CORPUS_DIR \
//     tests/fuzz/corpus/rest

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "tests/fuzz/invariants.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string input(reinterpret_cast<const char*>(data), size);
  auto violation = presence::fuzz::check_rest_bodies(input);
  if (!violation.empty()) {
    std::fprintf(stderr, "property violated: %s\ninput: %s\n",
                 violation.c_str(), presence::fuzz::escape(input).c_str());
    std::abort();
  }
  return 0;
}
