/*
 * real.c - find and remember the real function behind an interposed call.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stddef.h>

#include "ossl.h"
#include "real.h"

struct staple_real staple_real_table[STAPLE_REAL_SLOTS];

/* A hook is the low 4 bits of a key. */
typedef char staple_real_hooks_fit[STAPLE_HOOK_COUNT <= 16 ? 1 : -1];

/* The caller of the interposed call libstaple is making on this thread. */
static __thread const void *outer;

const void *
staple_real_outer(const void *caller)
{
	const void *previous = outer;

	outer = caller;
	return previous;
}

/* Whether `addr` lies in libstaple itself. */
static int
staple_real_is_self(const void *addr)
{
	Dl_info self, other;

	return dladdr((void *)staple_real_is_self, &self) &&
	    dladdr(addr, &other) && self.dli_fbase == other.dli_fbase;
}

/*
 * Keep the module that holds `addr` loaded for good (a reference that is
 * never dropped). The table hands a real function's address out long after
 * it was found; and a caller's module unloaded would let another take its
 * addresses, whose calls would then get the first one's answer: a plug-in
 * on another libssl, handed the wrong library's functions, crashes.
 */
static void
staple_real_pin(const void *addr)
{
	Dl_info info;

	if (addr != NULL && dladdr(addr, &info) && info.dli_fname != NULL &&
	    info.dli_fname[0] != '\0')
		(void)dlopen(info.dli_fname, RTLD_LAZY | RTLD_NOLOAD);
}

/*
 * Remember `fn` for (caller, hook), unless the slots to probe are taken
 * (then every call looks it up again, and nothing needs pinning).
 */
static void
staple_real_insert(int hook, const void *caller, void *fn)
{
	uint64_t key = staple_real_key(caller, hook), k;
	uint32_t i = staple_real_slot(key), n;
	struct staple_real *e;

	for (n = 0; n < STAPLE_REAL_PROBES; n++, i++) {
		e = &staple_real_table[i & (STAPLE_REAL_SLOTS - 1)];
		k = STAPLE_REAL_FREE;
		if (__atomic_compare_exchange_n(&e->key, &k, STAPLE_REAL_BUSY,
		    0, __ATOMIC_ACQUIRE, __ATOMIC_ACQUIRE)) {
			staple_real_pin(caller);
			staple_real_pin(fn);
			e->fn = fn;
			__atomic_store_n(&e->key, key, __ATOMIC_RELEASE);
			return;
		}
		/* another thread got there first: it found the same */
		if (k == key)
			return;
	}
}

void *
staple_real_lookup(int hook, const char *name, const void *caller)
{
	const void *from;
	void *fn;

	/*
	 * From libstaple itself: a real function libstaple called calls back
	 * in; it is for that call's library. Not remembered: the same address
	 * serves every library.
	 */
	if (caller != NULL && staple_real_is_self(caller)) {
		from = outer;
		return staple_ossl_lookup(from != NULL ? from : caller, name);
	}
	fn = staple_ossl_lookup(caller, name);
	if (caller != NULL)
		staple_real_insert(hook, caller, fn);
	return fn;
}
