/*
 * start.c - staplectl's start on glibc 2.17 and later (see
 * preload/glibc_floor.h for the library's side).
 *
 * The crt1.o of glibc 2.34+ calls __libc_start_main@GLIBC_2.34 with no
 * init function: since 2.34 libc runs the program's constructors itself.
 * An older glibc has no such version and refuses to start the program; its
 * __libc_start_main runs the constructors only through the init function,
 * which crt1.o's libc_nonshared.a used to supply (__libc_csu_init).
 *
 * So this hidden definition takes crt1.o's call (a definition in the
 * program wins over libc's) and passes it on to the oldest version of
 * __libc_start_main, which every glibc exports (2.34+ as a compat symbol),
 * with an init function of its own. Given an init function, every glibc
 * calls it and leaves the constructors to it, so they run once on old and
 * new glibc alike. C, so one file serves every architecture whose
 * crt1.o calls __libc_start_main with the generic arguments.
 */
#include <features.h>
#include <stddef.h>

#include "../preload/glibc_floor.h"

/* Before 2.34, crt1.o is right as it is. */
#if defined(STAPLE_GLIBC_OLD) && __GLIBC_PREREQ(2, 34)
#define HIDDEN __attribute__((visibility("hidden")))

typedef int (*staple_main_fn)(int, char **, char **);
typedef void (*staple_init_fn)(int, char **, char **);

int staple_libc_start_main(staple_main_fn main_fn, int argc, char **argv,
    staple_init_fn init, void (*fini)(void), void (*rtld_fini)(void),
    void *stack_end);
__asm__(".symver staple_libc_start_main,__libc_start_main@" STAPLE_GLIBC_OLD);

/* Provided by the link editor and crti.o. */
extern void (*__init_array_start[])(int, char **, char **) HIDDEN;
extern void (*__init_array_end[])(int, char **, char **) HIDDEN;
extern void _init(void);

/* What __libc_csu_init did in a dynamically linked program: _init, then
 * the constructors in order (the loader ran .preinit_array already). */
static void
staple_init(int argc, char **argv, char **envp)
{
	size_t i, n = (size_t)(__init_array_end - __init_array_start);

	_init();
	for (i = 0; i < n; i++)
		__init_array_start[i](argc, argv, envp);
}

/* crt1.o's entry into libc, passed on to the oldest __libc_start_main. */
HIDDEN int
__libc_start_main(staple_main_fn main_fn, int argc, char **argv,
    staple_init_fn init, void (*fini)(void), void (*rtld_fini)(void),
    void *stack_end)
{
	(void)init;
	(void)fini;
	return staple_libc_start_main(main_fn, argc, argv, staple_init, NULL,
	    rtld_fini, stack_end);
}
#endif
