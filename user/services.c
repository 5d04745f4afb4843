/* services.c - service names per protocol and port: conf dirs, then /etc/services. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>

#include "services.h"

/*
 * FLOWTOP_ETC_SERVICES replaces /etc/services, so tests do not depend on the
 * host's copy; set but empty, it skips /etc/services altogether.
 */
#define SVC_ETC_ENV "FLOWTOP_ETC_SERVICES"
#define SVC_ETC_PATH "/etc/services"

#define SVC_NAME_MAX 31
#define SVC_NPORTS 65536
/* Port tables hold 16-bit name indices and 0 means "unnamed". */
#define SVC_MAX_NAMES 65535

enum svc_proto { SVC_TCP, SVC_UDP, SVC_UDPLITE, SVC_SCTP, SVC_DCCP, SVC_NPROTO };

static const char *const svc_conf_file[SVC_NPROTO] = {
	"tcp.conf", "udp.conf", "udplite.conf", "sctp.conf", "dccp.conf",
};

static struct {
	/*
	 * One 128 KiB table per protocol, allocated on its first name, so a
	 * lookup is one load; names are interned because most ports share a
	 * handful of them across protocols and overrides.
	 */
	__u16 *port_name[SVC_NPROTO];
	__u32 *name_off;	/* name index -> offset in pool; [0] unused */
	__u32 nnames;		/* next free index, starts at 1 */
	__u32 names_cap;
	char *pool;
	size_t pool_len;
	size_t pool_cap;
	__u16 *hash;		/* interning only: open addressing, 0 = empty */
	__u32 hash_cap;		/* power of two */
	int count;		/* protocol/port pairs with a name */
	services_warn_fn warn;
	bool store_warned;	/* the "store full" warning is given once per load */
} svc;

static int svc_index(__u8 proto)
{
	switch (proto) {
	case IPPROTO_TCP:
		return SVC_TCP;
	case IPPROTO_UDP:
		return SVC_UDP;
	case IPPROTO_UDPLITE:
		return SVC_UDPLITE;
	case IPPROTO_SCTP:
		return SVC_SCTP;
	case IPPROTO_DCCP:
		return SVC_DCCP;
	}
	return -1;
}

/* line 0 means the problem is the whole file. */
__attribute__((format(printf, 3, 4)))
static void svc_warn(const char *file, unsigned long line, const char *fmt, ...)
{
	char msg[PATH_MAX + 256];
	va_list ap;
	int n;

	if (!svc.warn)
		return;
	if (line)
		n = snprintf(msg, sizeof(msg), "%s:%lu: ", file, line);
	else
		n = snprintf(msg, sizeof(msg), "%s: ", file);
	if (n < 0 || (size_t)n >= sizeof(msg))
		n = 0;
	va_start(ap, fmt);
	vsnprintf(msg + n, sizeof(msg) - n, fmt, ap);
	va_end(ap);
	svc.warn(msg);
}

static __u32 svc_hash(const char *s, size_t len)
{
	__u32 h = 2166136261u;	/* FNV-1a */

	while (len--) {
		h ^= (unsigned char)*s++;
		h *= 16777619u;
	}
	return h;
}

static bool svc_name_eq(__u16 idx, const char *s, size_t len)
{
	const char *n = svc.pool + svc.name_off[idx];

	return strncmp(n, s, len) == 0 && n[len] == '\0';
}

static int svc_hash_grow(void)
{
	__u32 cap = svc.hash_cap ? svc.hash_cap * 2 : 1024;
	__u16 *h = calloc(cap, sizeof(*h));
	__u32 i, j;

	if (!h)
		return -ENOMEM;
	for (i = 1; i < svc.nnames; i++) {
		const char *n = svc.pool + svc.name_off[i];

		for (j = svc_hash(n, strlen(n)) & (cap - 1); h[j]; j = (j + 1) & (cap - 1))
			;
		h[j] = i;
	}
	free(svc.hash);
	svc.hash = h;
	svc.hash_cap = cap;
	return 0;
}

/* Index of name in the pool, added if new; 0 with *err set when it cannot be stored. */
static __u16 svc_intern(const char *s, size_t len, int *err)
{
	__u32 j;

	if (svc.nnames == 0)
		svc.nnames = 1;
	/* Half full at most, so probe chains stay short. */
	if (svc.nnames * 2 >= svc.hash_cap && (*err = svc_hash_grow()))
		return 0;
	for (j = svc_hash(s, len) & (svc.hash_cap - 1); svc.hash[j];
	     j = (j + 1) & (svc.hash_cap - 1)) {
		if (svc_name_eq(svc.hash[j], s, len))
			return svc.hash[j];
	}
	if (svc.nnames > SVC_MAX_NAMES) {
		*err = -ENOSPC;
		return 0;
	}
	if (svc.nnames >= svc.names_cap) {
		__u32 cap = svc.names_cap ? svc.names_cap * 2 : 256;
		__u32 *n = realloc(svc.name_off, cap * sizeof(*n));

		if (!n) {
			*err = -ENOMEM;
			return 0;
		}
		svc.name_off = n;
		svc.names_cap = cap;
	}
	if (svc.pool_len + len + 1 > svc.pool_cap) {
		size_t cap = svc.pool_cap ? svc.pool_cap * 2 : 4096;
		char *p = realloc(svc.pool, cap);

		if (!p) {
			*err = -ENOMEM;
			return 0;
		}
		svc.pool = p;
		svc.pool_cap = cap;
	}
	memcpy(svc.pool + svc.pool_len, s, len);
	svc.pool[svc.pool_len + len] = '\0';
	svc.name_off[svc.nnames] = svc.pool_len;
	svc.pool_len += len + 1;
	svc.hash[j] = svc.nnames;
	return svc.nnames++;
}

/* Names a port; replace says whether an existing name gives way (conf) or wins (/etc/services). */
static int svc_set(int p, __u16 port, const char *name, size_t len, bool replace)
{
	int err = 0;
	__u16 idx;

	if (!svc.port_name[p]) {
		svc.port_name[p] = calloc(SVC_NPORTS, sizeof(__u16));
		if (!svc.port_name[p])
			return -ENOMEM;
	}
	if (svc.port_name[p][port] && !replace)
		return 0;
	idx = svc_intern(name, len, &err);
	if (!idx)
		return err;
	if (!svc.port_name[p][port])
		svc.count++;
	svc.port_name[p][port] = idx;
	return 0;
}

static void svc_store_failed(const char *file, unsigned long line, int err)
{
	if (svc.store_warned)
		return;
	svc.store_warned = true;
	if (err == -ENOSPC)
		svc_warn(file, line, "more than %d distinct service names, the rest are ignored",
			 SVC_MAX_NAMES);
	else
		svc_warn(file, line, "out of memory, the rest of the service names are ignored");
}

static bool svc_is_space(char c)
{
	return c == ' ' || c == '\t';
}

/* Splits s[0..len) into at most max tokens; returns how many there are (possibly > max). */
static int svc_tokens(const char *s, size_t len, const char **tok, size_t *tlen, int max)
{
	size_t i = 0;
	int n = 0;

	for (;;) {
		size_t start;

		while (i < len && svc_is_space(s[i]))
			i++;
		if (i == len)
			return n;
		start = i;
		while (i < len && !svc_is_space(s[i]))
			i++;
		if (n < max) {
			tok[n] = s + start;
			tlen[n] = i - start;
		}
		n++;
	}
}

static const char *svc_check_name(const char *s, size_t len)
{
	size_t i;

	if (len > SVC_NAME_MAX)
		return "service name longer than 31 characters";
	for (i = 0; i < len; i++) {
		/* The name reaches the terminal: no control bytes, no UTF-8 to sanitize. */
		if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
			return "service name has a non-printable or non-ASCII character";
	}
	return NULL;
}

/* 0 ok, -EINVAL not a decimal number, -ERANGE above 65535. */
static int svc_parse_port(const char *s, size_t len, __u16 *port)
{
	unsigned long v = 0;
	size_t i;

	if (!len)
		return -EINVAL;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
	}
	for (i = 0; i < len; i++) {
		v = v * 10 + (s[i] - '0');
		if (v > 65535)
			return -ERANGE;
	}
	*port = v;
	return 0;
}

/*
 * A copy of an offending token safe to print: the warning ends up on a
 * terminal, so anything but printable ASCII becomes '?', and it is cut short.
 */
static const char *svc_quote(char *dst, size_t size, const char *s, size_t len)
{
	size_t i, n = len < size - 1 ? len : size - 1;

	for (i = 0; i < n; i++)
		dst[i] = (unsigned char)s[i] >= 0x20 && (unsigned char)s[i] < 0x7f ? s[i] : '?';
	dst[n] = '\0';
	if (n < len && size > 4)
		memcpy(dst + size - 4, "...", 4);
	return dst;
}

/* Strips the line end ("\n", "\r\n", or nothing on a last line) and a '#' comment. */
static size_t svc_line_len(const char *line, size_t len)
{
	const char *hash;

	if (len && line[len - 1] == '\n')
		len--;
	if (len && line[len - 1] == '\r')
		len--;
	hash = memchr(line, '#', len);
	return hash ? (size_t)(hash - line) : len;
}

/* Loads one "PORT NAME" line; returns what is wrong with it, or NULL. */
static const char *svc_conf_line(const char *file, unsigned long lineno, int p,
				 const char *line, size_t len, char *why, size_t whylen)
{
	const char *tok[2], *err;
	size_t tlen[2];
	char q[40];
	__u16 port;
	int n, ret;

	if (memchr(line, '\0', len))
		return "NUL byte in line";
	len = svc_line_len(line, len);
	n = svc_tokens(line, len, tok, tlen, 2);
	if (n == 0)
		return NULL;
	ret = svc_parse_port(tok[0], tlen[0], &port);
	if (ret == -ERANGE) {
		snprintf(why, whylen, "port %s out of range (0-65535)",
			 svc_quote(q, sizeof(q), tok[0], tlen[0]));
		return why;
	}
	if (ret) {
		snprintf(why, whylen, "bad port \"%s\" (expected PORT NAME, PORT 0-65535)",
			 svc_quote(q, sizeof(q), tok[0], tlen[0]));
		return why;
	}
	if (n < 2) {
		snprintf(why, whylen, "missing service name after port %u", port);
		return why;
	}
	if (n > 2)
		return "unexpected text after the service name";
	err = svc_check_name(tok[1], tlen[1]);
	if (err)
		return err;
	ret = svc_set(p, port, tok[1], tlen[1], true);
	if (ret)
		svc_store_failed(file, lineno, ret);
	return NULL;
}

/* Opens a table; a missing one is normal (most dirs hold only some), anything else is said. */
static FILE *svc_open(const char *path)
{
	FILE *fp = fopen(path, "re");

	if (!fp && errno != ENOENT && errno != ENOTDIR)
		svc_warn(path, 0, "cannot open: %s", strerror(errno));
	return fp;
}

static void svc_close(FILE *fp, const char *path, char *line)
{
	if (ferror(fp))
		svc_warn(path, 0, "read error: %s", strerror(errno));
	free(line);
	fclose(fp);
}

static void svc_load_conf(const char *path, int p)
{
	unsigned long lineno = 0;
	size_t cap = 0;
	char *line = NULL;
	char why[128];
	ssize_t len;
	FILE *fp;

	fp = svc_open(path);
	if (!fp)
		return;
	while ((len = getline(&line, &cap, fp)) >= 0) {
		const char *err;

		lineno++;
		err = svc_conf_line(path, lineno, p, line, len, why, sizeof(why));
		if (err)
			svc_warn(path, lineno, "%s", err);
	}
	svc_close(fp, path, line);
}

/*
 * One "name port/proto aliases..." line of /etc/services. The file is shared
 * with every other program and often carries entries we do not care about
 * (ddp, long names), so lines we cannot use are skipped without a word.
 */
static void svc_etc_line(const char *file, unsigned long lineno, const char *line, size_t len)
{
	static const struct {
		const char *name;
		int p[2];
	} protos[] = {
		{ "tcp", { SVC_TCP, -1 } },
		{ "udp", { SVC_UDP, SVC_UDPLITE } },	/* UDP-Lite has no entries of its own */
		{ "sctp", { SVC_SCTP, -1 } },
		{ "dccp", { SVC_DCCP, -1 } },
	};
	const char *tok[2], *slash;
	size_t tlen[2], i, j;
	__u16 port;

	if (memchr(line, '\0', len))
		return;
	len = svc_line_len(line, len);
	if (svc_tokens(line, len, tok, tlen, 2) < 2 || svc_check_name(tok[0], tlen[0]))
		return;
	slash = memchr(tok[1], '/', tlen[1]);
	if (!slash || svc_parse_port(tok[1], slash - tok[1], &port))
		return;
	for (i = 0; i < sizeof(protos) / sizeof(protos[0]); i++) {
		size_t plen = tlen[1] - (slash + 1 - tok[1]);

		if (plen != strlen(protos[i].name) || memcmp(slash + 1, protos[i].name, plen))
			continue;
		for (j = 0; j < 2 && protos[i].p[j] >= 0; j++) {
			int ret = svc_set(protos[i].p[j], port, tok[0], tlen[0], false);

			if (ret)
				svc_store_failed(file, lineno, ret);
		}
	}
}

static void svc_load_etc(const char *path)
{
	unsigned long lineno = 0;
	size_t cap = 0;
	char *line = NULL;
	ssize_t len;
	FILE *fp;

	fp = svc_open(path);
	if (!fp)
		return;
	while ((len = getline(&line, &cap, fp)) >= 0)
		svc_etc_line(path, ++lineno, line, len);
	svc_close(fp, path, line);
}

int services_load(const char *const *dirs, services_warn_fn warn)
{
	const char *etc;
	int p;

	services_free();
	svc.warn = warn;
	for (; dirs && *dirs; dirs++) {
		if (!**dirs)
			continue;
		for (p = 0; p < SVC_NPROTO; p++) {
			char path[PATH_MAX];
			int n = snprintf(path, sizeof(path), "%s/%s", *dirs, svc_conf_file[p]);

			if (n < 0 || (size_t)n >= sizeof(path)) {
				svc_warn(*dirs, 0, "directory name too long");
				break;
			}
			svc_load_conf(path, p);
		}
	}
	etc = secure_getenv(SVC_ETC_ENV);
	if (!etc)
		etc = SVC_ETC_PATH;
	if (*etc)
		svc_load_etc(etc);

	/* Interning is only needed while loading. */
	free(svc.hash);
	svc.hash = NULL;
	svc.hash_cap = 0;
	svc.warn = NULL;
	return svc.count;
}

void services_free(void)
{
	int p;

	for (p = 0; p < SVC_NPROTO; p++)
		free(svc.port_name[p]);
	free(svc.name_off);
	free(svc.pool);
	free(svc.hash);
	memset(&svc, 0, sizeof(svc));
}

const char *service_name(__u8 proto, __u16 port)
{
	int p = svc_index(proto);
	__u16 idx;

	if (p < 0 || !svc.port_name[p])
		return NULL;
	idx = svc.port_name[p][port];
	return idx ? svc.pool + svc.name_off[idx] : NULL;
}

const char *flow_service(const struct flow *f, __u16 *port)
{
	const char *sname, *dname;
	__u16 sport, dport, unused;

	if (!port)
		port = &unused;
	*port = 0;
	if (!f || svc_index(f->orig.proto) < 0)
		return NULL;
	sport = f->orig.sport;
	dport = f->orig.dport;
	*port = dport;
	sname = service_name(f->orig.proto, sport);
	dname = service_name(f->orig.proto, dport);
	/*
	 * The originator is usually the client, so a named well-known dport is
	 * the server even when the (ephemeral) sport happens to carry a name;
	 * past 1024 the lower port is the likelier listener.
	 */
	if (dname && (!sname || dport < 1024 || dport <= sport))
		return dname;
	if (sname) {
		*port = sport;
		return sname;
	}
	return NULL;
}
