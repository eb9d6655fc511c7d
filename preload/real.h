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

/* Every interposed entry point. */
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

/* One call site's answer; written once, then only read. */
struct staple_real {
	int state;			/* STAPLE_REAL_EMPTY, _BUSY, _READY */
	int hook;
	const void *caller;		/* the return address of the call */
	void *fn;			/* the real function, or NULL */
};
#define STAPLE_REAL_EMPTY 0
#define STAPLE_REAL_BUSY 1		/* being written: not yet to be read */
#define STAPLE_REAL_READY 2

extern struct staple_real staple_real_table[STAPLE_REAL_SLOTS]
    __attribute__((visibility("hidden")));

/* The first slot for (caller, hook). */
static inline uint32_t
staple_real_slot(const void *caller, int hook)
{
	return ((uint32_t)(uintptr_t)caller ^ (uint32_t)hook) * 2654435761U >>
	    (32 - STAPLE_REAL_BITS);
}

/*
 * Look `name` up for `caller` and remember it; the slow path of
 * staple_real_find. Thread-safe; never fails (NULL: no such function).
 */
void *staple_real_lookup(int hook, const char *name, const void *caller);

/*
 * The real `name` (entry point `hook`) for a call from `caller`, the
 * return address in the caller's code: the function of the libssl that
 * code is bound to, or NULL. Lock-free; allocates nothing once known.
 */
static inline void *
staple_real_find(int hook, const char *name, const void *caller)
{
	uint32_t i = staple_real_slot(caller, hook), n;
	const struct staple_real *e;

	for (n = 0; n < STAPLE_REAL_PROBES; n++) {
		e = &staple_real_table[(i + n) & (STAPLE_REAL_SLOTS - 1)];
		switch (__atomic_load_n(&e->state, __ATOMIC_ACQUIRE)) {
		case STAPLE_REAL_EMPTY:
			return staple_real_lookup(hook, name, caller);
		case STAPLE_REAL_READY:
			if (e->caller == caller && e->hook == hook)
				return e->fn;
		}
	}
	return staple_real_lookup(hook, name, caller);
}

/*
 * Calls from inside libstaple (libssl's SSL_CTX_new tail-calls
 * SSL_CTX_new_ex through its PLT, so that call returns into libstaple) are
 * for the library of the call libstaple is making on this thread: set it
 * around such a call; returns the previous one to restore.
 */
const void *staple_real_outer(const void *caller);

#endif
