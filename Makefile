# libstaple: `make` builds ./libstaple.so; `make test` runs the bats suite.
PREFIX ?= /usr/local
LIBDIR ?= $(PREFIX)/lib/libstaple
DESTDIR ?=
CC ?= cc
CFLAGS ?= -O2 -g
WARN = -Wall -Wextra -Werror
STAPLE_CFLAGS = -std=gnu11 -fPIC -fvisibility=hidden $(WARN) $(CFLAGS)
# No -lssl/-lcrypto: OpenSSL is found in the host process at run time, and
# -z defs turns any direct call into OpenSSL into a link error.
STAPLE_LDFLAGS = -shared -Wl,-z,defs -Wl,-z,now -Wl,--version-script=preload/exports.map $(LDFLAGS)
LIBS = -ldl -lpthread

SRCS = $(wildcard preload/*.c)
OBJS = $(SRCS:.c=.o)
HDRS = $(wildcard preload/*.h)

all: libstaple.so

libstaple.so: $(OBJS) preload/exports.map
	$(CC) $(STAPLE_LDFLAGS) -o $@ $(OBJS) $(LIBS)

preload/%.o: preload/%.c $(HDRS)
	$(CC) $(STAPLE_CFLAGS) -c -o $@ $<

test: all
	tests/run

demo: all
	examples/demo.sh

install: all
	install -d $(DESTDIR)$(LIBDIR)
	install -m 0644 libstaple.so $(DESTDIR)$(LIBDIR)/libstaple.so
	install -d $(DESTDIR)$(PREFIX)/share/doc/libstaple/examples
	install -m 0644 README.md $(DESTDIR)$(PREFIX)/share/doc/libstaple/
	install -m 0644 config/libstaple.conf $(DESTDIR)$(PREFIX)/share/doc/libstaple/examples/
	test -e $(DESTDIR)/etc/libstaple.conf || \
		{ install -d $(DESTDIR)/etc && install -m 0644 config/libstaple.conf $(DESTDIR)/etc/libstaple.conf; }
	install -d -m 0755 $(DESTDIR)/var/lib/libstaple

clean:
	rm -f libstaple.so preload/*.o
	rm -rf tests/.work

.PHONY: all test demo install clean
