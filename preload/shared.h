/*
 * shared.h - the shared staple index: every staple of the staple directory,
 * parsed and indexed by CertID, in one file that every server process maps
 * read-only. One copy per host in the page cache, whatever the number of
 * processes and workers, instead of one parsed copy per process.
 *
 * Where: DIR/.index/staples. Written by staplectl (`staplectl index`, and at
 * the end of `staplectl refresh`) as a temporary file in DIR/.index, then
 * renamed over the final name: a mapped index is never truncated or
 * rewritten in place.
 *
 * Mapped only when the file and DIR/.index are owned by root and writable
 * by root alone (no one else can shorten it under a mapping: no SIGBUS) and
 * its header is sound; otherwise every staple is read from its own file, as
 * without an index. The index is a cache of the directory, never a source:
 * a file whose inode, size, mtime or ctime differs from its record, or that
 * the index does not hold, is read from the directory; a record whose file
 * is gone is not served. Every offset is checked against the mapping before
 * it is followed, so a malformed index costs staples, not the host.
 *
 * Each process keeps its own verdicts (vet.h) beside the mapping: staples
 * are vetted before they are served, as without an index.
 *
 * Format (native byte order; written and read on the same host):
 *
 *   struct staple_shared_header
 *   struct staple_shared_file[nfiles]      sorted by name (strcmp)
 *   struct staple_shared_entry[nentries]   each file's entries together
 *   uint32_t start[nbuckets + 1]           bucket b: slots[start[b]..start[b+1])
 *   uint32_t slots[nentries]               entry numbers, by serial bucket
 *   uint32_t listing[nfiles]               file numbers in the order readdir()
 *                                          gave the names (a listing's hint)
 *   names                                  NUL-terminated, names_len bytes
 *   blobs                                  per entry: name hash, key hash, serial
 *   DER responses                          der_len bytes
 */
#ifndef STAPLE_SHARED_H
#define STAPLE_SHARED_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "staple.h"

#define STAPLE_SHARED_MAGIC "LSSTIX01"
#define STAPLE_SHARED_DIR ".index"
#define STAPLE_SHARED_FILE "staples"
#define STAPLE_SHARED_NAME ".index/staples"
#define STAPLE_SHARED_VERSION 1


struct staple_shared_header {
	char magic[8];
	uint32_t version;
	uint32_t order;		/* 0x01020304 as written: the byte order */
	uint64_t size;		/* the whole file */
	/* DIR as it was listed; all 0 when it changed while being indexed */
	uint64_t dir_dev, dir_ino;
	int64_t dir_mtime_sec, dir_mtime_nsec, dir_ctime_sec, dir_ctime_nsec;
	int64_t built_sec, built_nsec;	/* when, CLOCK_REALTIME */
	uint32_t nfiles, nentries, nbuckets, pad;	/* pad: 0 */
	uint64_t files, entries, start, slots, listing, names, blobs, der;  /* offsets */
	uint64_t names_len, blobs_len, der_len;
};

/* File flags. */
#define STAPLE_SHARED_SKIPPED 1	/* not indexed (a link, not a response...): read it */

struct staple_shared_file {
	uint64_t ino, size;
	int64_t mtime_sec, ctime_sec;
	uint32_t mtime_nsec, ctime_nsec;
	uint32_t name;		/* offset in names */
	uint32_t flags;		/* STAPLE_SHARED_* */
	uint64_t der;		/* offset in the DER area */
	uint32_t der_len;
	uint32_t first, count;	/* its entries */
	uint32_t pad;
};

struct staple_shared_entry {
	int64_t this_update, next_update;
	uint32_t file;		/* its file's number */
	uint32_t blob;		/* offset in blobs: name hash, key hash, serial */
	int32_t md_nid, cert_status;
	uint8_t hash_len, serial_len, serial_neg, flags;
	uint32_t pad;
};

/*
 * A mapped index, with this process's verdicts on its entries. Reference
 * counted: the store's snapshots hold it; the last release unmaps it.
 */
struct staple_shared {
	int refs;			/* atomic */
	int mapped;			/* map is a mapping of the file below */
	const unsigned char *map;
	size_t map_len;
	const struct staple_shared_header *hdr;
	dev_t dev;			/* the index file as mapped */
	ino_t ino;
	struct timespec mtime;
	uint64_t *vetted;		/* per entry: vet.h's verdict word */
	char **why;			/* per file: the first vetting failure */
	size_t vet_next;		/* where eager vetting goes on (store's claim) */
};

/*
 * Map DIR/.index/staples of the directory open as `dirfd` when it may be
 * used (see above). NULL when there is none, and when it is refused, with
 * *why set (logged by the caller once).
 */
struct staple_shared *staple_shared_map(int dirfd, const char **why);

/*
 * Let go of the pages of `sh` this process has touched: the mapping stays,
 * and a later lookup faults in, from the page cache, only what it reads.
 * After a check (which reads every file's record) a process then holds in
 * its page tables what its handshakes use, and one that stops doing
 * handshakes (nginx's master, which keeps the index it mapped at start
 * until its next reload) holds none of it. Safe under concurrent lookups:
 * the file's contents never change.
 */
void staple_shared_forget(const struct staple_shared *sh);

/*
 * The index `map` (len bytes, a caller's buffer kept until the release) if
 * its header is sound; NULL otherwise or without memory. For the fuzz target.
 */
struct staple_shared *staple_shared_wrap(const unsigned char *map, size_t len);

/* Whether the index file `st` is the one `sh` mapped. */
int staple_shared_same(const struct staple_shared *sh, const struct stat *st);

void staple_shared_hold(struct staple_shared *sh);

/* Drop a reference; unmaps with the last one. NULL-safe. */
void staple_shared_release(struct staple_shared *sh);

/*
 * Whether a time stamp `t` is old enough at `now` that a later change
 * cannot share it: a tick of the file system's clock has passed (2 s where
 * time stamps are whole seconds, else 50 ms: timestamps are as coarse as a
 * kernel tick).
 */
int staple_shared_settled(const struct timespec *t, const struct timespec *now);

/*
 * Whether the directory `st` is exactly as it was when it was indexed, and
 * had settled then (staple_shared_settled).
 */
int staple_shared_dir_same(const struct staple_shared *sh, const struct stat *st);

/* Number of files. */
size_t staple_shared_nfiles(const struct staple_shared *sh);

/* File `k`'s record and name; NULL when the record is malformed. */
const struct staple_shared_file *staple_shared_file(const struct staple_shared *sh,
    size_t k, const char **name);

/* The number of the file called `name`, or -1. */
long staple_shared_find(const struct staple_shared *sh, const char *name);

/*
 * The number of the `i`th file readdir() gave when the index was written,
 * if it is called `name`; else staple_shared_find's answer. A listing of an
 * unchanged directory comes in the same order, so walking it with `i` finds
 * each name at its first try instead of by a binary search.
 */
long staple_shared_find_next(const struct staple_shared *sh, size_t i,
    const char *name);

/* Whether file `k`'s record describes the file `st` (stat()), unchanged. */
int staple_shared_file_same(const struct staple_shared_file *r,
    const struct stat *st);

/*
 * A candidate entry for one lookup, from the index or from a file the
 * process read itself: a copy as a staple_entry whose file points at the
 * staple's bytes, and where the process keeps that entry's verdict and its
 * file's failure. Vetting runs on the copy; staple_pick_keep writes back.
 */
struct staple_pick {
	struct staple_entry e;
	struct staple_file f;
	uint64_t *vetted_at;
	char **why_at;
};

/*
 * The entries of the serial bucket for `serial` in *first..*end (entry
 * numbers through staple_shared_slot); 0 when the bucket is malformed.
 */
int staple_shared_bucket(const struct staple_shared *sh,
    const unsigned char *serial, size_t len, uint32_t *first, uint32_t *end);

/* The entry number in slot `i` (from staple_shared_bucket). */
uint32_t staple_shared_slot(const struct staple_shared *sh, uint32_t i);

/* Entry `n` of the index into *p, its file's number in *file; 0 if malformed. */
int staple_pick_shared(struct staple_pick *p, struct staple_shared *sh,
    uint32_t n, uint32_t *file);

/* Entry `e` of a file the process read into *p. */
void staple_pick_entry(struct staple_pick *p, const struct staple_entry *e);

/* Copy a pick (its entry then points at its own file). */
void staple_pick_copy(struct staple_pick *to, const struct staple_pick *from);

/* Write the verdict and failure that vetting reached on `p` back. */
void staple_pick_keep(struct staple_pick *p);

#endif
