/*
 * real.h - the real function behind each interposed call, per call site.
 *
 * An interposed entry point must call the function of the libssl its caller
 * is bound to: a process may hold two (a program on the system's libssl
 * and a plug-in or Python wheel with its own), and an object of one handed
 * to the other crashes the host. Which libssl a call site binds to never
 * changes, so the answer is looked up once per call site and entry point
 * (dladdr, dlopen, dlsym: microseconds) and then read from a fixed table
 * without a lock or an allocation: a few nanoseconds, on every SSL_ctrl.
 */
#ifndef STAPLE_REAL_H
#define STAPLE_REAL_H

#include <stdint.h>

/* Every interposed entry point (fewer than 16: 4 bits of a key). */
#define STAPLE_HOOKS(H) \
	H(SSL_CTX_new) H(SSL_CTX_new_ex) H(SSL_CTX_ctrl) \
	H(SSL_CTX_callback_ctrl) H(SSL_CTX_use_certificate) \
	H(SSL_CTX_use_cert_and_key) H(SSL_CTX_use_certificate_file) \
	H(SSL_CTX_use_certificate_chain_file) H(SSL_new) H(SSL_ctrl) \
	H(SSL_set_connect_state) H(SSL_set_session) \
	H(SSL_CTX_set_cert_verify_callback)

enum staple_hook {
#define STAPLE_HOOK_ENUM(name) STAPLE_HOOK_##name,
	STAPLE_HOOKS(STAPLE_HOOK_ENUM)
#undef STAPLE_HOOK_ENUM
	STAPLE_HOOK_COUNT
};

#define STAPLE_REAL_BITS 12
#define STAPLE_REAL_SLOTS (1 << STAPLE_REAL_BITS)
#define STAPLE_REAL_PROBES 16

/*
 * One call site's answer: `key` is the call's (caller, hook), written last
 * (0: a free slot, 1: being written); then only read.
 */
struct staple_real {
	uint64_t key;
	void *fn;			/* the real function, or NULL */
};
#define STAPLE_REAL_FREE 0
#define STAPLE_REAL_BUSY 1

extern struct staple_real staple_real_table[STAPLE_REAL_SLOTS]
    __attribute__((visibility("hidden")));

/* The key of a call from `caller` (a return address: never 0) to `hook`. */
static inline uint64_t
staple_real_key(const void *caller, int hook)
{
	return (uint64_t)(uintptr_t)caller << 4 | (uint64_t)hook;
}

/* The first slot for `key`. */
static inline uint32_t
staple_real_slot(uint64_t key)
{
	return (uint32_t)(key ^ key >> 32) * 2654435761U >>
	    (32 - STAPLE_REAL_BITS);
}

/*
 * Look `name` up for `caller` and remember it; the slow path of
 * staple_real_find. Thread-safe; never fails (NULL: no such function).
 */
void *staple_real_lookup(int hook, const char *name, const void *caller);

/*
 * The real function for (caller, hook) if it is known already, else NULL
 * (also when it is known to be missing). Lock-free, calls nothing.
 */
static inline void *
staple_real_known(int hook, const void *caller)
{
	uint64_t key = staple_real_key(caller, hook), k;
	uint32_t i = staple_real_slot(key), n;

	for (n = 0; n < STAPLE_REAL_PROBES; n++, i++) {
		k = __atomic_load_n(&staple_real_table[i &
		    (STAPLE_REAL_SLOTS - 1)].key, __ATOMIC_ACQUIRE);
		if (k == key)
			return staple_real_table[i & (STAPLE_REAL_SLOTS - 1)].fn;
		if (k == STAPLE_REAL_FREE)
			return NULL;
	}
	return NULL;
}

/*
 * The same, looking only at the first slot for (caller, hook): the fast
 * path of an entry point, with no loop (other slots: staple_real_find).
 */
static inline void *
staple_real_first(int hook, const void *caller)
{
	uint64_t key = staple_real_key(caller, hook);
	const struct staple_real *e =
	    &staple_real_table[staple_real_slot(key)];

	return __atomic_load_n(&e->key, __ATOMIC_ACQUIRE) == key ? e->fn : NULL;
}

/*
 * The real `name` (entry point `hook`) for a call from `caller`, the
 * return address in the caller's code: the function of the libssl that
 * code is bound to, or NULL. Lock-free; allocates nothing once known.
 */
static inline void *
staple_real_find(int hook, const char *name, const void *caller)
{
	void *fn = staple_real_known(hook, caller);

	return fn != NULL ? fn : staple_real_lookup(hook, name, caller);
}

/*
 * Calls from inside libstaple (libssl's SSL_CTX_new tail-calls
 * SSL_CTX_new_ex through its PLT, so that call returns into libstaple) are
 * for the library of the call libstaple is making on this thread: set it
 * around such a call; returns the previous one to restore.
 */
const void *staple_real_outer(const void *caller);

#endif
