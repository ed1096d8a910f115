# plumb - a GitOps engine.
#
#   make            build build/plumb
#   make deps       install the build dependencies (Debian 12, apt-get)
#   make run        deps + build + sync examples/ into ./run/root
#   make test       deps + test deps + the kube test binaries + sanitizer build + every test
#   make install PREFIX=/usr/local

PREFIX ?= /usr/local
CC ?= cc
PKGS := libgit2 libfyaml jansson sqlite3 libcrypto libmicrohttpd libcurl
# Debian packages that provide PKGS (same order), libjsonnet (no pkg-config file: JSONNET_LIBS),
# then what tests need (jsonnet: the command the render tests compare with).
DEB_BUILD := libgit2-dev libfyaml-dev libjansson-dev libsqlite3-dev libssl-dev libmicrohttpd-dev \
	libcurl4-openssl-dev libjsonnet-dev pkg-config gcc libc6-dev make
DEB_TEST := git curl sqlite3 openssl python3 python3-yaml util-linux procps age pass gnupg strace chromium jsonnet \
	nginx fcgiwrap openssh-server openssh-client apache2-utils
# The dashboard's browser test: Playwright's library (no browser download) drives Debian's chromium.
PLAYWRIGHT := playwright-core@1.60.0
NODE_MODULES := build/test/node/node_modules

VERSION := $(shell cat VERSION 2>/dev/null || echo 0.0.0)
WARNINGS := -std=c11 -Wall -Wextra -Werror -Wvla -Wstrict-prototypes -Wshadow -Wno-unused-parameter
BASE_CFLAGS = $(WARNINGS) -Isrc -DPLUMB_VERSION='"$(VERSION)"' $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
# libmicrohttpd and libcurl are not linked: the server loads the one when it starts
# (src/serve/http.c), a cluster connection the other when it opens
# (src/providers/kubernetes/client.c).
JSONNET_LIBS := -ljsonnet
LIBS = $(shell pkg-config --libs $(filter-out libmicrohttpd libcurl,$(PKGS)) 2>/dev/null) $(JSONNET_LIBS)

CFLAGS ?= -O2 -g
# gcc 12 with -fsanitize=undefined misreads vsnprintf(NULL, 0, ...) as a null format string.
SAN_FLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all \
	-Wno-format-truncation

SOURCES := $(sort $(shell find src -name "*.c"))
LIB_SOURCES := $(filter-out src/main.c,$(SOURCES))
UNIT_SOURCES := $(sort $(wildcard tests/unit/test_*.c))

OBJECTS := $(SOURCES:%.c=build/release/%.o)
SAN_OBJECTS := $(SOURCES:%.c=build/test/%.o)
SAN_LIB_OBJECTS := $(LIB_SOURCES:%.c=build/test/%.o)
UNIT_BINARIES := $(UNIT_SOURCES:tests/unit/%.c=build/test/unit/%)

.PHONY: all deps test-deps run test unit e2e install clean format

all: build/plumb

build/plumb: $(OBJECTS)
	$(CC) $(CFLAGS) -o $@ $^ $(LIBS)

build/release/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(CFLAGS) -MMD -MP -c -o $@ $<

build/test/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(SAN_FLAGS) -MMD -MP -c -o $@ $<

build/test/plumb: $(SAN_OBJECTS)
	$(CC) $(SAN_FLAGS) -o $@ $^ $(LIBS)

build/test/unit/%: tests/unit/%.c tests/unit/test.h $(SAN_LIB_OBJECTS)
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) -Itests/unit $(SAN_FLAGS) -o $@ $< $(SAN_LIB_OBJECTS) $(LIBS)

# The cluster connection's and the kubernetes provider's tests, run against a real API server
# by tests/e2e/kube_client.sh and tests/e2e/kube_provider.sh.
KUBE_TEST_BINARIES := build/test/kube/test_client build/test/kube/test_provider

build/test/kube/%: tests/kube/%.c tests/unit/test.h $(SAN_LIB_OBJECTS)
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) -Itests/unit $(SAN_FLAGS) -o $@ $< $(SAN_LIB_OBJECTS) $(LIBS)

-include $(OBJECTS:.o=.d) $(SAN_OBJECTS:.o=.d)

# The dashboard is assembled into web.o (.incbin), which -MMD cannot see.
WEB_ASSETS := web/index.html web/app.js web/style.css
build/release/src/serve/web.o build/test/src/serve/web.o: $(WEB_ASSETS)

# Install what pkg-config cannot find, and nothing when all is present.
deps:
	@missing=""; \
	for p in $(DEB_BUILD); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

test-deps: deps
	@missing=""; \
	for p in $(DEB_TEST); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	command -v npm >/dev/null 2>&1 || missing="$$missing nodejs npm"; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi
	@[ -d $(NODE_MODULES)/playwright-core ] || \
		npm install --no-audit --no-fund --loglevel=error --prefix build/test/node $(PLAYWRIGHT)

run: deps
	$(MAKE) build/plumb
	./examples/run.sh

# tests/kube/build builds the real API server the kube tests run against (installing Go on a
# bare Debian 12; a no-op once its stamp matches, 9-18 minutes the first time on 2 cores);
# tests/kustomize/build the kustomize program the render tests run (under a minute);
# tests/helm/build the helm program (a few minutes); tests/registry/build the OCI registry
# charts are pushed to (a minute).
test: test-deps
	./tests/kube/build
	./tests/kustomize/build
	./tests/helm/build
	./tests/registry/build
	$(MAKE) build/test/plumb $(UNIT_BINARIES) $(KUBE_TEST_BINARIES)
	./tests/run

install: build/plumb
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 build/plumb $(DESTDIR)$(PREFIX)/bin/plumb
	install -d $(DESTDIR)$(PREFIX)/share/doc/plumb
	install -m 0644 README.md docs/*.md contrib/plumb.service $(DESTDIR)$(PREFIX)/share/doc/plumb/

format:
	clang-format -i $(SOURCES) $(wildcard src/*.h src/*/*.h src/*/*/*.h) $(UNIT_SOURCES)

clean:
	rm -rf build run
