# stasis: checkpoint/restore for OCI containers.  `make help` lists the targets.
VERSION := 0.1.0
BUILD ?= build
CC ?= cc
PREFIX ?= /usr/local
DESTDIR ?=

PKGS := libprotobuf-c yajl libarchive libzstd libcrypto libselinux libapparmor libnl-3.0 libnl-route-3.0 libcap
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null)

WARN := -Wall -Wextra -Wformat=2 -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	-Wpointer-arith -Wundef -Wimplicit-fallthrough -Werror
BASE_CFLAGS := -std=gnu11 -D_GNU_SOURCE -DSTASIS_VERSION='"$(VERSION)"' -g -fPIC \
	-fvisibility=hidden -I. -Iinclude -I$(BUILD)/proto
OPT ?= -O2
SAN ?=
ALL_CFLAGS = $(BASE_CFLAGS) $(OPT) $(SAN) $(PKG_CFLAGS) $(CFLAGS)
ALL_LDFLAGS = $(SAN) $(LDFLAGS)

PROTOS := $(wildcard proto/*.proto)
PROTO_C := $(patsubst proto/%.proto,$(BUILD)/proto/%.pb-c.c,$(PROTOS))
PROTO_H := $(PROTO_C:.c=.h)
LIB_SRC := $(sort $(wildcard common/*.c oci/*.c mounts/*.c lsm/*.c engine/*.c engine/*/*.c))
LIB_OBJ := $(patsubst %.c,$(BUILD)/obj/%.o,$(LIB_SRC)) $(PROTO_C:.c=.o)
CLI_SRC := $(sort $(wildcard runtime-hooks/*.c))
CLI_OBJ := $(patsubst %.c,$(BUILD)/obj/%.o,$(CLI_SRC))
UNIT_SRC := $(sort $(wildcard unit/test-*.c))
UNIT_BIN := $(patsubst unit/%.c,$(BUILD)/unit/%,$(UNIT_SRC))
INTEG_TOOLS := $(BUILD)/integration/workload $(BUILD)/integration/stasis-proc

.PHONY: all deps check unit integration asan lint format fuzz bench demo install uninstall clean help
.DELETE_ON_ERROR:
# generated protobuf-c sources and headers are kept, not treated as intermediates
.SECONDARY:

all: $(BUILD)/stasis $(BUILD)/libstasis.so $(BUILD)/libstasis.a $(BUILD)/stasis.pc $(INTEG_TOOLS)

help:
	@echo "make deps         install every Debian package and the private CRIU (.deps/criu)"
	@echo "make              build $(BUILD)/stasis, libstasis.so/.a and the test tools"
	@echo "make demo         checkpoint and restore a live workload, step by step"
	@echo "make check        build + unit tests + integration tests (root, real CRIU)"
	@echo "make unit         cmocka unit tests (no root)"
	@echo "make integration  bats integration tests (root)"
	@echo "make asan         unit tests under ASan/UBSan"
	@echo "make lint         clang-format check, cppcheck, include-layer rules"
	@echo "make format       reformat the sources"
	@echo "make fuzz         build and briefly run the libFuzzer targets"
	@echo "make bench        side-by-side benchmarks"
	@echo "make install      install into DESTDIR/PREFIX"

deps:
	@scripts/deps.sh

$(BUILD)/proto/%.pb-c.c $(BUILD)/proto/%.pb-c.h: proto/%.proto
	@mkdir -p $(@D)
	protoc-c --proto_path=proto --c_out=$(BUILD)/proto $<

# generated code is protoc-c's, not ours: our warning list does not apply to it
$(BUILD)/proto/%.pb-c.o: $(BUILD)/proto/%.pb-c.c
	$(CC) $(BASE_CFLAGS) $(OPT) $(SAN) $(PKG_CFLAGS) $(CFLAGS) -c -o $@ $<

$(BUILD)/obj/%.o: %.c $(PROTO_H) $(wildcard include/*.h common/*.h */*.h engine/*/*.h)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(WARN) -c -o $@ $<

$(BUILD)/libstasis.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/libstasis.so: $(LIB_OBJ) libstasis.sym
	$(CC) -shared -Wl,-soname,libstasis.so.0 -Wl,--version-script=libstasis.sym $(ALL_LDFLAGS) -o $@ $(LIB_OBJ) $(PKG_LIBS)

$(BUILD)/stasis.pc: stasis.pc.in
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(VERSION)|g' $< > $@

$(BUILD)/stasis: $(CLI_OBJ) $(BUILD)/libstasis.a
	$(CC) $(ALL_LDFLAGS) -o $@ $(CLI_OBJ) $(BUILD)/libstasis.a $(PKG_LIBS)

$(BUILD)/unit/%: unit/%.c $(BUILD)/libstasis.a unit/unit.h $(PROTO_H)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(WARN) -Wno-missing-prototypes -DUNIT_DATA='"$(CURDIR)/unit/data"' \
		$(ALL_LDFLAGS) -o $@ $< $(BUILD)/libstasis.a $(PKG_LIBS) -lcmocka

$(BUILD)/integration/workload: integration/workload.c
	@mkdir -p $(@D)
	$(CC) -std=gnu11 -O2 -Wall -Wextra -Werror -static -o $@ $<

$(BUILD)/integration/stasis-proc: integration/stasis-proc.c $(BUILD)/libstasis.a
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(WARN) $(ALL_LDFLAGS) -o $@ $< $(BUILD)/libstasis.a $(PKG_LIBS)

unit: $(UNIT_BIN)
	STASIS_BUILD=$(CURDIR)/$(BUILD) scripts/run-tests.sh unit

integration: all
	STASIS_BUILD=$(CURDIR)/$(BUILD) scripts/run-tests.sh integration

check: all $(UNIT_BIN)
	STASIS_BUILD=$(CURDIR)/$(BUILD) scripts/run-tests.sh unit integration

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

# libFuzzer with clang: the library instrumented for coverage, ASan and UBSan; FUZZ_TIME seconds a target
FUZZ_TIME ?= 60
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
$(BUILD)/fuzz-image-reader: fuzz/image-reader.c $(BUILD)/libstasis.a
	$(CC) $(ALL_CFLAGS) $(WARN) -fsanitize=fuzzer $(ALL_LDFLAGS) -o $@ $< $(BUILD)/libstasis.a $(PKG_LIBS)

fuzz:
	$(MAKE) BUILD=build-fuzz CC=clang OPT="-O1" SAN="$(FUZZ_SAN) -fsanitize=fuzzer-no-link" build-fuzz/fuzz-image-reader
	FUZZ_TIME=$(FUZZ_TIME) scripts/fuzz.sh build-fuzz/fuzz-image-reader

bench: all
	@BUILD=$(abspath $(BUILD)) scripts/bench.sh

demo: all
	scripts/demo.sh

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 0755 $(BUILD)/stasis $(DESTDIR)$(PREFIX)/bin/stasis
	install -m 0644 $(BUILD)/libstasis.so $(DESTDIR)$(PREFIX)/lib/libstasis.so.0
	ln -sf libstasis.so.0 $(DESTDIR)$(PREFIX)/lib/libstasis.so
	install -m 0644 $(BUILD)/libstasis.a $(DESTDIR)$(PREFIX)/lib/libstasis.a
	install -m 0644 include/stasis.h $(DESTDIR)$(PREFIX)/include/stasis.h
	install -m 0644 $(BUILD)/stasis.pc $(DESTDIR)$(PREFIX)/lib/pkgconfig/stasis.pc

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/stasis $(DESTDIR)$(PREFIX)/lib/libstasis.so.0 \
		$(DESTDIR)$(PREFIX)/lib/libstasis.so $(DESTDIR)$(PREFIX)/lib/libstasis.a \
		$(DESTDIR)$(PREFIX)/include/stasis.h $(DESTDIR)$(PREFIX)/lib/pkgconfig/stasis.pc

clean:
	rm -rf build build-asan build-fuzz
