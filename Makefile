# Quick start on a fresh Debian 12 machine:  make demo   |   make test
# Everything the targets need is installed by scripts/bootstrap (apt packages, Kafka jars).
BUILD_DIR ?= build
CMAKE_FLAGS ?=
JOBS ?= $(shell nproc)

.PHONY: all bootstrap build test test-unit demo bench fuzz lint chaos stack-up stack-down clean

all: build

bootstrap:
	@scripts/bootstrap

$(BUILD_DIR)/build.ninja:
	cmake -S . -B $(BUILD_DIR) -G Ninja $(CMAKE_FLAGS)

build: bootstrap $(BUILD_DIR)/build.ninja
	cmake --build $(BUILD_DIR) -j $(JOBS)

# Unit tests, then integration and end-to-end tests against the real PostgreSQL and Kafka
# (started and stopped here unless already running or given by LOTTERY_PG_DSN/LOTTERY_KAFKA_BOOTSTRAP).
test: build
	scripts/with-stack ctest --test-dir $(BUILD_DIR) --output-on-failure --timeout 900

test-unit: build
	ctest --test-dir $(BUILD_DIR) --output-on-failure -L unit

demo: build
	scripts/with-stack scripts/demo

bench: build
	scripts/with-stack bench/run

fuzz: bootstrap
	scripts/fuzz 60

# A bounded, randomized fault run on a private stack (.local/chaos), not part of make test:
# >= 50 faults over >= 100,000 stakes in ~20 minutes, then SQL and read_committed proofs.
# CHAOS_SEED=N replays a schedule; scripts/chaos --short is the CI variant (docs/reliability.md).
chaos: build
	BIN=$(abspath $(BUILD_DIR))/bin scripts/chaos

# clang-format and clang-tidy (see .clang-format, .clang-tidy).
lint: build
	BUILD_DIR=$(BUILD_DIR) scripts/lint

stack-up: bootstrap
	scripts/stack up
	@scripts/stack env

stack-down:
	scripts/stack down

clean:
	rm -rf $(BUILD_DIR)
