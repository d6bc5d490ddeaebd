# Thin wrapper over meson: each target installs what is missing, then
# configures and builds by itself.
BUILD ?= build

.PHONY: all deps build demo demo-pool test bench clean

all: build

deps:
	@scripts/install-deps.sh

$(BUILD)/build.ninja: | deps
	meson setup $(BUILD) -Dbuildtype=debugoptimized

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

demo: build
	@scripts/demo.sh $(BUILD)

demo-pool: build
	@scripts/demo.sh $(BUILD) --pool

test: deps
	@scripts/test.sh

bench: build
	@scripts/bench.sh $(BUILD)

clean:
	rm -rf build build-sanitize
