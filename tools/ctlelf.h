/*
 * ctlelf.h - what staplectl check reads in ELF files, without loading them.
 */
#ifndef CTLELF_H
#define CTLELF_H

#include <stddef.h>

/* A file mapped read-only; only its bytes are looked at, never run. */
struct ctl_elf {
	const unsigned char *map;
	size_t size;
	int elf64;			/* a 64-bit ELF file of this byte order */
	int machine;			/* e_machine; 0 when not ELF */
	int type;			/* e_type */
};

/* Map `path`; -1 (errno set) when it cannot be opened or is empty. */
int ctl_elf_open(const char *path, struct ctl_elf *e);

/* Unmap; NULL-safe, and safe on a file that failed to open. */
void ctl_elf_close(struct ctl_elf *e);

/* The architecture's name ("x86-64", "aarch64"...); "not ELF" for 0. */
const char *ctl_elf_machine_name(int machine);

/* Copy its PT_INTERP (the program loader's path); 0 when it has none. */
int ctl_elf_interp(const struct ctl_elf *e, char *buf, size_t size);

/*
 * The newest GLIBC_x.y its version-need table asks for, as "2.34" in buf,
 * and up to a few of the symbols that need that version in `syms`
 * (comma-separated); 0 when it needs no GLIBC version at all.
 */
int ctl_elf_glibc_need(const struct ctl_elf *e, char *buf, size_t size,
    char *syms, size_t syms_size);

/* Whether it defines symbol `name` (in .symtab or .dynsym). */
int ctl_elf_defines(const struct ctl_elf *e, const char *name);

/*
 * The first "OpenSSL X.Y.Z..." or "LibreSSL X.Y.Z" version text in the
 * file's bytes, copied into buf; 0 when there is none.
 */
int ctl_elf_ssl_text(const struct ctl_elf *e, char *buf, size_t size);

/* Whether the file's bytes contain `text`. */
int ctl_elf_contains(const struct ctl_elf *e, const char *text);

/* Compare two dotted version numbers ("2.17", "2.34"): <0, 0, >0. */
int ctl_version_cmp(const char *a, const char *b);

#endif
