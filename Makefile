# The two commands of the README:
#   make run   - install what is missing, build, start a dev server on
#                127.0.0.1:8080 with data in ./data
#   make test  - install what is missing, build, run every test
# Everything else here is a convenience.

BUILD ?= build
JOBS ?= $(shell nproc)
ARGS ?=
CTEST_JOBS ?= 2

FUZZ_SECONDS ?= 60

.PHONY: all deps test-deps configure build run test unit e2e fuzz chaos package clean

all: build

deps:
	@scripts/deps.sh build

test-deps:
	@scripts/deps.sh test
	@cd tests && npm ci --no-audit --no-fund --loglevel=error

configure:
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null

build: deps configure
	@cmake --build $(BUILD) -j$(JOBS)

run: build
	$(BUILD)/app/presenced $(ARGS)

test: test-deps build
	@cd $(BUILD) && ctest --output-on-failure -j$(CTEST_JOBS) --timeout 300
	@scripts/fuzz.sh 5

# Every parser under libFuzzer (clang, ASan + UBSan) for FUZZ_SECONDS each;
# make test runs the same for 5 s each.
fuzz: deps
	@scripts/deps.sh fuzz
	@scripts/fuzz.sh $(FUZZ_SECONDS)

unit: build
	@cd $(BUILD) && ctest --output-on-failure -j$(CTEST_JOBS) -L unit

e2e: test-deps build
	@cd $(BUILD) && ctest --output-on-failure -j$(CTEST_JOBS) -L e2e

# The long chaos run of a 3-node cluster (tests/e2e/chaos.test.mjs; its
# short version, 90 users and 4 rounds, runs in make test).
CHAOS_USERS ?= 600
CHAOS_ROUNDS ?= 10
chaos: test-deps build
	@CHAOS_USERS=$(CHAOS_USERS) CHAOS_ROUNDS=$(CHAOS_ROUNDS) \
	  PRESENCED_BIN=$(BUILD)/app/presenced \
	  node --test --test-reporter=spec tests/e2e/chaos.test.mjs

# The Debian package: $(BUILD)/presenced_<version>_amd64.deb (binary
# stripped, systemd unit, /etc/presenced/presenced.toml; packaging/README.md).
package: deps configure
	@scripts/deps.sh package
	@cmake --build $(BUILD) -j$(JOBS) --target presenced
	@cd $(BUILD) && cpack -G DEB

clean:
	rm -rf $(BUILD) build-fuzz
