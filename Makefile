# libstaple: `make` builds ./libstaple.so; `make test` runs the bats suite.
VERSION = 0.9.0
PREFIX ?= /usr/local
LIBDIR ?= $(PREFIX)/lib/libstaple
DESTDIR ?=
CC ?= cc
CFLAGS ?= -O2 -g
# -Werror holds this tree to warning-free code (CI and `make` here). A newer
# compiler than the project's finds new warnings, which must not stop a
# distribution or a user from building a release: `make WERROR=` (the Debian
# package does) builds without it; CFLAGS=-Wno-error works too, as CFLAGS
# come last.
WERROR = -Werror
WARN = -Wall -Wextra $(WERROR)
# glibc_floor.h binds the calls whose symbol version changed since glibc
# 2.17 to their old versions (it explains why), so one build runs on 2.17+.
FLOOR = -include preload/glibc_floor.h
STAPLE_CFLAGS = -std=gnu99 -fPIC -fvisibility=hidden $(WARN) $(FLOOR) $(CPPFLAGS) $(CFLAGS)
# No -lssl/-lcrypto: OpenSSL is found in the host process at run time, and
# -z defs turns any direct call into OpenSSL into a link error.
STAPLE_LDFLAGS = -shared -Wl,-z,defs -Wl,-z,now -Wl,--version-script=preload/exports.map $(LDFLAGS)
# libdl.so.2 and libpthread.so.0 by file name, and always NEEDED: glibc
# before 2.34 defines dlopen, pthread_once & co. there, not in libc.so.6
# (glibc_floor.h binds them to their old versions); on 2.34+ they are empty
# stubs and `-ldl` finds only a static archive.
LIBS = -Wl,--no-as-needed -l:libdl.so.2 -l:libpthread.so.0

SRCS = $(wildcard preload/*.c)
OBJS = $(SRCS:.c=.o)
HDRS = $(wildcard preload/*.h)

all: libstaple.so staplectl

libstaple.so: $(OBJS) preload/exports.map
	$(CC) $(STAPLE_LDFLAGS) -o $@ $(OBJS) $(LIBS)

preload/%.o: preload/%.c $(HDRS)
	$(CC) $(STAPLE_CFLAGS) -c -o $@ $<

# staplectl: the same verifier and store code, and no link-time OpenSSL
# either: it dlopen()s the host's libssl (1.0.2, 1.1.1 or 3.x) at start and
# fills the same symbol table as the preload (-z defs: a direct call fails).
CTL_OBJS = $(filter-out preload/interpose.o preload/real.o,$(OBJS))
# tools/start.c starts it on glibc 2.17+ (crt1.o of 2.34+ cannot).
CTL_SRCS = $(wildcard tools/*.c)
staplectl: $(CTL_SRCS) tools/staplectl.h $(CTL_OBJS) $(HDRS)
	$(CC) -std=gnu99 $(WARN) $(FLOOR) $(CPPFLAGS) $(CFLAGS) -DSTAPLE_VERSION='"$(VERSION)"' \
		-o $@ $(CTL_SRCS) $(CTL_OBJS) \
		$(LDFLAGS) -Wl,-z,defs $(LIBS)

# every header of tools/ (staplectl check's own among them)
staplectl: $(wildcard tools/*.h)

# A small client with its own status callback, for the tests.
tests/.work/statuscb: tests/lib/statuscb.c
	mkdir -p tests/.work
	$(CC) -std=gnu99 $(WARN) $(CFLAGS) -o $@ $< -lssl -lcrypto

# Hostile OCSP responses that `openssl ocsp` cannot make (tests/lib/pki-hostile.sh).
tests/.work/mkocsp: tests/lib/mkocsp.c
	mkdir -p tests/.work
	$(CC) -std=gnu99 $(WARN) $(CFLAGS) -o $@ $< -lcrypto

# A plain TLS client the system-wide tests install setuid root (tests/systemwide.bats).
tests/.work/suid_client: tests/lib/suid_client.c
	mkdir -p tests/.work
	$(CC) -std=gnu99 $(WARN) $(CFLAGS) -o $@ $< -lssl -lcrypto

# Two OpenSSL libraries in one process (tests/legacy.bats builds the plug-in
# against another libssl).
tests/.work/twossl: tests/lib/twossl.c
	mkdir -p tests/.work
	$(CC) -std=gnu99 $(WARN) $(CFLAGS) -o $@ $< -Wl,--no-as-needed -lssl -lcrypto -ldl

# CRLs of any size and shape, signed once (tests/crl-refresh.bats, bench/run).
tests/.work/mkcrl: tests/lib/mkcrl.c
	mkdir -p tests/.work
	$(CC) -std=gnu99 $(WARN) $(CFLAGS) -o $@ $< -lcrypto

# The refresher's CRL index files, written for the tests (tests/crl.bats)
# with libstaple's own objects.
tests/.work/crlindex: tests/lib/crlindex.c $(CTL_OBJS)
	mkdir -p tests/.work
	$(CC) -std=gnu99 $(WARN) $(FLOOR) $(CFLAGS) -o $@ $< $(CTL_OBJS) -Wl,--no-as-needed -lssl -lcrypto $(LIBS)
# A server that closes every descriptor after setup (tests/server-descriptors.bats).
tests/.work/fdsweep: tests/lib/fdsweep.c
	mkdir -p tests/.work
	$(CC) -std=gnu99 $(WARN) $(CFLAGS) -o $@ $< -lssl -lcrypto

# A shim that swaps a file right after readdir() returns it (tests/server-hardening.bats).
tests/.work/swap_readdir.so: tests/lib/swap_readdir.c
	mkdir -p tests/.work
	$(CC) -std=gnu99 $(WARN) $(CFLAGS) -shared -fPIC -o $@ $< -ldl

TEST_TOOLS = tests/.work/statuscb tests/.work/mkocsp tests/.work/suid_client \
	tests/.work/twossl tests/.work/fdsweep tests/.work/swap_readdir.so tests/.work/mkcrl \
	tests/.work/crlindex

# `make test TESTS="tests/a.bats tests/b.bats"` runs only those files.
TESTS =
test: all $(TEST_TOOLS)
	tests/run $(TESTS)

demo: all
	examples/demo.sh

# Benchmarks: ratios against nginx's own stapling and against no preload.
bench: all
	bench/run

# The CRL figures of `make bench` alone.
bench-crl: all
	bench/crl

# The nginx scale figures of `make bench` alone (memory, start, reload).
bench-scale: all
	bench/scale

# The library built with AddressSanitizer + UBSan, and the whole suite under it.
ASAN_LIB = tests/.work/asan/libstaple.so
# STAPLE_VET_BUDGET_SCALE: the sanitized library vets staples several times
# slower; 25 times the eager-vetting budget (preload/store.c) keeps what the
# tests count the same as in the plain build.
SANITIZE = -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer \
	-DSTAPLE_VET_BUDGET_SCALE=25
# Files left out: they test the build, the packages, staplectl and other
# systems (whose roots cannot load this machine's sanitizer runtime), not the
# library's memory use; `make test` runs them.
ASAN_SKIP = tests/build.bats tests/glibc-floor.bats tests/dist.bats tests/docs.bats \
	tests/install.bats tests/deb.bats tests/check.bats tests/staplectl-hosts.bats \
	tests/debian11.bats tests/debian13.bats tests/arm64.bats tests/systemd.bats
ASAN_TESTS = $(filter-out $(ASAN_SKIP),$(wildcard tests/*.bats))
check-asan: $(SRCS) $(HDRS) preload/exports.map all $(TEST_TOOLS)
	mkdir -p $(dir $(ASAN_LIB))
	$(CC) $(STAPLE_CFLAGS) $(SANITIZE) $(STAPLE_LDFLAGS) -o $(ASAN_LIB) $(SRCS) $(LIBS)
	LIBSTAPLE=$(CURDIR)/$(ASAN_LIB) \
	STAPLE_PRELOAD_BASE=$$($(CC) -print-file-name=libasan.so) \
	ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 \
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	tests/run $(ASAN_TESTS)

# Fuzzing (clang's libFuzzer): `make fuzz` builds the targets, makes seeds
# from the test PKI and runs each for FUZZ_SECONDS; crashes found are kept in
# fuzz/regressions/TARGET/ and replayed by the test suite (tests/fuzz.bats).
FUZZ_CC = clang
FUZZ_SECONDS = 120
FUZZ_FLAGS = -std=gnu99 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
FUZZ_LIB = preload/staple.c preload/store.c preload/config.c preload/log.c preload/ossl.c \
	preload/vet.c preload/signer.c preload/issuers.c preload/compat.c preload/der.c \
	preload/when.c preload/crl.c preload/shared.c
FUZZ_TARGETS = tests/.work/fuzz_staple tests/.work/fuzz_store tests/.work/fuzz_config tests/.work/fuzz_der \
	tests/.work/fuzz_crl tests/.work/fuzz_shared
fuzz-build: $(FUZZ_TARGETS)
tests/.work/fuzz_%: fuzz/fuzz_%.c fuzz/fuzz.h $(FUZZ_LIB) $(HDRS)
	mkdir -p tests/.work
	$(FUZZ_CC) $(FUZZ_FLAGS) $(WARN) -o $@ $< $(FUZZ_LIB) -Wl,--no-as-needed -lssl -lcrypto $(LIBS)
fuzz: all fuzz-build
	fuzz/run $(FUZZ_SECONDS)

# The library built with ThreadSanitizer, for the threaded tests.
TSAN_LIB = tests/.work/tsan/libstaple.so
check-tsan: $(SRCS) $(HDRS) preload/exports.map all
	mkdir -p $(dir $(TSAN_LIB))
	$(CC) $(STAPLE_CFLAGS) -fsanitize=thread $(STAPLE_LDFLAGS) -o $(TSAN_LIB) $(SRCS) $(LIBS)
	LIBSTAPLE=$(CURDIR)/$(TSAN_LIB) \
	STAPLE_PRELOAD_BASE=$$($(CC) -print-file-name=libtsan.so) \
	TSAN_OPTIONS="halt_on_error=1 exitcode=66" \
	tests/run --filter threaded tests/threads.bats tests/shared-index.bats

# valgrind memcheck on a server under the preload serving 1,000 handshakes.
check-valgrind: all
	tests/valgrind.sh 1000

# install_new MODE, FILE, DEST: FILE copied beside DEST under a temporary
# name, then renamed over it. rename() swaps the name in one step: a program
# started meanwhile (machine-wide mode: every program) maps either the old
# library or the whole new one, never a missing or half-written one, and
# programs running keep the old file they mapped.
install_new = install -m $(1) $(2) $(3).new$$$$ && mv -f $(3).new$$$$ $(3)

install: all
	install -d $(DESTDIR)$(LIBDIR)
	$(call install_new,0644,libstaple.so,$(DESTDIR)$(LIBDIR)/libstaple.so)
	install -d $(DESTDIR)$(PREFIX)/bin
	$(call install_new,0755,staplectl,$(DESTDIR)$(PREFIX)/bin/staplectl)
	install -d $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/man/man7
	install -m 0644 man/staplectl.1 $(DESTDIR)$(PREFIX)/share/man/man1/
	install -m 0644 man/libstaple.7 $(DESTDIR)$(PREFIX)/share/man/man7/
	install -d $(DESTDIR)$(PREFIX)/share/doc/libstaple/examples
	install -m 0644 README.md $(DESTDIR)$(PREFIX)/share/doc/libstaple/
	install -m 0644 config/libstaple.conf $(DESTDIR)$(PREFIX)/share/doc/libstaple/examples/
	test -e $(DESTDIR)/etc/libstaple.conf || \
		{ install -d $(DESTDIR)/etc && install -m 0644 config/libstaple.conf $(DESTDIR)/etc/libstaple.conf; }
	install -d -m 0755 $(DESTDIR)/var/lib/libstaple $(DESTDIR)/var/lib/libstaple/.wanted
	@echo "libstaple installed. For every program of this machine (read README.md,"
	@echo "'Machine-wide', first):  echo $(LIBDIR)/libstaple.so >> /etc/ld.so.preload"

# The Debian package (debian/): built by dpkg-buildpackage in a copy of the
# tree under tests/.work/deb/ (it writes the .deb to the parent directory,
# which is then tests/.work/deb/, not the checkout's parent), and copied to
# tests/.work/deb/libstaple.deb. Rebuilt only when an input changed.
DEB = tests/.work/deb/libstaple.deb
DEB_INPUTS = Makefile $(SRCS) $(HDRS) preload/exports.map $(CTL_SRCS) tools/staplectl.h \
	man/staplectl.1 man/libstaple.7 config/libstaple.conf README.md \
	examples/refresh/libstaple-refresh.service examples/refresh/libstaple-refresh.timer \
	examples/refresh/libstaple-refresh.path \
	$(wildcard debian/* debian/source/*)
deb: $(DEB)
$(DEB): $(wildcard tools/*.h)
$(DEB): $(DEB_INPUTS)
	rm -rf $(dir $@) && mkdir -p $(dir $@)src
	tar -c --exclude=./.git --exclude=./tests/.work --exclude='*.o' \
		--exclude=./libstaple.so --exclude=./staplectl . | tar -x -C $(dir $@)src
	cd $(dir $@)src && dpkg-buildpackage -b -us -uc
	cp $(dir $@)libstaple_$(VERSION)_*.deb $@

# Release tarballs: `make dist` writes libstaple-VERSION-linux-ARCH.tar.gz
# (and .sha256) for each of DIST_ARCHS, built by release/dist.sh in a copy
# of the tree with DIST_CC_ARCH (cross compilers on other hosts); the
# contents are listed in release/INSTALL, which the tarball carries.
DIST_ARCHS = x86_64 aarch64
DIST_CC_x86_64 = x86_64-linux-gnu-gcc
DIST_CC_aarch64 = aarch64-linux-gnu-gcc
DIST = $(foreach a,$(DIST_ARCHS),libstaple-$(VERSION)-linux-$(a).tar.gz)
dist: $(DIST)
libstaple-$(VERSION)-linux-%.tar.gz: $(DEB_INPUTS) release/INSTALL release/dist.sh
	release/dist.sh $* $(DIST_CC_$*) $(VERSION)

clean:
	rm -f libstaple.so staplectl preload/*.o libstaple-*.tar.gz libstaple-*.tar.gz.sha256
	rm -rf tests/.work

.PHONY: all test demo bench bench-crl bench-scale deb dist check-asan check-tsan check-valgrind fuzz fuzz-build install clean
