/*
 * fuzz_config.c - libFuzzer target for the config file parser: any file
 * content must be read without crashing, leaking or hanging, must leave
 * every value in its documented range, and a policy must never end up
 * weaker than must-staple unless the file says so validly.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "../preload/config.h"

static char path[] = "/tmp/libstaple-fuzz-config.XXXXXX";
static int fd = -1;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if ((fd = mkstemp(path)) < 0)
		abort();
	setenv("LIBSTAPLE_CONF", path, 1);
	setenv("LIBSTAPLE_LOG", "none", 1);
	staple_conf_env();
	return 0;
}

static void
forget_hosts(void)
{
	for (int i = 0; i < staple_conf.nhosts; i++)
		free(staple_conf.hosts[i].name);
	free(staple_conf.hosts);
	staple_conf.hosts = NULL;
	staple_conf.nhosts = 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();
	staple_conf_load();
	if (staple_conf.reload_interval < 1 || staple_conf.reload_interval > 300 ||
	    staple_conf.clock_skew < 0 || staple_conf.max_age < 60 ||
	    staple_conf.log_interval < 1 ||
	    staple_conf.policy < STAPLE_POLICY_OFF ||
	    staple_conf.policy > STAPLE_POLICY_REQUIRE)
		abort();
	(void)staple_conf_host_policy("a.example.com");
	(void)staple_conf_host_policy("");
	forget_hosts();
	return 0;
}
