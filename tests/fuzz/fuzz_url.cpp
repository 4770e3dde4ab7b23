// libFuzzer target: presence::edge::parse_target, percent_decode and
// query_param against the properties in invariants.hpp (including a
// reference for which inputs must be accepted).
//
//   build-fuzz/tests/fuzz_url -max_total_time=30 CORPUS_DIR \
//     tests/fuzz/corpus/url

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "tests/fuzz/invariants.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string input(reinterpret_cast<const char*>(data), size);
  auto violation = presence::fuzz::check_target(input);
  if (!violation.empty()) {
    std::fprintf(stderr, "property violated: %s\ninput: %s\n",
                 violation.c_str(), presence::fuzz::escape(input).c_str());
    std::abort();
  }
  return 0;
}
