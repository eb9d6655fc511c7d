/*
 * glibc_floor.h - one build for every glibc from 2.17 on. The Makefile
 * force-includes this file (-include) into every file of libstaple.so and
 * staplectl; nothing includes it by hand.
 *
 * Why: a program linked against a new glibc records, for each symbol, the
 * version it found there, and the loader of an older glibc refuses the
 * whole object when a version is unknown to it ("version 'GLIBC_2.34' not
 * found"). For a preload library that stops every program of the host.
 * Built on glibc 2.34+ the references that need care are:
 *
 * - dlopen, dlsym, dladdr, dlclose, dlerror, pthread_once, pthread_create,
 *   pthread_join (moved from libdl and libpthread into libc in 2.34: new
 *   default version GLIBC_2.34, the old one kept as a compat symbol). The .symver lines below bind them to the
 *   architecture's oldest version, which every glibc since has exported.
 *   On an old glibc those live in libdl.so.2 and libpthread.so.0, which
 *   the Makefile therefore names as NEEDED (by file name: on 2.34+ `-ldl`
 *   finds only an empty static archive).
 * - glob (GLIBC_2.27, a change for GLOB_ALTDIRFUNC callers, which
 *   staplectl is not): bound to the old version likewise.
 * - stat, fstat, fstatat, lstat (real functions only since 2.33; before,
 *   header wrappers around __xstat & co.): glibc_stat.c defines them, hidden,
 *   on top of those old entry points, which 2.33+ still exports.
 * - __libc_start_main, which an executable's crt1.o calls (GLIBC_2.34
 *   since 2.34): tools/start.c, for staplectl only.
 *
 * Versions were read from the libc.so.6 of each architecture (objdump -T);
 * an architecture not listed here builds unbound, without the floor.
 * `make test` checks the result (tests/glibc-floor.bats).
 */
#ifndef STAPLE_GLIBC_FLOOR_H
#define STAPLE_GLIBC_FLOOR_H

#if defined(__x86_64__) && !defined(__ILP32__)
#define STAPLE_GLIBC_OLD "GLIBC_2.2.5"
#define STAPLE_GLIBC_OLD_DLOPEN "GLIBC_2.2.5"
#define STAPLE_GLIBC_OLD_CREATE "GLIBC_2.2.5"
#elif defined(__aarch64__) && !defined(__ILP32__)
#define STAPLE_GLIBC_OLD "GLIBC_2.17"
#define STAPLE_GLIBC_OLD_DLOPEN "GLIBC_2.17"
#define STAPLE_GLIBC_OLD_CREATE "GLIBC_2.17"
#elif defined(__i386__)
#define STAPLE_GLIBC_OLD "GLIBC_2.0"
/* dlopen@ and pthread_create@GLIBC_2.0 are pre-2.1 interfaces; 2.1 is today's */
#define STAPLE_GLIBC_OLD_DLOPEN "GLIBC_2.1"
#define STAPLE_GLIBC_OLD_CREATE "GLIBC_2.1"
#endif

#ifdef STAPLE_GLIBC_OLD
#define STAPLE_SYMVER(sym, ver) __asm__(".symver " #sym "," #sym "@" ver)
STAPLE_SYMVER(dlopen, STAPLE_GLIBC_OLD_DLOPEN);
STAPLE_SYMVER(dlsym, STAPLE_GLIBC_OLD);
STAPLE_SYMVER(dladdr, STAPLE_GLIBC_OLD);
STAPLE_SYMVER(dlclose, STAPLE_GLIBC_OLD);
STAPLE_SYMVER(dlerror, STAPLE_GLIBC_OLD);
STAPLE_SYMVER(pthread_once, STAPLE_GLIBC_OLD);
STAPLE_SYMVER(pthread_create, STAPLE_GLIBC_OLD_CREATE);
STAPLE_SYMVER(pthread_join, STAPLE_GLIBC_OLD);
STAPLE_SYMVER(glob, STAPLE_GLIBC_OLD);
#endif

#endif
