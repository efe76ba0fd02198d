# stasis: checkpoint/restore for OCI containers.  `make help` lists the targets.
VERSION := 0.1.0
# the soname carries the major version only: libstasis.so.0 -> libstasis.so.0.1.0
SOVERSION := $(firstword $(subst ., ,$(VERSION)))
SO_NAME := libstasis.so.$(SOVERSION)
SO_REAL := libstasis.so.$(VERSION)
BUILD ?= build
# targets keep BUILD as given (`make build/stasis` works); what runs from elsewhere (the test runners,
# the demo) gets the absolute path, whether BUILD was relative or absolute
ABS_BUILD := $(abspath $(BUILD))
CC ?= cc
LD ?= ld
AR ?= ar
OBJCOPY ?= objcopy
PKG_CONFIG ?= pkg-config
PREFIX ?= /usr/local
DESTDIR ?=

PKGS := libprotobuf-c yajl libarchive libzstd libcrypto libssl libselinux libapparmor libnl-3.0 libnl-route-3.0 libcap
# pkg-config is asked once, and only when a recipe needs the libraries: help, clean, deps, format, lint
# and uninstall work on a machine where `make deps` has not run yet; everything that compiles stops
# there with the names of the missing packages.
PKG_CFLAGS = $(eval PKG_CFLAGS := $(call pkg_query,--cflags))$(PKG_CFLAGS)
PKG_LIBS = $(eval PKG_LIBS := $(call pkg_query,--libs))$(PKG_LIBS)
pkg_query = $(call pkg_checked,$(shell $(PKG_CONFIG) $(1) $(PKGS) 2>/dev/null || echo @PKG-CONFIG-FAILED@))
pkg_checked = $(if $(filter @PKG-CONFIG-FAILED@,$(1)),$(error $(pkg_why)),$(1))
pkg_missing = $(shell for p in $(PKGS); do $(PKG_CONFIG) --exists "$$p" 2>/dev/null || echo "$$p"; done)
pkg_why = $(if $(shell command -v $(PKG_CONFIG) 2>/dev/null),$(pkg_what),`$(PKG_CONFIG)` is not installed): \
	run `make deps` (as root), which installs the -dev packages stasis builds with
pkg_what = $(if $(strip $(pkg_missing)),pkg-config finds no $(strip $(pkg_missing)),`$(PKG_CONFIG) --cflags \
	--libs $(PKGS)` fails: $(shell $(PKG_CONFIG) --cflags --libs $(PKGS) 2>&1 >/dev/null | head -n1))

WARN := -Wall -Wextra -Wformat=2 -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	-Wpointer-arith -Wundef -Wimplicit-fallthrough -Werror
BASE_CFLAGS := -std=gnu11 -D_GNU_SOURCE -DSTASIS_VERSION='"$(VERSION)"' -g -fPIC \
	-fvisibility=hidden -I. -Iinclude -I$(BUILD)/proto
OPT ?= -O2
SAN ?=
ALL_CFLAGS = $(BASE_CFLAGS) $(OPT) $(SAN) $(PKG_CFLAGS) $(CFLAGS)
ALL_LDFLAGS = $(SAN) $(LDFLAGS)
# each compile writes which headers it read (build/obj/x.d); -MP keeps a deleted header from breaking make
DEPFLAGS = -MMD -MP -MT $@ -MF $(1)

PROTOS := $(wildcard proto/*.proto)
PROTO_C := $(patsubst proto/%.proto,$(BUILD)/proto/%.pb-c.c,$(PROTOS))
PROTO_H := $(PROTO_C:.c=.h)
LIB_SRC := $(sort $(wildcard common/*.c oci/*.c mounts/*.c lsm/*.c engine/*.c engine/*/*.c))
LIB_OBJ := $(patsubst %.c,$(BUILD)/obj/%.o,$(LIB_SRC)) $(PROTO_C:.c=.o)
CLI_SRC := $(sort $(wildcard runtime-hooks/*.c))
CLI_OBJ := $(patsubst %.c,$(BUILD)/obj/%.o,$(CLI_SRC))
UNIT_SRC := $(sort $(wildcard unit/test-*.c))
UNIT_BIN := $(patsubst unit/%.c,$(BUILD)/unit/%,$(UNIT_SRC))
FUZZ_TARGETS := image-reader archive-walk oci-json mountinfo toml archive-serve
INTEG_TOOLS := $(BUILD)/integration/workload $(BUILD)/integration/stasis-proc
# the tests, the fuzzers, the CLI and stasis-proc link every library object with its symbols visible;
# what is installed (libstasis.so, libstasis.a) exports stasis_* only
INTERNAL_A := $(BUILD)/libstasis-internal.a
LIB_FILES := $(BUILD)/$(SO_REAL) $(BUILD)/$(SO_NAME) $(BUILD)/libstasis.so $(BUILD)/libstasis.a $(INTERNAL_A)
MAN1 := $(wildcard docs/man/*.1)
MAN3 := $(wildcard docs/man/*.3)

# scripts/deps.sh writes these once it has installed the packages and fetched the private CRIU and
# crun: `make demo` and `make check` run the dependency step themselves when one is missing
DEPS_STAMP := .deps/criu/.complete .deps/crun/.complete
STASIS_CRIU ?= $(CURDIR)/.deps/criu/bin/criu
TEST_ENV = STASIS_BUILD=$(ABS_BUILD) STASIS_CRIU=$(STASIS_CRIU)
# make soak: how many checkpoint/restore cycles
SOAK_CYCLES ?= 100

.PHONY: all deps check check-install unit integration asan lint format fuzz bench demo soak install \
	uninstall clean help
.DELETE_ON_ERROR:
# no .SECONDARY: every file is named as a target or prerequisite (so none is an intermediate that
# make deletes), and a deleted generated header or object is remade

# stasis run under these names is an engine's OCI runtime delegating to runc or crun (docs/podman.md)
SHIM_LINKS := $(BUILD)/stasis-runc $(BUILD)/stasis-crun

all: $(BUILD)/stasis $(SHIM_LINKS) $(LIB_FILES) $(BUILD)/stasis.pc $(INTEG_TOOLS)

help:
	@echo "make all            (or just make) build $(BUILD)/stasis, libstasis.so/.a, stasis.pc, test tools"
	@echo "make demo           checkpoint and restore a live workload, step by step (root)"
	@echo "make check          build, check-install, unit + integration tests (root, real CRIU)"
	@echo "make deps           install every Debian package, the private CRIU and crun (.deps, root);"
	@echo "                    demo and check run it first when it has not run yet"
	@echo "make unit           cmocka unit tests (no root)"
	@echo "make integration    bats integration tests (root)"
	@echo "make asan           unit tests under ASan/UBSan (in build-asan)"
	@echo "make lint           clang-format check, cppcheck, include-layer rules, this help, man pages"
	@echo "make format         reformat the sources"
	@echo "make fuzz           build with clang (in build-fuzz) and run the libFuzzer targets FUZZ_TIME s"
	@echo "make bench          side-by-side benchmarks"
	@echo "make soak           SOAK_CYCLES ($(SOAK_CYCLES)) checkpoint/restore cycles, each verified, then no leftovers"
	@echo "make install        install into DESTDIR/PREFIX (PREFIX=$(PREFIX))"
	@echo "make uninstall      remove what make install put in DESTDIR/PREFIX"
	@echo "make check-install  install into a scratch DESTDIR: exports, links, pkg-config, man pages"
	@echo "make clean          remove build, build-asan, build-fuzz and BUILD"
	@echo "make help           this list"
	@echo "variables: BUILD=$(BUILD) PREFIX DESTDIR CC OPT CFLAGS LDFLAGS PKG_CONFIG STASIS_CRIU FUZZ_TIME SOAK_CYCLES"

deps:
	@scripts/deps.sh

# grouped: one run of deps.sh makes both
$(DEPS_STAMP) &:
	@scripts/deps.sh

# one protoc-c run writes both (a pattern rule with two targets)
$(BUILD)/proto/%.pb-c.c $(BUILD)/proto/%.pb-c.h: proto/%.proto
	@mkdir -p $(@D)
	@command -v protoc-c >/dev/null || { echo "protoc-c is not installed: run \`make deps\`" >&2; exit 1; }
	protoc-c --proto_path=proto --c_out=$(BUILD)/proto $<

# generated code is protoc-c's, not ours: our warning list does not apply to it
$(PROTO_C:.c=.o): %.o: %.c
	$(CC) $(ALL_CFLAGS) $(call DEPFLAGS,$(@:.o=.d)) -c -o $@ $<

# the generated headers exist before anything compiles; which of them (and of ours) an object
# really reads comes from its .d file
$(BUILD)/obj/%.o: %.c | $(PROTO_H)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(WARN) $(call DEPFLAGS,$(@:.o=.d)) -c -o $@ $<

$(INTERNAL_A): $(LIB_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

# the installed archive: all objects linked into one relocatable object in which only stasis_* stays
# global (what libstasis.sym exports from the shared library), so a static user inherits no xmalloc
$(BUILD)/libstasis.a: $(LIB_OBJ)
	$(LD) -r -o $(BUILD)/obj/libstasis.o $^
	$(OBJCOPY) --localize-hidden -w --keep-global-symbol='stasis_*' $(BUILD)/obj/libstasis.o
	@rm -f $@
	$(AR) rcs $@ $(BUILD)/obj/libstasis.o

$(BUILD)/$(SO_REAL): $(LIB_OBJ) libstasis.sym
	$(CC) -shared -Wl,-soname,$(SO_NAME) -Wl,--version-script=libstasis.sym $(ALL_LDFLAGS) -o $@ \
		$(LIB_OBJ) $(PKG_LIBS)

$(BUILD)/$(SO_NAME): $(BUILD)/$(SO_REAL)
	ln -sf $(SO_REAL) $@

$(BUILD)/libstasis.so: $(BUILD)/$(SO_NAME)
	ln -sf $(SO_NAME) $@

# rewritten only when its text changes: it carries PREFIX, so `make install PREFIX=/usr` after a
# plain `make` installs a stasis.pc that says /usr
$(BUILD)/stasis.pc: stasis.pc.in FORCE
	@mkdir -p $(@D)
	@sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(VERSION)|g' -e 's|@LIBS_PRIVATE@|$(PKG_LIBS)|g' \
		$< >$@.tmp
	@if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv -f $@.tmp $@ && echo "GEN $@ (prefix $(PREFIX))"; fi

FORCE:

$(BUILD)/stasis: $(CLI_OBJ) $(INTERNAL_A)
	$(CC) $(ALL_LDFLAGS) -o $@ $(CLI_OBJ) $(INTERNAL_A) $(PKG_LIBS)

$(SHIM_LINKS): $(BUILD)/stasis
	ln -sf stasis $@

# the runtime shim's argument reader is the CLI's, not the library's
$(BUILD)/unit/test-shim-args: $(BUILD)/obj/runtime-hooks/shim-args.o

$(BUILD)/unit/%: unit/%.c $(INTERNAL_A) | $(PROTO_H)
	@mkdir -p $(@D) $(BUILD)/obj/unit
	$(CC) $(ALL_CFLAGS) $(WARN) -Wno-missing-prototypes -DUNIT_DATA='"$(CURDIR)/unit/data"' \
		$(call DEPFLAGS,$(BUILD)/obj/unit/$*.d) $(ALL_LDFLAGS) -o $@ $< $(filter %.o,$^) $(INTERNAL_A) $(PKG_LIBS) -lcmocka

$(BUILD)/integration/workload: integration/workload.c
	@mkdir -p $(@D)
	$(CC) -std=gnu11 -O2 -Wall -Wextra -Werror -static -o $@ $<

$(BUILD)/integration/stasis-proc: integration/stasis-proc.c $(INTERNAL_A) | $(PROTO_H)
	@mkdir -p $(@D) $(BUILD)/obj/integration
	$(CC) $(ALL_CFLAGS) $(WARN) $(call DEPFLAGS,$(BUILD)/obj/integration/stasis-proc.d) $(ALL_LDFLAGS) \
		-o $@ $< $(INTERNAL_A) $(PKG_LIBS)

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(patsubst unit/%.c,$(BUILD)/obj/unit/%.d,$(UNIT_SRC)) \
	$(BUILD)/obj/integration/stasis-proc.d $(patsubst %,$(BUILD)/obj/fuzz/%.d,$(FUZZ_TARGETS))

unit: $(UNIT_BIN)
	STASIS_BUILD=$(ABS_BUILD) scripts/run-tests.sh unit

integration: all
	$(TEST_ENV) scripts/run-tests.sh integration

# a sub-make, so that a first `make check` installs the dependencies before pkg-config is asked
check: $(DEPS_STAMP)
	$(MAKE) all $(UNIT_BIN)
	STASIS_BUILD=$(ABS_BUILD) scripts/check-install.sh
	$(TEST_ENV) scripts/run-tests.sh unit integration

check-install: all
	STASIS_BUILD=$(ABS_BUILD) scripts/check-install.sh

asan:
	$(MAKE) BUILD=build-asan OPT=-O1 SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" unit

FORMAT_SRC = $(shell git ls-files '*.c' '*.h' 2>/dev/null)
format:
	clang-format -i $(FORMAT_SRC)

lint:
	clang-format --dry-run -Werror $(FORMAT_SRC)
	cppcheck --quiet --error-exitcode=1 --enable=warning,portability --inline-suppr \
		--suppress=missingIncludeSystem -I. -Iinclude $(LIB_SRC) $(CLI_SRC)
	scripts/lint-layers.sh
	scripts/lint-make.sh
	@if [ -e scripts/lint-man.sh ]; then echo scripts/lint-man.sh; bash scripts/lint-man.sh; fi
	@# clang refuses what gcc lets pass: a goto over a cleanup variable's initialisation frees garbage
	$(MAKE) --no-print-directory BUILD=build-clang CC=clang OPT=-O0 all

# libFuzzer with clang: the library instrumented for coverage, ASan and UBSan; FUZZ_TIME seconds a target
# (CI: 60, six targets in six minutes).  fuzz/<target>.c is build-fuzz/fuzz-<target>, seeded from
# fuzz/seeds/<target>/ (scripts/fuzz.sh says how).
FUZZ_TIME ?= 60
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
$(BUILD)/fuzz-%: fuzz/%.c $(INTERNAL_A) | $(PROTO_H)
	@mkdir -p $(BUILD)/obj/fuzz
	$(CC) $(ALL_CFLAGS) $(WARN) $(call DEPFLAGS,$(BUILD)/obj/fuzz/$*.d) -fsanitize=fuzzer \
		$(ALL_LDFLAGS) -o $@ $< $(INTERNAL_A) $(PKG_LIBS)

fuzz:
	$(MAKE) BUILD=build-fuzz CC=clang OPT="-O1" SAN="$(FUZZ_SAN) -fsanitize=fuzzer-no-link" \
		$(patsubst %,build-fuzz/fuzz-%,$(FUZZ_TARGETS))
	FUZZ_TIME=$(FUZZ_TIME) scripts/fuzz.sh $(patsubst %,build-fuzz/fuzz-%,$(FUZZ_TARGETS))

# the archive seeds are written by our own writer: `make $(BUILD)/make-fuzz-seeds` and run it from the top
$(BUILD)/make-fuzz-seeds: fuzz/make-seeds.c $(INTERNAL_A) | $(PROTO_H)
	@mkdir -p $(BUILD)/obj/fuzz
	$(CC) $(ALL_CFLAGS) $(WARN) $(call DEPFLAGS,$(BUILD)/obj/fuzz/make-seeds.d) $(ALL_LDFLAGS) -o $@ $< \
		$(INTERNAL_A) $(PKG_LIBS)

bench: all
	@BUILD=$(ABS_BUILD) scripts/bench.sh

# SOAK_CYCLES cycles of checkpoint --export, restore --import (runc, none, crun), self-check; then
# mounts, state dirs, processes, cgroups and temp files against before (scripts/soak.sh)
soak: all
	$(TEST_ENV) BUILD=$(ABS_BUILD) SOAK_CYCLES=$(SOAK_CYCLES) scripts/soak.sh

demo: $(DEPS_STAMP)
	$(MAKE) all
	$(TEST_ENV) BUILD=$(ABS_BUILD) scripts/demo.sh

bindir = $(DESTDIR)$(PREFIX)/bin
libdir = $(DESTDIR)$(PREFIX)/lib
includedir = $(DESTDIR)$(PREFIX)/include
mandir = $(DESTDIR)$(PREFIX)/share/man
install: all
	install -d $(bindir) $(libdir) $(libdir)/pkgconfig $(includedir)
	install -m 0755 $(BUILD)/stasis $(bindir)/stasis
	ln -sf stasis $(bindir)/stasis-runc
	ln -sf stasis $(bindir)/stasis-crun
	install -m 0644 $(BUILD)/$(SO_REAL) $(libdir)/$(SO_REAL)
	ln -sf $(SO_REAL) $(libdir)/$(SO_NAME)
	ln -sf $(SO_NAME) $(libdir)/libstasis.so
	install -m 0644 $(BUILD)/libstasis.a $(libdir)/libstasis.a
	install -m 0644 include/stasis.h $(includedir)/stasis.h
	install -m 0644 $(BUILD)/stasis.pc $(libdir)/pkgconfig/stasis.pc
	$(if $(MAN1),install -d $(mandir)/man1 && install -m 0644 $(MAN1) $(mandir)/man1/)
	$(if $(MAN3),install -d $(mandir)/man3 && install -m 0644 $(MAN3) $(mandir)/man3/)

uninstall:
	rm -f $(bindir)/stasis $(bindir)/stasis-runc $(bindir)/stasis-crun $(libdir)/$(SO_REAL) $(libdir)/$(SO_NAME) $(libdir)/libstasis.so \
		$(libdir)/libstasis.a $(includedir)/stasis.h $(libdir)/pkgconfig/stasis.pc \
		$(addprefix $(mandir)/man1/,$(notdir $(MAN1))) $(addprefix $(mandir)/man3/,$(notdir $(MAN3)))

# BUILD too, unless it is / or this tree or one of its parents
clean:
	rm -rf build build-asan build-fuzz build-clang $(if $(filter / $(CURDIR),$(ABS_BUILD))$(filter $(ABS_BUILD)/%,$(CURDIR)),,$(filter-out build,$(BUILD)))
