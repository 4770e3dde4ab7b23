# Third-party dependencies, all from Debian packages (see scripts/deps.sh).

# CAF 0.17.6 ships neither a CMake config nor a pkg-config file: wrap it once.
find_path(CAF_INCLUDE_DIR caf/all.hpp REQUIRED)
find_library(CAF_CORE_LIBRARY caf_core REQUIRED)
find_library(CAF_IO_LIBRARY caf_io REQUIRED)
add_library(caf::core SHARED IMPORTED GLOBAL)
set_target_properties(caf::core PROPERTIES
  IMPORTED_LOCATION "${CAF_CORE_LIBRARY}"
  INTERFACE_INCLUDE_DIRECTORIES "${CAF_INCLUDE_DIR}")
add_library(caf::io SHARED IMPORTED GLOBAL)
set_target_properties(caf::io PROPERTIES
  IMPORTED_LOCATION "${CAF_IO_LIBRARY}"
  INTERFACE_LINK_LIBRARIES caf::core)
# Mutual TLS between nodes (cluster/cluster_tls.*).
find_library(CAF_OPENSSL_LIBRARY caf_openssl REQUIRED)
add_library(caf::openssl SHARED IMPORTED GLOBAL)
set_target_properties(caf::openssl PROPERTIES
  IMPORTED_LOCATION "${CAF_OPENSSL_LIBRARY}"
  INTERFACE_LINK_LIBRARIES caf::io)

find_package(Threads REQUIRED)
find_package(Boost 1.81 CONFIG REQUIRED COMPONENTS headers)
# RocksDB::rocksdb is the static archive; the shared one keeps binaries small.
find_package(RocksDB CONFIG REQUIRED)
find_package(nlohmann_json 3.11 CONFIG REQUIRED)
find_package(OpenSSL REQUIRED)
find_package(spdlog CONFIG REQUIRED)
find_package(CLI11 CONFIG REQUIRED)
find_package(prometheus-cpp CONFIG REQUIRED)

find_path(JWT_INCLUDE_DIR jwt.h REQUIRED)
find_library(JWT_LIBRARY jwt REQUIRED)
add_library(jwt::jwt SHARED IMPORTED GLOBAL)
set_target_properties(jwt::jwt PROPERTIES
  IMPORTED_LOCATION "${JWT_LIBRARY}"
  INTERFACE_INCLUDE_DIRECTORIES "${JWT_INCLUDE_DIR}")

if(PRESENCE_BUILD_TESTS)
  find_package(Catch2 2.13 CONFIG REQUIRED)
  include(Catch)
endif()
