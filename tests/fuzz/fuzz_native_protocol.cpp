// libFuzzer target: presence::edge::parse_native and the encoders on what it
// accepts. Build with -DPRESENCE_FUZZ=ON and clang (tests/CMakeLists.txt).
//
//   build-fuzz/tests/fuzz_native_protocol -dict=tests/fuzz/native.dict \
//     -max_total_time=30 CORPUS_DIR tests/fuzz/corpus/native
//
// Set PRESENCE_FUZZ_STRICT_IDS=1 to also require that ids sent as JSON
// integers keep their value (currently violated for integers above
// INT64_MAX; see tests/edge/native_protocol_test.cpp).

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "tests/fuzz/invariants.hpp"

namespace {

bool strict_ids() {
  static const bool on = [] {
    auto v = std::getenv("PRESENCE_FUZZ_STRICT_IDS");
    return v != nullptr && v[0] == '1';
  }();
  return on;
}

void require(const std::string& violation, const std::string& input) {
  if (violation.empty())
    return;
  std::fprintf(stderr, "property violated: %s\ninput: %s\n", violation.c_str(),
               presence::fuzz::escape(input).c_str());
  std::abort();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string input(reinterpret_cast<const char*>(data), size);
  require(presence::fuzz::check_native(input), input);
  if (strict_ids())
    require(presence::fuzz::check_native_numeric_ids(input), input);
  return 0;
}
