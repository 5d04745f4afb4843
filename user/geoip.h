/* geoip.h - country, city and ASN of flow endpoints from MaxMind GeoIP2 (.mmdb) databases. */
#ifndef FLOWTOP_GEOIP_H
#define FLOWTOP_GEOIP_H

#include <stdbool.h>
#include <linux/types.h>

/* All strings are sanitized (safe for a terminal) UTF-8, empty when unknown. */
struct geo_info {
	char country[3];	/* ISO 3166-1 alpha-2, e.g. "GB" */
	char country_name[48];	/* English */
	char city[64];		/* English */
	__u32 asn;		/* 0 when unknown */
	char org[96];		/* AS organisation */
	__u8 scope;		/* enum geo_scope */
};

enum geo_scope {
	GEO_PUBLIC = 0,
	GEO_PRIVATE,		/* RFC 1918, CGNAT 100.64/10, ULA fc00::/7 */
	GEO_LOOPBACK,
	GEO_LINKLOCAL,
	GEO_MULTICAST,		/* includes the IPv4 limited broadcast address */
	GEO_UNSPECIFIED,	/* 0.0.0.0/8, :: */
};

/*
 * Open databases: every path in paths (NULL-terminated, may be NULL) that exists, then the
 * paths listed in conf_file (one per line, '#' comments, relative paths are relative to the
 * conf file's directory; may be NULL). A path may be a directory: every *.mmdb in it is opened.
 * Never fatal: returns the number of databases opened. A missing path is skipped silently;
 * an unreadable, corrupt or unsupported one is reported once through warn ("PATH: what is
 * wrong", warn may be NULL) and skipped. City, Country and ASN databases are told apart by
 * their metadata database_type. Calling it again closes the databases opened before.
 */
int geoip_open(const char *const *paths, const char *conf_file, void (*warn)(const char *msg));
void geoip_close(void);
bool geoip_available(void);

/*
 * family AF_INET/AF_INET6, addr in network order (IPv4 in the first 4 bytes). Returns 0 with
 * *out filled (scope always set; private, loopback, link-local, multicast and unspecified
 * addresses are not looked up and their strings are empty), or -ENOENT for a public address
 * that no database knows (*out then holds the scope and empty strings). A database that fails
 * at lookup time is reported once through the warn callback of geoip_open and not used again.
 * Results are cached. Not thread-safe.
 */
int geoip_lookup(__u8 family, const __u8 *addr, struct geo_info *out);

/* "public", "private", "loopback", "link-local", "multicast", "unspecified". */
const char *geo_scope_name(enum geo_scope s);

#endif
