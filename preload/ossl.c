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
void *
staple_ossl_lookup(const void *caller, const char *name)
{
	Dl_info info;
	void *handle, *sym = NULL;

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

int
staple_ossl_resolve(const void *caller)
{
	Dl_info info;
	void *real, *handle;
	const char *missing = NULL;
	unsigned long version;

	real = staple_ossl_lookup(caller, "SSL_CTX_new");
	if (real == NULL || !dladdr(real, &info) || info.dli_fname == NULL)
		return 0;
	/* Kept open for good: the table must stay valid even if the host dlcloses. */
	handle = dlopen(info.dli_fname, RTLD_LAZY | RTLD_NOLOAD);
	if (handle == NULL)
		return 0;

#define STAPLE_OSSL_FIND(name, required) \
	ossl.name = (__typeof__(&name))dlsym(handle, #name); \
	if (ossl.name == NULL && (required) && missing == NULL) \
		missing = #name;
	STAPLE_OSSL_FUNCS(STAPLE_OSSL_FIND)
#undef STAPLE_OSSL_FIND
#define STAPLE_OSSL_FIND_RENAMED(name, older) \
	if ((ossl.name = (__typeof__(&name))dlsym(handle, #name)) == NULL) \
		ossl.name = (__typeof__(&name))dlsym(handle, #older); \
	if (ossl.name == NULL && missing == NULL) \
		missing = #name;
	STAPLE_OSSL_RENAMED(STAPLE_OSSL_FIND_RENAMED)
#undef STAPLE_OSSL_FIND_RENAMED

	if (missing != NULL) {
		staple_log(STAPLE_WARN, "%s has no %s; stepping aside",
		    info.dli_fname, missing);
		return 0;
	}
	version = ossl.OpenSSL_version_num();
	if (version < 0x10101000UL || version >= 0x40000000UL) {
		staple_log(STAPLE_WARN, "unsupported OpenSSL version %#lx in %s;"
		    " stepping aside", version, info.dli_fname);
		return 0;
	}
	staple_log(STAPLE_DEBUG, "using %s (OpenSSL %#lx)", info.dli_fname,
	    version);
	return 1;
}
