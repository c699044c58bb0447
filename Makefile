# Thin front for the README commands. The real build is CMake + Ninja in build/.
BUILD ?= build
LISTEN ?= 127.0.0.1:8080
ROOT ?= samples
JOBS ?= $(shell nproc)

.PHONY: all build server run install test test-sanitize unit integration bench bench-deps deps test-deps clean format tidy fuzz

all: build

# Only these two run apt (as root, and only for what is missing); build never does.
deps:
	@bash scripts/install_deps.sh build

test-deps:
	@bash scripts/install_deps.sh test

$(BUILD)/build.ninja:
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo

build: $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)

# Only the server, so the first `make run` does not wait for the tests to compile.
server: $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS) --target imageflex

# The packages first, then the build: a sub-make keeps that order under `make -j`. The real
# photographs (samples/photos/, fetched from Debian's archive once) are optional: offline, the
# synthetic samples are served alone.
run: deps
	@$(MAKE) --no-print-directory server
	@if [ "$(ROOT)" = samples ]; then cmake --build $(BUILD) -j $(JOBS) --target sample_tool >/dev/null && \
	  { BUILD=$(BUILD) bash samples/real_photos.sh >/dev/null || echo "(no real photographs: Debian's archive is out of reach)"; }; fi
	@echo "Serving $(ROOT) on http://$(LISTEN) — try:"
	@echo "  http://$(LISTEN)/photos/forest-path.jpg              a real photograph, the original (2560x1600, 900 KB)"
	@echo "  http://$(LISTEN)/photos/forest-path.jpg?w=800        800 px wide, best format your browser takes"
	@echo "  http://$(LISTEN)/photos/moss.jpg?w=400&h=400&f=webp  400x400 cover crop, WebP"
	@echo "  http://$(LISTEN)/photos/pier-exif6.jpg?w=600         stored on its side with EXIF orientation: shown upright"
	@echo "  http://$(LISTEN)/photos/webcam.png?w=200&h=100&fit=contain  a cut-out, letterboxed, transparency kept"
	@echo "  http://$(LISTEN)/spinner.gif?w=64                    animated, every frame kept"
	@echo "  http://$(LISTEN)/_imageflex/stats                    counters (JSON); /_imageflex/metrics for Prometheus"
	@echo "  (samples/photos/LICENSES.md: where the photographs come from; landscape.jpg, logo.png: synthetic)"
	@echo "  http://$(LISTEN)/_imageflex/playground                try parameters on every image (dev profile)"
	$(BUILD)/imageflex serve --root $(ROOT) --listen $(LISTEN)

# The server, its systemd unit, /etc/imageflex/imageflex.env (for PREFIX=/usr; PREFIX/etc otherwise)
# and the docs (docs/operations.md, "Running it as a service"). DESTDIR stages a package.
PREFIX ?= /usr/local
install: server
	cmake --install $(BUILD) --prefix $(PREFIX)

test: test-deps
	@$(MAKE) --no-print-directory build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# The whole suite, unit and integration, built and run under ASan and UBSan (the asan-ubsan
# preset in build-asan/; the test preset sets the sanitizer options and LSan suppressions).
test-sanitize: test-deps
	cmake --preset asan-ubsan
	cmake --build --preset asan-ubsan -j $(JOBS)
	ctest --preset asan-ubsan -j $(JOBS)

unit: build
	cd $(BUILD) && ctest --output-on-failure -L unit

integration: test-deps
	@$(MAKE) --no-print-directory build
	cd $(BUILD) && ctest --output-on-failure -L integration

# BENCH_QUICK=1 make bench: the whole harness in ~5 minutes, to check it (bench/run.sh lists the knobs).
bench: bench-deps
	@$(MAKE) --no-print-directory build
	bash bench/run.sh

bench-deps:
	@bash scripts/install_deps.sh bench

format:
	clang-format -i $$(git ls-files '*.cpp' '*.h')

# The libFuzzer targets (fuzz/, docs/fuzzing.md), built with clang in build-fuzz/: each runs
# FUZZ_SECONDS after replaying fuzz/crashes/; the corpus grows in build-fuzz/corpus/.
FUZZ_SECONDS ?= 600
fuzz: test-deps
	bash fuzz/run.sh build-fuzz $(FUZZ_SECONDS)

# The same clang-tidy run as the `lint` test in `make test`.
tidy: build
	cd $(BUILD) && ctest --output-on-failure -L lint

clean:
	rm -rf $(BUILD)

# The AWS Lambda bundle: build/lambda/imageflex-lambda.zip (docs/architecture.md).
.PHONY: lambda
lambda: deps $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS) --target imageflex
	bash scripts/lambda_bundle.sh $(BUILD)/imageflex $(BUILD)/lambda

# The AWS stack (deploy/aws, docs/aws.md). ENV: dev (default), staging or prod.
ENV ?= $(or $(IF_ENV),dev)
.PHONY: aws-setup aws-update aws-synth aws-test

aws-setup:
	deploy/aws/setup $(ENV)

aws-update:
	deploy/aws/update $(ENV)

# The template, offline: build/aws/image-flex-$(ENV).template.json
aws-synth:
	deploy/aws/synth $(ENV)

aws-test:
	deploy/aws/test.sh
