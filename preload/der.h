/*
 * der.h - a strict DER reader for OCSP responses, for the staple index.
 *
 * OpenSSL 3's decoder takes about 100 us a response, most of it locks and
 * allocations; reading the few fields the index needs takes a few hundred
 * nanoseconds and calls nothing. It accepts strict DER only (definite,
 * minimal lengths; minimal INTEGERs; BOOLEAN TRUE as 0xFF) and gives up on
 * anything else, so that staple_parse() falls back to OpenSSL's parse: the
 * entries are always OpenSSL's own where OpenSSL accepts the response (see
 * tests/ and fuzz/fuzz_der.c, which hold it to that).
 */
#ifndef STAPLE_DER_H
#define STAPLE_DER_H

#include <stddef.h>

#include "staple.h"

/*
 * The SingleResponses of the DER response `der` as staple_entries() would
 * give them (malloc()ed into *entries, *n of them), and 1; or 0 when the
 * response is not strict DER, not successful, not basic, has a critical
 * responseExtension or no usable SingleResponse: the caller then asks
 * OpenSSL, which says why.
 */
int staple_der_parse(const unsigned char *der, size_t len,
    struct staple_entry **entries, size_t *n);

#endif
