# Thin wrapper around meson/ninja. See README.md.
BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
MESON      ?= meson
FUZZ_SECONDS ?= 60

.PHONY: all test unit run bench fuzz clean

all: $(BUILD)/build.ninja
	ninja -C $(BUILD)

$(BUILD)/build.ninja:
	$(MESON) setup $(BUILD) --buildtype=debugoptimized

$(ASAN_BUILD)/build.ninja:
	$(MESON) setup $(ASAN_BUILD) --buildtype=debug -Db_sanitize=address,undefined -Db_lundef=false

# Installs what is missing, builds, starts the test servers and runs every test.
test:
	scripts/install-deps
	scripts/run-tests

run: all
	scripts/run-dev

bench: all
	scripts/run-bench

fuzz:
	FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/run-fuzz

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
