/*
 * fuzz_shared.c - libFuzzer target for the shared staple index reader: the
 * input is an index file (preload/shared.h) as staplectl writes it, or any
 * bytes. Every record, entry and bucket is read through the reader's checks;
 * nothing may read outside the input, crash, leak or hang. With
 * FUZZ_SHARED_REPORT set, one line per input says what the reader made of
 * it: "refused", or "files F entries E found K picked P".
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../preload/shared.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* a mapping is page-aligned: so is the copy, and exactly `size` long */
	unsigned char *buf = size ? malloc(size) : NULL;
	const struct staple_shared_file *r;
	struct staple_shared *sh;
	struct staple_pick p;
	uint32_t first, end, file;
	const char *name;
	struct stat st;
	size_t found = 0, picked = 0;
	int report = getenv("FUZZ_SHARED_REPORT") != NULL;

	if (buf == NULL)
		return 0;
	memcpy(buf, data, size);
	if ((sh = staple_shared_wrap(buf, size)) == NULL) {
		if (report)
			printf("refused\n");
		free(buf);
		return 0;
	}
	memset(&st, 0, sizeof(st));
	staple_shared_dir_same(sh, &st);
	for (size_t k = 0; k < staple_shared_nfiles(sh); k++) {
		if ((r = staple_shared_file(sh, k, &name)) == NULL)
			continue;
		staple_shared_file_same(r, &st);
		found += staple_shared_find(sh, name) == (long)k;
		staple_shared_find_next(sh, k, name);
	}
	for (uint32_t n = 0; n < sh->hdr->nentries; n++) {
		if (!staple_pick_shared(&p, sh, n, &file) ||
		    !staple_shared_bucket(sh, p.e.serial, p.e.serial_len, &first,
		    &end))
			continue;
		for (uint32_t i = first; i < end; i++)
			picked += staple_pick_shared(&p, sh,
			    staple_shared_slot(sh, i), &file) &&
			    staple_shared_slot(sh, i) == n;
	}
	if (report)
		printf("files %zu entries %u found %zu picked %zu\n",
		    staple_shared_nfiles(sh), sh->hdr->nentries, found, picked);
	staple_shared_release(sh);
	free(buf);
	return 0;
}
