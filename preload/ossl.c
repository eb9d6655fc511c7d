/*
 * ossl.c - find the host process's libssl and fill the symbol table.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stddef.h>

#include "log.h"
#include "ossl.h"

struct staple_ossl ossl;

/* Whether `addr` lies in libstaple itself. */
static int
staple_ossl_is_self(const void *addr)
{
	Dl_info self, other;

	if (!dladdr((void *)staple_ossl_is_self, &self) || !dladdr(addr, &other))
		return 0;
	return self.dli_fbase == other.dli_fbase;
}

/*
 * The caller's own dependency scope comes first: it is what the caller was
 * linked against, and it is the only way to see a libssl that arrived as a
 * dependency of a dlopen()ed module (RTLD_NEXT does not search it).
 */
/* The first caller from outside libstaple (see staple_ossl_origin). */
static const void *origin;

void
staple_ossl_origin(const void *caller)
{
	const void *none = NULL;

	if (caller != NULL && !staple_ossl_is_self(caller))
		__atomic_compare_exchange_n(&origin, &none, caller, 0,
		    __ATOMIC_RELAXED, __ATOMIC_RELAXED);
}

void *
staple_ossl_lookup(const void *caller, const char *name)
{
	Dl_info info;
	void *handle, *sym = NULL;

	/*
	 * libssl's SSL_CTX_new tail-calls SSL_CTX_new_ex through the PLT: that
	 * call comes from libstaple's own SSL_CTX_new. Look up as the program did.
	 */
	if (caller != NULL && staple_ossl_is_self(caller))
		caller = __atomic_load_n(&origin, __ATOMIC_RELAXED);
	if (caller != NULL && dladdr(caller, &info) && info.dli_fname != NULL &&
	    !staple_ossl_is_self(caller)) {
		handle = dlopen(info.dli_fname, RTLD_LAZY | RTLD_NOLOAD);
		if (handle != NULL) {
			sym = dlsym(handle, name);
			dlclose(handle);
		}
		if (sym != NULL && !staple_ossl_is_self(sym))
			return sym;
	}
	sym = dlsym(RTLD_NEXT, name);
	if (sym != NULL && staple_ossl_is_self(sym))
		return NULL;
	return sym;
}

/* Whether libstaple serves OpenSSL `version`: 1.0.2, 1.1.1 or 3.x. */
static int
staple_ossl_supported(unsigned long version)
{
	return (version >= 0x10002000UL && version < 0x10100000UL) ||
	    (version >= 0x10101000UL && version < 0x10200000UL) ||
	    (version >= 0x30000000UL && version < 0x40000000UL);
}

/* The version first: an unserved one is named, not a function it lacks. */
static int
staple_ossl_version(void *handle, const char *file)
{
	unsigned long (*num)(void) = (unsigned long (*)(void))dlsym(handle,
	    "OpenSSL_version_num");
	const char *(*text)(int) = (const char *(*)(int))dlsym(handle,
	    "OpenSSL_version");
	unsigned long version;

	if (num == NULL)
		num = (unsigned long (*)(void))dlsym(handle, "SSLeay");
	if (text == NULL)
		text = (const char *(*)(int))dlsym(handle, "SSLeay_version");
	if (num == NULL) {
		staple_log(STAPLE_WARN, "%s: not an OpenSSL libssl; stepping"
		    " aside", file);
		return 0;
	}
	version = num();
	if (!staple_ossl_supported(version)) {
		staple_log(STAPLE_WARN, "%s (%#lx) in %s is not a version"
		    " libstaple serves (1.0.2, 1.1.1, 3.x); stepping aside",
		    text ? text(0) : "OpenSSL", version, file);
		return 0;
	}
	ossl.legacy = version < 0x10100000UL;
	return 1;
}

/* The libssl the table was filled from, and its file name. */
static void *table_handle;
static const char *table_file;

/*
 * The lookup of one table entry, `required` as ossl.h's lists say: records
 * the first required one missing in *missing.
 */
#define STAPLE_OSSL_FIND(name, required) \
	ossl.name = (__typeof__(&name))dlsym(handle, #name); \
	if (ossl.name == NULL && missing == NULL && \
	    ((required) == 1 || ((required) == 2 && !ossl.legacy))) \
		missing = #name;
#define STAPLE_OSSL_FIND_RENAMED(name, older, required) \
	if ((ossl.name = (__typeof__(&name))dlsym(handle, #name)) == NULL) \
		ossl.name = (__typeof__(&name))dlsym(handle, #older); \
	if (ossl.name == NULL && missing == NULL && \
	    ((required) == 1 || ((required) == 2 && !ossl.legacy))) \
		missing = #name;
#define STAPLE_OSSL_FIND_LEGACY(name, type) \
	ossl.name = ossl.legacy ? (type)dlsym(handle, #name) : NULL; \
	if (ossl.legacy && ossl.name == NULL && missing == NULL) \
		missing = #name;

int
staple_ossl_resolve(const void *caller)
{
	Dl_info info;
	void *real, *handle;
	const char *missing = NULL;

	real = staple_ossl_lookup(caller, "SSL_CTX_new");
	if (real == NULL || !dladdr(real, &info) || info.dli_fname == NULL)
		return 0;
	/* Kept open for good: the table must stay valid even if the host dlcloses. */
	handle = dlopen(info.dli_fname, RTLD_LAZY | RTLD_NOLOAD);
	if (handle == NULL || !staple_ossl_version(handle, info.dli_fname))
		return 0;

	STAPLE_OSSL_FUNCS(STAPLE_OSSL_FIND)
	STAPLE_OSSL_RENAMED(STAPLE_OSSL_FIND_RENAMED)
	STAPLE_OSSL_LEGACY(STAPLE_OSSL_FIND_LEGACY)

	if (missing != NULL) {
		staple_log(STAPLE_WARN, "%s has no %s; stepping aside",
		    info.dli_fname, missing);
		return 0;
	}
	staple_log(STAPLE_DEBUG, "using %s (%s)", info.dli_fname,
	    ossl.OpenSSL_version(0));
	table_handle = handle;
	table_file = info.dli_fname;
	return 1;
}

int
staple_ossl_resolve_ctl(void)
{
	void *handle = table_handle;
	const char *missing = NULL;

	if (handle == NULL)
		return 0;
	STAPLE_OSSL_CTL(STAPLE_OSSL_FIND)
	STAPLE_OSSL_CTL_RENAMED(STAPLE_OSSL_FIND_RENAMED)
	STAPLE_OSSL_CTL_LEGACY(STAPLE_OSSL_FIND_LEGACY)
	if (missing != NULL) {
		staple_log(STAPLE_WARN, "%s has no %s", table_file, missing);
		return 0;
	}
	if (ossl.legacy) {
		ossl.SSL_library_init();
		ossl.SSL_load_error_strings();
		ossl.OPENSSL_add_all_algorithms_noconf();
	}
	return 1;
}
