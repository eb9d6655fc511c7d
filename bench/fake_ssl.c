/*
 * fake_ssl - a stand-in libssl for bench/percall: just what bench/ctrl.c
 * calls, reporting OpenSSL 1.1.0 (a version libstaple does not serve, so
 * it steps aside for every call).
 */
struct fake { long mode; };
static struct fake fake_obj;

const void *TLS_method(void) { return &fake_obj; }
void *SSL_CTX_new(const void *method) { (void)method; return &fake_obj; }
void *SSL_new(void *ctx) { (void)ctx; return &fake_obj; }
long
SSL_ctrl(void *s, int cmd, long larg, void *parg)
{
	(void)larg, (void)parg;
	return cmd == 33 ? ((struct fake *)s)->mode : 0;
}
unsigned long OpenSSL_version_num(void) { return 0x1010007fUL; }
const char *OpenSSL_version(int type) { (void)type; return "OpenSSL 1.1.0g  2 Nov 2017"; }
