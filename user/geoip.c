/* geoip.c - country, city and ASN of flow endpoints from MaxMind GeoIP2 (.mmdb) databases. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>

#include <maxminddb.h>

#include "fmt.h"
#include "geoip.h"

/* More is a configuration mistake; each open database costs a mapping and a lookup per flow. */
#define GEO_MAX_DBS 16
/* Direct-mapped: a miss only costs a lookup (microseconds), so no need for anything smarter. */
#define GEO_CACHE_SIZE 1024
#define GEO_MSG_LEN (PATH_MAX + 160)

enum geo_kind { GEO_KIND_CITY, GEO_KIND_COUNTRY, GEO_KIND_ASN };

struct geo_db {
	MMDB_s mmdb;
	enum geo_kind kind;
	bool broken;		/* failed at lookup time: reported once, then ignored */
	dev_t dev;		/* dev/ino: the same file listed twice is opened once */
	ino_t ino;
	char path[PATH_MAX];
};

struct geo_cache_ent {
	bool used;
	__u8 family;
	__u8 addr[16];
	int rc;
	struct geo_info info;
};

static struct geo_db geo_dbs[GEO_MAX_DBS];
static int geo_ndbs;
static bool geo_too_many;
static void (*geo_warn_fn)(const char *msg);
static struct geo_cache_ent *geo_cache;

static void geo_warn(const char *path, const char *fmt, const char *arg)
{
	char msg[GEO_MSG_LEN];
	int n;

	if (!geo_warn_fn)
		return;
	n = snprintf(msg, sizeof(msg), "%s: ", path);
	if (n < 0 || (size_t)n >= sizeof(msg))
		n = 0;
	snprintf(msg + n, sizeof(msg) - n, fmt, arg);
	/* paths come from conf files and the command line: no control bytes to a terminal */
	for (char *p = msg; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p == 0x7f)
			*p = '?';
	geo_warn_fn(msg);
}

static void geo_cache_flush(void)
{
	if (geo_cache)
		memset(geo_cache, 0, GEO_CACHE_SIZE * sizeof(*geo_cache));
}

/* Vendors name their types differently (GeoIP2-City, GeoLite2-ASN, DBIP-City-Lite, ...). */
static int geo_kind_of(const char *type, enum geo_kind *kind)
{
	if (!type)
		return -1;
	if (strstr(type, "ASN") || strstr(type, "ISP")) {
		*kind = GEO_KIND_ASN;
		return 0;
	}
	if (strstr(type, "City") || strstr(type, "Enterprise")) {
		*kind = GEO_KIND_CITY;
		return 0;
	}
	if (strstr(type, "Country")) {
		*kind = GEO_KIND_COUNTRY;
		return 0;
	}
	return -1;
}

static void geo_sockaddr(__u8 family, const __u8 *addr, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		memcpy(&sin->sin_addr, addr, 4);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		sin6->sin6_family = AF_INET6;
		memcpy(&sin6->sin6_addr, addr, 16);
	}
}

/* A string field, or "" when absent; -1 only when the database itself is broken. */
static int geo_str(MMDB_entry_s *e, char *dst, size_t len, const char *const *path)
{
	MMDB_entry_data_s d;
	int s;

	dst[0] = '\0';
	s = MMDB_aget_value(e, &d, path);
	if (s == MMDB_LOOKUP_PATH_DOES_NOT_MATCH_DATA_ERROR)
		return 0;
	if (s != MMDB_SUCCESS)
		return -1;
	if (d.has_data && d.type == MMDB_DATA_TYPE_UTF8_STRING)
		fmt_sanitize(dst, len, d.utf8_string, d.data_size);
	return 0;
}

static int geo_u32(MMDB_entry_s *e, __u32 *v, const char *const *path)
{
	MMDB_entry_data_s d;
	int s;

	s = MMDB_aget_value(e, &d, path);
	if (s == MMDB_LOOKUP_PATH_DOES_NOT_MATCH_DATA_ERROR)
		return 0;
	if (s != MMDB_SUCCESS)
		return -1;
	if (d.has_data && d.type == MMDB_DATA_TYPE_UINT32)
		*v = d.uint32;
	return 0;
}

/*
 * What this database knows about the address, into a zeroed *out. Returns 1 when the address
 * is in the database, 0 when not, -1 with *err set when the database is broken.
 */
static int geo_db_lookup(struct geo_db *db, __u8 family, const __u8 *addr,
			 struct geo_info *out, int *err)
{
	static const char *const p_cc[] = { "country", "iso_code", NULL };
	static const char *const p_cn[] = { "country", "names", "en", NULL };
	/* Some networks (e.g. satellite providers) only have a registered country. */
	static const char *const p_rcc[] = { "registered_country", "iso_code", NULL };
	static const char *const p_rcn[] = { "registered_country", "names", "en", NULL };
	static const char *const p_city[] = { "city", "names", "en", NULL };
	static const char *const p_asn[] = { "autonomous_system_number", NULL };
	static const char *const p_org[] = { "autonomous_system_organization", NULL };
	struct sockaddr_storage ss;
	MMDB_lookup_result_s res;
	int merr = MMDB_SUCCESS;

	/* Not corruption: an IPv4-only database simply cannot know IPv6 addresses. */
	if (family == AF_INET6 && db->mmdb.metadata.ip_version == 4)
		return 0;
	geo_sockaddr(family, addr, &ss);
	res = MMDB_lookup_sockaddr(&db->mmdb, (const struct sockaddr *)&ss, &merr);
	if (merr != MMDB_SUCCESS) {
		*err = merr;
		return -1;
	}
	if (!res.found_entry)
		return 0;

	*err = MMDB_INVALID_DATA_ERROR;
	if (db->kind == GEO_KIND_ASN)
		return geo_u32(&res.entry, &out->asn, p_asn) ||
		       geo_str(&res.entry, out->org, sizeof(out->org), p_org) ? -1 : 1;
	if (geo_str(&res.entry, out->country, sizeof(out->country), p_cc) ||
	    geo_str(&res.entry, out->country_name, sizeof(out->country_name), p_cn))
		return -1;
	if (!out->country[0] &&
	    (geo_str(&res.entry, out->country, sizeof(out->country), p_rcc) ||
	     geo_str(&res.entry, out->country_name, sizeof(out->country_name), p_rcn)))
		return -1;
	if (db->kind == GEO_KIND_CITY && geo_str(&res.entry, out->city, sizeof(out->city), p_city))
		return -1;
	return 1;
}

/*
 * MMDB_open only checks the metadata; a few lookups catch a broken search tree or data
 * section now, with a clear message, rather than in the middle of the display.
 */
static int geo_db_probe(struct geo_db *db)
{
	static const __u8 probes[][16] = {
		{ 1, 1, 1, 1 }, { 8, 8, 8, 8 }, { 81, 2, 69, 142 }, { 185, 199, 108, 1 },
		{ 0x20, 0x01, 0x48, 0x60 }, { 0x2a, 0x00, 0x14, 0x50 },
	};
	struct geo_info tmp;
	size_t i;
	int err = 0;

	for (i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
		memset(&tmp, 0, sizeof(tmp));
		if (geo_db_lookup(db, i < 4 ? AF_INET : AF_INET6, probes[i], &tmp, &err) < 0)
			return err;
	}
	return MMDB_SUCCESS;
}

static void geo_open_file(const char *path, const struct stat *st)
{
	struct geo_db *db;
	int i, s;

	for (i = 0; i < geo_ndbs; i++)
		if (geo_dbs[i].dev == st->st_dev && geo_dbs[i].ino == st->st_ino)
			return;
	if (geo_ndbs == GEO_MAX_DBS) {
		if (!geo_too_many)
			geo_warn(path, "more than %s databases, ignored", "16");
		geo_too_many = true;
		return;
	}
	db = &geo_dbs[geo_ndbs];
	memset(db, 0, sizeof(*db));
	s = MMDB_open(path, MMDB_MODE_MMAP, &db->mmdb);
	if (s != MMDB_SUCCESS) {
		if (s == MMDB_IO_ERROR)
			geo_warn(path, "%s", strerror(errno));
		else
			geo_warn(path, "not a valid MaxMind database (%s)", MMDB_strerror(s));
		return;
	}
	if (geo_kind_of(db->mmdb.metadata.database_type, &db->kind)) {
		const char *type_src = db->mmdb.metadata.database_type ?: "";
		char type[64];

		fmt_sanitize(type, sizeof(type), type_src, strlen(type_src));
		geo_warn(path, "unsupported database type \"%s\" (City, Country or ASN expected)",
			 type);
		MMDB_close(&db->mmdb);
		return;
	}
	s = geo_db_probe(db);
	if (s != MMDB_SUCCESS) {
		geo_warn(path, "corrupt database (%s)", MMDB_strerror(s));
		MMDB_close(&db->mmdb);
		return;
	}
	db->dev = st->st_dev;
	db->ino = st->st_ino;
	snprintf(db->path, sizeof(db->path), "%s", path);
	geo_ndbs++;
}

static int geo_mmdb_filter(const struct dirent *d)
{
	size_t n = strlen(d->d_name);

	return d->d_name[0] != '.' && n > 5 && !strcmp(d->d_name + n - 5, ".mmdb");
}

static void geo_open_path(const char *path)
{
	struct dirent **ents;
	struct stat st;
	int i, n;

	/* Missing is normal: the standard locations are tried whether or not they exist. */
	if (stat(path, &st)) {
		if (errno != ENOENT && errno != ENOTDIR)
			geo_warn(path, "%s", strerror(errno));
		return;
	}
	if (!S_ISDIR(st.st_mode)) {
		geo_open_file(path, &st);
		return;
	}
	/* Sorted, so which database wins does not depend on directory order. */
	n = scandir(path, &ents, geo_mmdb_filter, alphasort);
	if (n < 0) {
		geo_warn(path, "%s", strerror(errno));
		return;
	}
	for (i = 0; i < n; i++) {
		char file[PATH_MAX];

		if ((size_t)snprintf(file, sizeof(file), "%s/%s", path, ents[i]->d_name) <
		    sizeof(file) && !stat(file, &st) && S_ISREG(st.st_mode))
			geo_open_file(file, &st);
		free(ents[i]);
	}
	free(ents);
}

static void geo_read_conf(const char *conf_file)
{
	char line[PATH_MAX], dir[PATH_MAX];
	const char *slash;
	FILE *f;

	f = fopen(conf_file, "re");
	if (!f) {
		if (errno != ENOENT)
			geo_warn(conf_file, "%s", strerror(errno));
		return;
	}
	/* Relative paths in the conf file are relative to it, not to the working directory. */
	slash = strrchr(conf_file, '/');
	if (slash)
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - conf_file), conf_file);
	else
		snprintf(dir, sizeof(dir), ".");
	while (fgets(line, sizeof(line), f)) {
		char *p = line, *end, full[PATH_MAX];

		while (*p == ' ' || *p == '\t')
			p++;
		end = p + strlen(p);
		while (end > p && (end[-1] == '\n' || end[-1] == '\r' || end[-1] == ' ' ||
				   end[-1] == '\t'))
			*--end = '\0';
		if (!*p || *p == '#')
			continue;
		if (*p == '/' || (size_t)snprintf(full, sizeof(full), "%s/%s", dir, p) >=
		    sizeof(full))
			geo_open_path(p);
		else
			geo_open_path(full);
	}
	fclose(f);
}

int geoip_open(const char *const *paths, const char *conf_file, void (*warn)(const char *msg))
{
	geoip_close();
	geo_warn_fn = warn;
	geo_too_many = false;
	if (!geo_cache)
		geo_cache = calloc(GEO_CACHE_SIZE, sizeof(*geo_cache));
	for (; paths && *paths; paths++)
		geo_open_path(*paths);
	if (conf_file)
		geo_read_conf(conf_file);
	return geo_ndbs;
}

void geoip_close(void)
{
	int i;

	for (i = 0; i < geo_ndbs; i++)
		MMDB_close(&geo_dbs[i].mmdb);
	geo_ndbs = 0;
	free(geo_cache);
	geo_cache = NULL;
}

bool geoip_available(void)
{
	int i;

	for (i = 0; i < geo_ndbs; i++)
		if (!geo_dbs[i].broken)
			return true;
	return false;
}

static enum geo_scope geo_scope4(const __u8 *a)
{
	if (a[0] == 0)
		return GEO_UNSPECIFIED;
	if (a[0] == 127)
		return GEO_LOOPBACK;
	if (a[0] == 10 || (a[0] == 172 && (a[1] & 0xf0) == 16) || (a[0] == 192 && a[1] == 168) ||
	    (a[0] == 100 && (a[1] & 0xc0) == 64))
		return GEO_PRIVATE;
	if (a[0] == 169 && a[1] == 254)
		return GEO_LINKLOCAL;
	/* Broadcast goes nowhere in particular either, like multicast. */
	if ((a[0] & 0xf0) == 224 || (a[0] == 255 && a[1] == 255 && a[2] == 255 && a[3] == 255))
		return GEO_MULTICAST;
	return GEO_PUBLIC;
}

static bool geo_v4mapped(const __u8 *a)
{
	static const __u8 pfx[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	return !memcmp(a, pfx, sizeof(pfx));
}

static enum geo_scope geo_scope6(const __u8 *a)
{
	static const __u8 zero[15];

	if (!memcmp(a, zero, 15))
		return a[15] == 1 ? GEO_LOOPBACK : a[15] ? GEO_PUBLIC : GEO_UNSPECIFIED;
	if (a[0] == 0xff)
		return GEO_MULTICAST;
	if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80)
		return GEO_LINKLOCAL;
	/* ULA, and the deprecated site-local fec0::/10 which is just as unroutable. */
	if ((a[0] & 0xfe) == 0xfc || (a[0] == 0xfe && (a[1] & 0xc0) == 0xc0))
		return GEO_PRIVATE;
	return GEO_PUBLIC;
}

/* The first database listed that knows a field wins (--geoip-db before the conf file). */
static void geo_merge(struct geo_info *out, const struct geo_info *one)
{
	if (!out->country[0] && one->country[0]) {
		memcpy(out->country, one->country, sizeof(out->country));
		memcpy(out->country_name, one->country_name, sizeof(out->country_name));
	}
	if (!out->city[0])
		memcpy(out->city, one->city, sizeof(out->city));
	if (!out->asn && one->asn) {
		out->asn = one->asn;
		memcpy(out->org, one->org, sizeof(out->org));
	}
}

int geoip_lookup(__u8 family, const __u8 *addr, struct geo_info *out)
{
	struct geo_cache_ent *ce = NULL;
	struct geo_info one;
	size_t len = family == AF_INET ? 4 : 16;
	bool found = false;
	int i, err = 0;

	memset(out, 0, sizeof(*out));
	if (family != AF_INET && family != AF_INET6)
		return -EAFNOSUPPORT;
	/* ::ffff:a.b.c.d is an IPv4 peer (dual-stack sockets); classify and look it up as such. */
	if (family == AF_INET6 && geo_v4mapped(addr)) {
		family = AF_INET;
		addr += 12;
		len = 4;
	}
	out->scope = family == AF_INET ? geo_scope4(addr) : geo_scope6(addr);
	if (out->scope != GEO_PUBLIC)
		return 0;

	if (geo_cache) {
		ce = &geo_cache[addr_hash(family, addr) % GEO_CACHE_SIZE];
		if (ce->used && ce->family == family && !memcmp(ce->addr, addr, len)) {
			*out = ce->info;
			return ce->rc;
		}
	}
	for (i = 0; i < geo_ndbs; i++) {
		struct geo_db *db = &geo_dbs[i];
		int r;

		if (db->broken)
			continue;
		memset(&one, 0, sizeof(one));
		r = geo_db_lookup(db, family, addr, &one, &err);
		if (r < 0) {
			db->broken = true;
			geo_warn(db->path, "corrupt database, no longer used (%s)",
				 MMDB_strerror(err));
			/* Results cached so far may have come from it. */
			geo_cache_flush();
			continue;
		}
		if (r > 0) {
			geo_merge(out, &one);
			found = true;
		}
	}
	if (ce) {
		ce->used = true;
		ce->family = family;
		memset(ce->addr, 0, sizeof(ce->addr));
		memcpy(ce->addr, addr, len);
		ce->rc = found ? 0 : -ENOENT;
		ce->info = *out;
	}
	return found ? 0 : -ENOENT;
}

const char *geo_scope_name(enum geo_scope s)
{
	static const char *const names[] = {
		[GEO_PUBLIC] = "public",
		[GEO_PRIVATE] = "private",
		[GEO_LOOPBACK] = "loopback",
		[GEO_LINKLOCAL] = "link-local",
		[GEO_MULTICAST] = "multicast",
		[GEO_UNSPECIFIED] = "unspecified",
	};

	if ((unsigned int)s < sizeof(names) / sizeof(names[0]))
		return names[s];
	return "?";
}
