/*
 * ctlelf.c - reading program and library files as bytes, for staplectl
 * check: nothing here loads or runs them, so a program's constructors and a
 * libssl that might not suit this process are never executed.
 *
 * Only 64-bit ELF files of the host's byte order are parsed (the builds
 * libstaple ships: x86-64, aarch64); of any other ELF file only e_machine
 * is read, which is enough to say it cannot take this library.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <elf.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctlelf.h"

/* The host's byte order as EI_DATA says it. */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define HOST_DATA ELFDATA2LSB
#else
#define HOST_DATA ELFDATA2MSB
#endif

int
ctl_elf_open(const char *path, struct ctl_elf *e)
{
	const Elf64_Ehdr *h;
	struct stat st;
	void *map;
	int fd;

	memset(e, 0, sizeof(*e));
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	if (fstat(fd, &st) != 0 || st.st_size <= 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return -1;
	}
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (map == MAP_FAILED)
		return -1;
	e->map = map;
	e->size = (size_t)st.st_size;
	h = map;
	if (e->size < sizeof(Elf32_Ehdr) || memcmp(h->e_ident, ELFMAG, SELFMAG) != 0)
		return 0;
	/* e_type and e_machine sit at the same offsets in both classes */
	e->type = h->e_type;
	e->machine = h->e_machine;
	e->elf64 = h->e_ident[EI_CLASS] == ELFCLASS64 &&
	    h->e_ident[EI_DATA] == HOST_DATA && e->size >= sizeof(Elf64_Ehdr);
	return 0;
}

void
ctl_elf_close(struct ctl_elf *e)
{
	if (e == NULL || e->map == NULL)
		return;
	munmap((void *)e->map, e->size);
	e->map = NULL;
}

const char *
ctl_elf_machine_name(int machine)
{
	switch (machine) {
	case 0: return "not ELF";
	case EM_X86_64: return "x86-64";
	case EM_AARCH64: return "aarch64";
	case EM_386: return "i386";
	case EM_ARM: return "arm";
	case EM_PPC64: return "ppc64";
	case EM_S390: return "s390x";
	case EM_RISCV: return "riscv";
	default: return "another architecture";
	}
}

/* `n` bytes at `off` of the file, or NULL when they are not all in it. */
static const void *
ctl_elf_at(const struct ctl_elf *e, Elf64_Off off, Elf64_Xword n)
{
	if (off > e->size || n > e->size - off)
		return NULL;
	return e->map + off;
}

/* Section `i`'s header, or NULL. */
static const Elf64_Shdr *
ctl_elf_section(const struct ctl_elf *e, unsigned i)
{
	const Elf64_Ehdr *h = (const Elf64_Ehdr *)e->map;

	if (!e->elf64 || i >= h->e_shnum || h->e_shentsize != sizeof(Elf64_Shdr))
		return NULL;
	return ctl_elf_at(e, h->e_shoff + (Elf64_Off)i * sizeof(Elf64_Shdr),
	    sizeof(Elf64_Shdr));
}

/* The NUL-terminated string at `off` of string table section `strtab`. */
static const char *
ctl_elf_string(const struct ctl_elf *e, unsigned strtab, Elf64_Word off)
{
	const Elf64_Shdr *s = ctl_elf_section(e, strtab);
	const char *p;

	if (s == NULL || s->sh_type != SHT_STRTAB || off >= s->sh_size ||
	    (p = ctl_elf_at(e, s->sh_offset, s->sh_size)) == NULL ||
	    memchr(p + off, '\0', s->sh_size - off) == NULL)
		return NULL;
	return p + off;
}

int
ctl_elf_interp(const struct ctl_elf *e, char *buf, size_t size)
{
	const Elf64_Ehdr *h = (const Elf64_Ehdr *)e->map;
	const Elf64_Phdr *p;
	const char *s;

	if (!e->elf64 || h->e_phentsize != sizeof(Elf64_Phdr))
		return 0;
	for (unsigned i = 0; i < h->e_phnum; i++) {
		p = ctl_elf_at(e, h->e_phoff + (Elf64_Off)i * sizeof(*p), sizeof(*p));
		if (p == NULL || p->p_type != PT_INTERP)
			continue;
		if ((s = ctl_elf_at(e, p->p_offset, p->p_filesz)) == NULL ||
		    p->p_filesz == 0 || memchr(s, '\0', p->p_filesz) == NULL)
			return 0;
		return snprintf(buf, size, "%s", s) < (int)size;
	}
	return 0;
}

/* The first section of `type`, or NULL. */
static const Elf64_Shdr *
ctl_elf_find(const struct ctl_elf *e, Elf64_Word type, unsigned *index)
{
	const Elf64_Shdr *s;

	for (unsigned i = 1; (s = ctl_elf_section(e, i)) != NULL; i++)
		if (s->sh_type == type) {
			if (index != NULL)
				*index = i;
			return s;
		}
	return NULL;
}

/*
 * The dynamic symbols that are undefined here and bound to version index
 * `ndx`, comma-separated in `syms` (the first few).
 */
static void
ctl_elf_version_users(const struct ctl_elf *e, unsigned ndx, char *syms,
    size_t size)
{
	const Elf64_Shdr *dyn = ctl_elf_find(e, SHT_DYNSYM, NULL);
	const Elf64_Shdr *ver = ctl_elf_find(e, SHT_GNU_versym, NULL);
	const Elf64_Sym *sym;
	const Elf64_Half *vs;
	const char *name;
	size_t n, len = 0;
	int shown = 0;

	*syms = '\0';
	if (dyn == NULL || ver == NULL || dyn->sh_entsize != sizeof(*sym))
		return;
	n = dyn->sh_size / sizeof(*sym);
	sym = ctl_elf_at(e, dyn->sh_offset, dyn->sh_size);
	vs = ctl_elf_at(e, ver->sh_offset, ver->sh_size);
	if (sym == NULL || vs == NULL || ver->sh_size / sizeof(*vs) < n)
		return;
	for (size_t i = 1; i < n && shown < 4; i++) {
		if ((vs[i] & 0x7fff) != ndx || sym[i].st_shndx != SHN_UNDEF ||
		    (name = ctl_elf_string(e, dyn->sh_link, sym[i].st_name)) == NULL)
			continue;
		if (len + strlen(name) + 3 >= size)
			break;
		len += (size_t)snprintf(syms + len, size - len, "%s%s",
		    shown++ ? ", " : "", name);
	}
}

int
ctl_elf_glibc_need(const struct ctl_elf *e, char *buf, size_t size,
    char *syms, size_t syms_size)
{
	const Elf64_Shdr *s = ctl_elf_find(e, SHT_GNU_verneed, NULL);
	const Elf64_Verneed *vn;
	const Elf64_Vernaux *va;
	Elf64_Off off, aoff;
	const char *name;
	unsigned ndx = 0;

	*buf = '\0';
	*syms = '\0';
	if (s == NULL)
		return 0;
	off = s->sh_offset;
	for (unsigned i = 0; i < s->sh_info; i++) {
		if ((vn = ctl_elf_at(e, off, sizeof(*vn))) == NULL)
			break;
		aoff = off + vn->vn_aux;
		for (unsigned j = 0; j < vn->vn_cnt; j++) {
			if ((va = ctl_elf_at(e, aoff, sizeof(*va))) == NULL)
				break;
			name = ctl_elf_string(e, s->sh_link, va->vna_name);
			if (name != NULL && strncmp(name, "GLIBC_", 6) == 0 &&
			    isdigit((unsigned char)name[6]) &&
			    (*buf == '\0' || ctl_version_cmp(name + 6, buf) > 0)) {
				snprintf(buf, size, "%s", name + 6);
				ndx = va->vna_other;
			}
			if (va->vna_next == 0)
				break;
			aoff += va->vna_next;
		}
		if (vn->vn_next == 0)
			break;
		off += vn->vn_next;
	}
	if (*buf != '\0')
		ctl_elf_version_users(e, ndx, syms, syms_size);
	return *buf != '\0';
}

/* Whether symbol table section `s` defines `name`. */
static int
ctl_elf_table_defines(const struct ctl_elf *e, const Elf64_Shdr *s,
    const char *name)
{
	const Elf64_Sym *sym;
	const char *n;

	if (s == NULL || s->sh_entsize != sizeof(*sym) ||
	    (sym = ctl_elf_at(e, s->sh_offset, s->sh_size)) == NULL)
		return 0;
	for (size_t i = 1; i < s->sh_size / sizeof(*sym); i++)
		if (sym[i].st_shndx != SHN_UNDEF &&
		    (n = ctl_elf_string(e, s->sh_link, sym[i].st_name)) != NULL &&
		    strcmp(n, name) == 0)
			return 1;
	return 0;
}

int
ctl_elf_defines(const struct ctl_elf *e, const char *name)
{
	return ctl_elf_table_defines(e, ctl_elf_find(e, SHT_SYMTAB, NULL), name) ||
	    ctl_elf_table_defines(e, ctl_elf_find(e, SHT_DYNSYM, NULL), name);
}

/*
 * Whether `p` (within the file) starts "NAME X.Y.Z" with letters after Z
 * and then a blank or the string's end: what OPENSSL_VERSION_TEXT looks
 * like ("OpenSSL 3.0.19 27 Jan 2026", "OpenSSL 1.1.1w  11 Sep 2023").
 */
static int
ctl_elf_is_version(const struct ctl_elf *e, const unsigned char *p, size_t skip)
{
	const unsigned char *end = e->map + e->size;
	int dots = 0;

	p += skip;
	if (p >= end || !isdigit(*p))
		return 0;
	while (p < end && (isdigit(*p) || (*p == '.' && p + 1 < end &&
	    isdigit(p[1]) && ++dots)))
		p++;
	while (p < end && islower(*p))
		p++;
	return dots == 2 && (p == end || *p == ' ' || *p == '\0');
}

/* The first version text after `name` (with its blank) in the file. */
static int
ctl_elf_text_of(const struct ctl_elf *e, const char *name, char *buf,
    size_t size)
{
	const unsigned char *p = e->map, *end = e->map + e->size;
	size_t n = strlen(name), len;

	while (p < end && (p = memmem(p, (size_t)(end - p), name, n)) != NULL) {
		if (ctl_elf_is_version(e, p, n)) {
			for (len = 0; p + len < end && len + 1 < size &&
			    isprint(p[len]); len++)
				buf[len] = (char)p[len];
			buf[len] = '\0';
			return 1;
		}
		p++;
	}
	return 0;
}

int
ctl_elf_ssl_text(const struct ctl_elf *e, char *buf, size_t size)
{
	/* LibreSSL first: its libraries may also mention an OpenSSL version */
	return ctl_elf_text_of(e, "LibreSSL ", buf, size) ||
	    ctl_elf_text_of(e, "OpenSSL ", buf, size);
}

int
ctl_elf_contains(const struct ctl_elf *e, const char *text)
{
	return e->map != NULL && memmem(e->map, e->size, text, strlen(text)) != NULL;
}

int
ctl_version_cmp(const char *a, const char *b)
{
	char *ea, *eb;
	long x, y;

	/* a missing part counts as 0: "2.17" == "2.17.0" */
	for (;;) {
		x = strtol(a, &ea, 10);
		y = strtol(b, &eb, 10);
		if (x != y)
			return x < y ? -1 : 1;
		if (*ea != '.' && *eb != '.')
			return 0;
		a = *ea == '.' ? ea + 1 : ea;
		b = *eb == '.' ? eb + 1 : eb;
	}
}
