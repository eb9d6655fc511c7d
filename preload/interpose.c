/*
 * interpose.c - the entry points libstaple exports into the host process.
 *
 * These are the only symbols libstaple.so exports. Each one calls the real
 * function of the libssl its caller is bound to (real.h), and when that is
 * the libssl libstaple serves, adds libstaple's setup: every SSL_CTX gets
 * libstaple's status callback; a program that installs its own keeps it,
 * chained behind libstaple's. Calls bound to any other libssl in the
 * process pass through untouched.
 *
 * libssl calls SSL_CTX_ctrl and friends internally too, so these hooks are
 * cheap pass-throughs for everything but the few commands they handle.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>

#include "accepted.h"
#include "client.h"
#include "compat.h"
#include "config.h"
#include "issuers.h"
#include "log.h"
#include "ossl.h"
#include "real.h"
#include "server.h"
#include "staple.h"
#include "store.h"
#include "verify.h"
#include "wanted.h"

#define STAPLE_EXPORT __attribute__((visibility("default")))
#define CALLER __builtin_return_address(0)

/* What libstaple keeps per SSL_CTX, in its ex_data slot. */
struct staple_ctx {
	staple_status_fn app_cb;	/* the program's own status callback */
	/* 1.0.2: the program's certificate-verify callback, chained */
	int (*app_verify)(X509_STORE_CTX *, void *);
	void *app_verify_arg;
	pthread_mutex_t lock;		/* guards app_verify and its arg */
};

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static const void *init_caller;
static int active;		/* 1 once set up; 0: step aside (pass through) */
static int init_done;		/* staple_init_once has run */
static int stepped_aside;	/* init_done, and not active */
static int ctx_index = -1;

/* Only the environment at load: a process that never uses TLS opens nothing. */
__attribute__((constructor)) static void
staple_load(void)
{
	staple_conf_env();
}

static void
staple_fork_prepare(void)
{
	staple_log_fork_prepare();
	staple_issuers_fork_prepare();
	staple_wanted_fork_prepare();
	staple_store_fork_prepare();
	staple_verify_fork_prepare();
	staple_accepted_fork_prepare();
}

static void
staple_fork_parent(void)
{
	staple_accepted_fork_parent();
	staple_verify_fork_parent();
	staple_store_fork_parent();
	staple_wanted_fork_parent();
	staple_issuers_fork_parent();
	staple_log_fork_parent();
}

static void
staple_fork_child(void)
{
	staple_accepted_fork_child();
	staple_verify_fork_child();
	staple_store_fork_child();
	staple_wanted_fork_child();
	staple_issuers_fork_child();
	staple_log_fork_child();
}

static void
staple_ctx_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx,
    long argl, void *argp)
{
	struct staple_ctx *st = ptr;

	(void)parent, (void)ad, (void)idx, (void)argl, (void)argp;
	if (st != NULL)
		pthread_mutex_destroy(&st->lock);
	free(st);
}

/* Whether the setup worked: configuration, symbols, ex_data slots, fork hooks. */
static int
staple_setup(void)
{
	staple_conf_load();
	if (!staple_conf.enabled) {
		staple_log(STAPLE_DEBUG, "enabled = no: stepping aside");
		return 0;
	}
	if (!staple_ossl_resolve(init_caller))
		return 0;
	staple_md_init();
	ctx_index = staple_ex_index_ctx(staple_ctx_free);
	return ctx_index >= 0 && staple_compat_init() && staple_client_init() &&
	    pthread_atfork(staple_fork_prepare, staple_fork_parent,
	    staple_fork_child) == 0;
}

static void
staple_init_once(void)
{
	if (staple_setup())
		__atomic_store_n(&active, 1, __ATOMIC_RELEASE);
	else
		__atomic_store_n(&stepped_aside, 1, __ATOMIC_RELEASE);
	__atomic_store_n(&init_done, 1, __ATOMIC_RELEASE);
}

/* Whether libstaple is set up and has not stepped aside. */
static int
staple_active(void)
{
	return __atomic_load_n(&active, __ATOMIC_ACQUIRE);
}

/* The first call: set libstaple up; whether it is active. */
static __attribute__((noinline)) int
staple_init_first(const void *caller)
{
	const void *none = NULL;

	staple_ossl_origin(caller);
	__atomic_compare_exchange_n(&init_caller, &none, caller, 0,
	    __ATOMIC_RELAXED, __ATOMIC_RELAXED);
	pthread_once(&init_once, staple_init_once);
	return staple_active();
}

/*
 * Set libstaple up on first use; whether it is active (else pass through).
 * After the first call this is two loads: it runs on every SSL_ctrl.
 */
static inline int
staple_init(const void *caller)
{
	if (__builtin_expect(__atomic_load_n(&init_done, __ATOMIC_ACQUIRE), 1))
		return staple_active();
	return staple_init_first(caller);
}

/*
 * A second, different libssl in the process (a plug-in's, a Python
 * wheel's): its callers are passed through to it; say so once, naming it.
 */
static int other_warned;	/* that warning was given */

static __attribute__((noinline)) void
staple_other_libssl(void *fn)
{
	Dl_info theirs, ours;
	const char *(*text)(int);
	void *handle;

	if (__atomic_exchange_n(&other_warned, 1, __ATOMIC_RELAXED))
		return;
	if (!dladdr(fn, &theirs) || theirs.dli_fname == NULL ||
	    !dladdr((void *)ossl.SSL_CTX_new, &ours) || ours.dli_fname == NULL)
		return;
	text = NULL;
	if ((handle = dlopen(theirs.dli_fname, RTLD_LAZY | RTLD_NOLOAD)) != NULL) {
		if ((*(void **)&text = dlsym(handle, "OpenSSL_version")) == NULL)
			*(void **)&text = dlsym(handle, "SSLeay_version");
		dlclose(handle);
	}
	staple_log(STAPLE_WARN, "%s in %s is a second libssl in this process"
	    " (libstaple serves %s): stepping aside for its callers",
	    text != NULL ? text(0) : "OpenSSL", theirs.dli_fname,
	    ours.dli_fname);
}

/*
 * Whether libstaple serves a call whose real function is `real`: it is set
 * up, and `real` is `ours`, the served libssl's function of that name.
 */
static inline int
staple_served(void *real, void *ours)
{
	if (real == ours)
		return real != NULL;
	if (real != NULL && !__atomic_load_n(&other_warned, __ATOMIC_RELAXED))
		staple_other_libssl(real);
	return 0;
}

/*
 * Set `real` to the caller's own `name`; whether libstaple serves the call
 * (else it passes it through). Set up first: ossl is read after.
 */
#define STAPLE_ENTER(name, real) STAPLE_ENTER_FROM(name, real, CALLER)
#define STAPLE_ENTER_FROM(name, real, caller) \
	((real) = (__typeof__(&name))staple_real_find(STAPLE_HOOK_##name, \
	    #name, (caller)), \
	staple_init(caller) && staple_served((void *)(real), (void *)ossl.name))

/*
 * The fast path of the ctrl entry points, which programs call in loops:
 * whether `real`, if known (not NULL: see staple_real_first), may just be
 * called, because libstaple is set up and steps aside, or the call is for
 * another libssl (already warned about), or libstaple serves the call and
 * has nothing to do with it (`boring`). Calls nothing, so that the entry
 * point saves no register and sibling-calls `real`.
 */
#define STAPLE_PASS(name, real, boring) \
	((real) != NULL && (__atomic_load_n(&stepped_aside, __ATOMIC_RELAXED) || \
	(__atomic_load_n(&active, __ATOMIC_ACQUIRE) && \
	((void *)(real) == (void *)ossl.name ? (boring) : \
	__atomic_load_n(&other_warned, __ATOMIC_RELAXED)))))

static struct staple_ctx *
staple_ctx_get(const SSL_CTX *ctx)
{
	return ctx == NULL ? NULL : ossl.SSL_CTX_get_ex_data(ctx, ctx_index);
}

/* The status callback libstaple installs on every SSL_CTX. */
static int
staple_status_cb(SSL *s, void *arg)
{
	struct staple_ctx *st = staple_ctx_get(ossl.SSL_get_SSL_CTX(s));
	staple_status_fn app = NULL;

	if (st != NULL)
		app = __atomic_load_n(&st->app_cb, __ATOMIC_ACQUIRE);
	if (ossl.SSL_is_server(s))
		return staple_server_status(s, app, arg);
	return staple_client_status(s, app, arg);
}

/*
 * 1.0.2 only, libstaple's certificate-verify callback: the program's own
 * (or OpenSSL's verification), then what 1.0.2 leaves to be done here: the
 * chain it built is kept, and a client that was told at ServerHello that
 * no staple comes gets its verdict now that the certificate is known.
 */
static int
staple_cert_verify(X509_STORE_CTX *x, void *arg)
{
	SSL *s = ossl.X509_STORE_CTX_get_ex_data(x,
	    ossl.SSL_get_ex_data_X509_STORE_CTX_idx());
	struct staple_ctx *st = s ? staple_ctx_get(ossl.SSL_get_SSL_CTX(s)) : NULL;
	int (*app)(X509_STORE_CTX *, void *) = NULL;
	int ok;

	(void)arg;
	if (st != NULL) {
		pthread_mutex_lock(&st->lock);
		app = st->app_verify;
		arg = st->app_verify_arg;
		pthread_mutex_unlock(&st->lock);
	}
	ok = app != NULL ? app(x, arg) : ossl.X509_verify_cert(x);
	if (s == NULL || ossl.SSL_is_server(s))
		return ok;
	staple_compat_keep_chain(s, x);
	return staple_client_late(s, x, ok);
}

/*
 * Give a new SSL_CTX libstaple's state and status callback (and on 1.0.2
 * its certificate-verify callback); idempotent, so SSL_CTX_new calling
 * SSL_CTX_new_ex through the PLT sets up once.
 */
static void
staple_ctx_setup(SSL_CTX *ctx)
{
	struct staple_ctx *st;

	if (ctx == NULL || staple_ctx_get(ctx) != NULL ||
	    (st = calloc(1, sizeof(*st))) == NULL)
		return;
	pthread_mutex_init(&st->lock, NULL);
	if (!ossl.SSL_CTX_set_ex_data(ctx, ctx_index, st)) {
		pthread_mutex_destroy(&st->lock);
		free(st);
		return;
	}
	ossl.SSL_CTX_callback_ctrl(ctx, SSL_CTRL_SET_TLSEXT_STATUS_REQ_CB,
	    (void (*)(void))staple_status_cb);
	if (ossl.legacy)
		ossl.SSL_CTX_set_cert_verify_callback(ctx, staple_cert_verify, NULL);
}

/*
 * 3.x's SSL_CTX_new tail-calls SSL_CTX_new_ex through its PLT: that call
 * returns into this function, and is for this caller's libssl.
 */
STAPLE_EXPORT SSL_CTX *
SSL_CTX_new(const SSL_METHOD *meth)
{
	__typeof__(&SSL_CTX_new) real;
	int served = STAPLE_ENTER(SSL_CTX_new, real);
	const void *previous;
	SSL_CTX *ctx;

	if (real == NULL)
		return NULL;
	previous = staple_real_outer(CALLER);
	ctx = real(meth);
	staple_real_outer(previous);
	if (ctx != NULL && served)
		staple_ctx_setup(ctx);
	return ctx;
}

STAPLE_EXPORT SSL_CTX *
SSL_CTX_new_ex(OSSL_LIB_CTX *libctx, const char *propq, const SSL_METHOD *meth)
{
	__typeof__(&SSL_CTX_new_ex) real;
	int served = STAPLE_ENTER(SSL_CTX_new_ex, real);
	SSL_CTX *ctx;

	if (real == NULL)
		return NULL;
	ctx = real(libctx, propq, meth);
	if (ctx != NULL && served)
		staple_ctx_setup(ctx);
	return ctx;
}

/* Command 63 (set status callback): keep the program's, stay installed. */
STAPLE_EXPORT long
SSL_CTX_callback_ctrl(SSL_CTX *ctx, int cmd, void (*fp)(void))
{
	__typeof__(&SSL_CTX_callback_ctrl) real;
	int served = STAPLE_ENTER(SSL_CTX_callback_ctrl, real);
	struct staple_ctx *st;

	if (real == NULL)
		return 0;
	if (cmd == SSL_CTRL_SET_TLSEXT_STATUS_REQ_CB && served &&
	    (st = staple_ctx_get(ctx)) != NULL) {
		__atomic_store_n(&st->app_cb, (staple_status_fn)fp,
		    __ATOMIC_RELEASE);
		return 1;
	}
	return real(ctx, cmd, fp);
}

/*
 * Whether `cmd` hands a context or connection chain certificates (an X509
 * in parg, or a stack for SSL_CTRL_CHAIN): issuers a staple may need.
 */
static int
staple_chain_cmd(int cmd)
{
	return cmd == SSL_CTRL_EXTRA_CHAIN_CERT || cmd == SSL_CTRL_CHAIN_CERT ||
	    cmd == SSL_CTRL_CHAIN;
}

/* Remember the certificates a chain command handed over. */
static void
staple_chain_learn(int cmd, void *parg)
{
	if (cmd == SSL_CTRL_CHAIN)
		staple_issuers_add_chain(parg);
	else
		staple_issuers_add(parg);
}

/*
 * Command 128 (get status callback): answer with the program's own. Chain
 * certificates set on a context are issuers its staples may need: look at
 * the staples again with them known.
 */
static __attribute__((noinline)) long
staple_ctx_ctrl(SSL_CTX *ctx, int cmd, long larg, void *parg,
    const void *caller)
{
	__typeof__(&SSL_CTX_ctrl) real;
	int served = STAPLE_ENTER_FROM(SSL_CTX_ctrl, real, caller);
	struct staple_ctx *st;
	long ret;

	if (real == NULL)
		return 0;
	if (cmd == SSL_CTRL_GET_TLSEXT_STATUS_REQ_CB && served &&
	    parg != NULL && (st = staple_ctx_get(ctx)) != NULL) {
		*(staple_status_fn *)parg = __atomic_load_n(&st->app_cb,
		    __ATOMIC_ACQUIRE);
		return 1;
	}
	ret = real(ctx, cmd, larg, parg);
	if (staple_chain_cmd(cmd) && ret > 0 && parg != NULL && served) {
		staple_chain_learn(cmd, parg);
		staple_wanted_flush();
		staple_store_refresh();
	}
	return ret;
}

STAPLE_EXPORT long
SSL_CTX_ctrl(SSL_CTX *ctx, int cmd, long larg, void *parg)
{
	__typeof__(&SSL_CTX_ctrl) real = (__typeof__(&SSL_CTX_ctrl))
	    staple_real_first(STAPLE_HOOK_SSL_CTX_ctrl, CALLER);

	if (STAPLE_PASS(SSL_CTX_ctrl, real,
	    cmd != SSL_CTRL_GET_TLSEXT_STATUS_REQ_CB && !staple_chain_cmd(cmd)))
		return real(ctx, cmd, larg, parg);
	return staple_ctx_ctrl(ctx, cmd, larg, parg, CALLER);
}

/* The chain certificates `ctx` holds now (its current key's, and the extra ones). */
static void
staple_ctx_learn(SSL_CTX *ctx)
{
	STACK_OF(X509) *chain = NULL;

	ossl.SSL_CTX_ctrl(ctx, SSL_CTRL_GET_CHAIN_CERTS, 0, &chain);
	staple_issuers_add_chain(chain);
	chain = NULL;
	ossl.SSL_CTX_ctrl(ctx, SSL_CTRL_GET_EXTRA_CHAIN_CERTS,
	    1 /* the extra certificates only */, &chain);
	staple_issuers_add_chain(chain);
}

/*
 * The certificate file being loaded on this thread (SSL_CTX_use_certificate
 * _file and _chain_file call SSL_CTX_use_certificate inside), or NULL.
 */
static __thread const char *loading_file;

/*
 * Context `ctx` was given certificate `x` (NULL: its current one), from
 * `file` when known: note it for the register of wanted staples and
 * register what can be, now that its chain was learned. This is where the
 * register is written, at load time only (wanted.c says why); a client's
 * own certificate wants no staple.
 */
static void
staple_ctx_wanted(SSL_CTX *ctx, X509 *x, const char *file)
{
	if (ossl.SSL_CTX_get_ssl_method(ctx) == ossl.TLS_client_method())
		return;
	staple_wanted_add(x != NULL ? x : ossl.SSL_CTX_get0_certificate(ctx),
	    file);
	staple_wanted_flush();
}

/*
 * A server context got a certificate: learn its chain, register it, and
 * load the staples now, not mid-handshake; on a reload of the program's
 * configuration, look again.
 */
STAPLE_EXPORT int
SSL_CTX_use_certificate(SSL_CTX *ctx, X509 *x)
{
	__typeof__(&SSL_CTX_use_certificate) real;
	int served = STAPLE_ENTER(SSL_CTX_use_certificate, real);
	int ret;

	if (real == NULL)
		return 0;
	ret = real(ctx, x);
	if (ret == 1 && served) {
		staple_ctx_learn(ctx);
		staple_ctx_wanted(ctx, x, loading_file);
		staple_store_refresh();
	}
	return ret;
}

/* The same, for certificate, key and chain in one call (Postfix's chain files). */
STAPLE_EXPORT int
SSL_CTX_use_cert_and_key(SSL_CTX *ctx, X509 *x509, EVP_PKEY *privatekey,
    STACK_OF(X509) *chain, int override)
{
	__typeof__(&SSL_CTX_use_cert_and_key) real;
	int served = STAPLE_ENTER(SSL_CTX_use_cert_and_key, real);
	int ret;

	if (real == NULL)
		return 0;
	ret = real(ctx, x509, privatekey, chain, override);
	if (ret == 1 && served) {
		staple_issuers_add_chain(chain);
		staple_ctx_wanted(ctx, x509, loading_file);
		staple_store_refresh();
	}
	return ret;
}

/*
 * Also serve CERTFILE.ocsp beside a certificate loaded from a file, and
 * register the certificate by its file's name.
 */
STAPLE_EXPORT int
SSL_CTX_use_certificate_file(SSL_CTX *ctx, const char *file, int type)
{
	__typeof__(&SSL_CTX_use_certificate_file) real;
	int served = STAPLE_ENTER(SSL_CTX_use_certificate_file, real);
	const char *outer = loading_file;
	int ret;

	if (real == NULL)
		return 0;
	loading_file = file;
	ret = real(ctx, file, type);
	loading_file = outer;
	if (ret == 1 && served && file != NULL) {
		staple_ctx_wanted(ctx, NULL, file);
		staple_store_watch(file);
	}
	return ret;
}

STAPLE_EXPORT int
SSL_CTX_use_certificate_chain_file(SSL_CTX *ctx, const char *file)
{
	__typeof__(&SSL_CTX_use_certificate_chain_file) real;
	int served = STAPLE_ENTER(SSL_CTX_use_certificate_chain_file, real);
	const char *outer = loading_file;
	int ret;

	if (real == NULL)
		return 0;
	loading_file = file;
	ret = real(ctx, file);
	loading_file = outer;
	if (ret == 1 && served && file != NULL) {
		staple_ctx_learn(ctx);
		staple_ctx_wanted(ctx, NULL, file);
		staple_store_watch(file);
	}
	return ret;
}

/*
 * 1.0.2: keep libstaple's certificate-verify callback installed and chain
 * the program's behind it. Elsewhere a pass-through.
 */
STAPLE_EXPORT void
SSL_CTX_set_cert_verify_callback(SSL_CTX *ctx,
    int (*cb)(X509_STORE_CTX *, void *), void *arg)
{
	__typeof__(&SSL_CTX_set_cert_verify_callback) real;
	int served = STAPLE_ENTER(SSL_CTX_set_cert_verify_callback, real);
	struct staple_ctx *st;

	if (real == NULL)
		return;
	if (served && ossl.legacy && (st = staple_ctx_get(ctx)) != NULL) {
		pthread_mutex_lock(&st->lock);
		st->app_verify = cb;
		st->app_verify_arg = arg;
		pthread_mutex_unlock(&st->lock);
		return;
	}
	real(ctx, cb, arg);
}

/* A new client connection asks for a staple (policy permitting). */
STAPLE_EXPORT SSL *
SSL_new(SSL_CTX *ctx)
{
	__typeof__(&SSL_new) real;
	int served = STAPLE_ENTER(SSL_new, real);
	SSL *s;

	if (real == NULL)
		return NULL;
	s = real(ctx);
	if (s != NULL && served && !ossl.SSL_is_server(s))
		staple_client_prepare(s);
	return s;
}

/* A connection of a generic method becomes a client here. */
STAPLE_EXPORT void
SSL_set_connect_state(SSL *s)
{
	__typeof__(&SSL_set_connect_state) real;
	int served = STAPLE_ENTER(SSL_set_connect_state, real);

	if (real == NULL)
		return;
	real(s);
	if (served)
		staple_client_prepare(s);
}

/*
 * Command 55 (SNI name): the per-host policy may differ from the default.
 * Chain commands on a connection: issuers its staples may need.
 */
static __attribute__((noinline)) long
staple_ssl_ctrl(SSL *s, int cmd, long larg, void *parg, const void *caller)
{
	__typeof__(&SSL_ctrl) real;
	int served = STAPLE_ENTER_FROM(SSL_ctrl, real, caller);
	long ret;

	if (real == NULL)
		return 0;
	ret = real(s, cmd, larg, parg);
	if (cmd == SSL_CTRL_SET_TLSEXT_HOSTNAME && ret == 1 && served &&
	    !ossl.SSL_is_server(s))
		staple_client_prepare(s);
	/* a connection's own chain: its issuer is vetted in the next check */
	else if (staple_chain_cmd(cmd) && ret > 0 && parg != NULL &&
	    served)
		staple_chain_learn(cmd, parg);
	return ret;
}

STAPLE_EXPORT long
SSL_ctrl(SSL *s, int cmd, long larg, void *parg)
{
	__typeof__(&SSL_ctrl) real = (__typeof__(&SSL_ctrl))
	    staple_real_first(STAPLE_HOOK_SSL_ctrl, CALLER);

	if (STAPLE_PASS(SSL_ctrl, real,
	    cmd != SSL_CTRL_SET_TLSEXT_HOSTNAME && !staple_chain_cmd(cmd)))
		return real(s, cmd, larg, parg);
	return staple_ssl_ctrl(s, cmd, larg, parg, CALLER);
}

/*
 * No bypass through resumption: a session that was not established under
 * an accepting verdict is not offered; the handshake is a full one instead.
 */
STAPLE_EXPORT int
SSL_set_session(SSL *s, SSL_SESSION *sess)
{
	__typeof__(&SSL_set_session) real;
	int served = STAPLE_ENTER(SSL_set_session, real);

	if (real == NULL)
		return 0;
	if (sess != NULL && served && !staple_client_may_resume(s, sess)) {
		staple_log(STAPLE_INFO, "not resuming a session without an"
		    " accepted staple");
		sess = NULL;
	}
	return real(s, sess);
}
