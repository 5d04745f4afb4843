/* ctname.c - human names of containers from their runtimes' state files, cached. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include "ctname.h"

#define NAME_LEN 64
#define CACHE_N 256
#define FILE_MAX (8u << 20)	/* Podman's containers.json lists every container */

struct name_ent {
	enum container_kind kind;
	char id[80];
	char name[NAME_LEN];
	bool found;
	time_t at;
};

static struct name_ent cache[CACHE_N];
static unsigned int cache_next;
static char root[256];

/*
 * Podman lists every container in one file (megabytes on a busy host): it is
 * read again only when it changed, not once per container looked up.
 */
static struct {
	char *buf;
	size_t len;
	struct stat st;
} podman_list;

void container_name_root(const char *r)
{
	snprintf(root, sizeof(root), "%s", r ? r : "");
	/* a trailing slash would double the one every path starts with */
	while (root[0] && root[strlen(root) - 1] == '/')
		root[strlen(root) - 1] = 0;
	container_name_flush();
}

void container_name_flush(void)
{
	memset(cache, 0, sizeof(cache));
	cache_next = 0;
	free(podman_list.buf);
	memset(&podman_list, 0, sizeof(podman_list));
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decode the JSON string starting after its opening quote at buf[i]; returns the offset past it. */
static long json_string_at(const char *buf, size_t len, size_t i, char *out, size_t outlen)
{
	size_t o = 0;

	while (i < len && buf[i] != '"') {
		unsigned char ch = (unsigned char)buf[i++];

		if (ch == '\\') {
			if (i >= len)
				return -1;
			ch = (unsigned char)buf[i++];
			if (ch == 'u') {
				int v = 0;

				if (i + 4 > len)
					return -1;
				for (int k = 0; k < 4; k++) {
					int h = hexval(buf[i + k]);

					if (h < 0)
						return -1;
					v = v << 4 | h;
				}
				i += 4;
				ch = v >= 0x20 && v < 0x7f ? (unsigned char)v : '?';
			} else if (ch != '"' && ch != '\\' && ch != '/') {
				ch = '?';	/* \b \f \n \r \t and unknown escapes */
			}
		} else if (ch < 0x20 || ch >= 0x7f) {
			ch = '?';
		}
		if (o + 1 < outlen)
			out[o++] = (char)ch;
	}
	if (i >= len)
		return -1;
	if (outlen)
		out[o] = 0;
	return (long)i + 1;
}

long json_string_after(const char *buf, size_t len, size_t from, const char *key, char *out,
		       size_t outlen)
{
	size_t kl = strlen(key);

	while (from + kl + 2 <= len) {
		const char *q = memchr(buf + from, '"', len - from);
		size_t i;

		if (!q)
			return -1;
		i = (size_t)(q - buf) + 1;
		if (i + kl + 1 > len)
			return -1;
		if (memcmp(buf + i, key, kl) || buf[i + kl] != '"') {
			from = i;
			continue;
		}
		i += kl + 1;
		while (i < len && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\n' || buf[i] == '\r'))
			i++;
		if (i >= len || buf[i] != ':') {
			from = i;
			continue;
		}
		i++;
		while (i < len && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\n' || buf[i] == '\r' ||
				   buf[i] == '['))
			i++;
		if (i >= len || buf[i] != '"') {
			from = i;
			continue;	/* not a string (an object, a number): look further */
		}
		return json_string_at(buf, len, i + 1, out, outlen);
	}
	return -1;
}

static char *read_file(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	struct stat st;
	char *buf;
	size_t n = 0;

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size <= 0 ||
	    (unsigned long long)st.st_size > FILE_MAX) {
		close(fd);
		return NULL;
	}
	buf = malloc((size_t)st.st_size);
	while (buf && n < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + n, (size_t)st.st_size - n);

		if (r <= 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	*len = n;
	return buf;
}

static bool docker_name(const char *id, char *out, size_t outlen)
{
	char path[512], v[NAME_LEN];
	size_t len = 0;
	char *buf;
	long at = 0;
	bool ok = false;

	snprintf(path, sizeof(path), "%s/var/lib/docker/containers/%s/config.v2.json", root, id);
	buf = read_file(path, &len);
	if (!buf)
		return false;
	/* the container's own "Name" is "/name"; volumes and labels may have others */
	while ((at = json_string_after(buf, len, (size_t)at, "Name", v, sizeof(v))) > 0) {
		if (v[0] == '/' && v[1]) {
			snprintf(out, outlen, "%s", v + 1);
			ok = true;
			break;
		}
	}
	free(buf);
	return ok;
}

/* Podman's containers.json, from podman_list while it has not changed. */
static const char *podman_file(size_t *len)
{
	char path[512];
	struct stat st;

	snprintf(path, sizeof(path), "%s/var/lib/containers/storage/overlay-containers/containers.json",
		 root);
	if (stat(path, &st) < 0) {
		free(podman_list.buf);
		memset(&podman_list, 0, sizeof(podman_list));
		return NULL;
	}
	if (!podman_list.buf || st.st_ino != podman_list.st.st_ino ||
	    st.st_size != podman_list.st.st_size ||
	    st.st_mtim.tv_sec != podman_list.st.st_mtim.tv_sec ||
	    st.st_mtim.tv_nsec != podman_list.st.st_mtim.tv_nsec) {
		free(podman_list.buf);
		podman_list.buf = read_file(path, &podman_list.len);
		podman_list.st = st;
	}
	*len = podman_list.len;
	return podman_list.buf;
}

static bool podman_name(const char *id, char *out, size_t outlen)
{
	char quoted[80], v[NAME_LEN], nextid[80];
	size_t len = 0;
	const char *buf = podman_file(&len), *p;
	bool ok = false;

	if (!buf)
		return false;
	snprintf(quoted, sizeof(quoted), "\"%s\"", id);
	p = memmem(buf, len, quoted, strlen(quoted));
	if (p) {
		size_t from = (size_t)(p - buf) + strlen(quoted);
		long nm = json_string_after(buf, len, from, "names", v, sizeof(v));
		long nx = json_string_after(buf, len, from, "id", nextid, sizeof(nextid));

		/* the names must be this record's, not the next container's */
		if (nm > 0 && (nx < 0 || nm < nx) && v[0]) {
			snprintf(out, outlen, "%s", v);
			ok = true;
		}
	}
	return ok;
}

/* An OCI config.json: Kubernetes annotations (pod/container), else the hostname. */
static bool oci_name(const char *path, const char *pod_key, const char *ctr_key, char *out,
		     size_t outlen)
{
	char pod[NAME_LEN] = "", ctr[NAME_LEN] = "", host[NAME_LEN] = "";
	size_t len = 0;
	char *buf = read_file(path, &len);
	bool ok = true;

	if (!buf)
		return false;
	json_string_after(buf, len, 0, pod_key, pod, sizeof(pod));
	json_string_after(buf, len, 0, ctr_key, ctr, sizeof(ctr));
	json_string_after(buf, len, 0, "hostname", host, sizeof(host));
	if (pod[0] && ctr[0])
		snprintf(out, outlen, "%.31s/%.31s", pod, ctr);
	else if (ctr[0])
		snprintf(out, outlen, "%s", ctr);
	else if (host[0])
		snprintf(out, outlen, "%s", host);
	else
		ok = false;
	free(buf);
	return ok;
}

static bool containerd_name(const char *id, char *out, size_t outlen)
{
	char dir[384], path[640];
	struct dirent *de;
	DIR *d;
	bool ok = false;

	snprintf(dir, sizeof(dir), "%s/run/containerd/io.containerd.runtime.v2.task", root);
	d = opendir(dir);
	if (!d)
		return false;
	/* one directory per containerd namespace: k8s.io, moby, default, ... */
	while (!ok && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s/%s/config.json", dir, de->d_name, id);
		ok = oci_name(path, "io.kubernetes.cri.sandbox-name", "io.kubernetes.cri.container-name",
			      out, outlen);
	}
	closedir(d);
	return ok;
}

static bool crio_name(const char *id, char *out, size_t outlen)
{
	char path[512];

	snprintf(path, sizeof(path),
		 "%s/var/lib/containers/storage/overlay-containers/%s/userdata/config.json", root, id);
	return oci_name(path, "io.kubernetes.pod.name", "io.kubernetes.container.name", out, outlen);
}

/* The kubelet's log directory of a pod: /var/log/pods/<namespace>_<pod>_<uid>. */
static bool pod_name(const char *uid, char *out, size_t outlen)
{
	char dir[300];
	size_t ul = strlen(uid);
	struct dirent *de;
	DIR *d;
	bool ok = false;

	snprintf(dir, sizeof(dir), "%s/var/log/pods", root);
	d = opendir(dir);
	if (!d)
		return false;
	while (!ok && (de = readdir(d))) {
		size_t n = strlen(de->d_name);
		const char *a, *b;

		if (n <= ul + 1 || strcmp(de->d_name + n - ul, uid) || de->d_name[n - ul - 1] != '_')
			continue;
		a = strchr(de->d_name, '_');
		b = de->d_name + n - ul - 1;
		if (!a || a >= b)
			continue;
		snprintf(out, outlen, "%.*s/%.*s", (int)(a - de->d_name), de->d_name,
			 (int)(b - a - 1), a + 1);
		ok = true;
	}
	closedir(d);
	return ok;
}

static bool lookup(const struct container_ident *c, char *out, size_t outlen)
{
	bool ok = false;

	switch (c->kind) {
	case CT_KIND_DOCKER:
		ok = docker_name(c->id, out, outlen);
		break;
	case CT_KIND_PODMAN:
		ok = podman_name(c->id, out, outlen);
		break;
	case CT_KIND_CONTAINERD:
		ok = containerd_name(c->id, out, outlen);
		break;
	case CT_KIND_CRIO:
		ok = crio_name(c->id, out, outlen);
		break;
	case CT_KIND_K8S_POD:
		ok = pod_name(c->id, out, outlen);
		break;
	default:
		return false;	/* services and sessions are named by their unit already */
	}
	/* a container's pod gives a name when its own state says nothing */
	if (!ok && c->pod[0] && c->kind != CT_KIND_K8S_POD)
		ok = pod_name(c->pod, out, outlen);
	return ok && out[0];
}

static unsigned int slot_of(const struct container_ident *c)
{
	unsigned int h = 2166136261u ^ (unsigned int)c->kind;

	for (const char *p = c->id; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	return h;
}

#define PROBE 8

const char *container_name(const struct container_ident *c)
{
	time_t now = time(NULL);
	unsigned int h;
	struct name_ent *e;

	if (!c || c->kind == CT_KIND_NONE)
		return NULL;
	h = slot_of(c);
	for (unsigned int i = 0; i < PROBE; i++) {
		e = &cache[(h + i) % CACHE_N];
		if (e->kind == c->kind && !strcmp(e->id, c->id)) {
			if (now - e->at >= CTNAME_TTL_S || now < e->at) {
				e->found = lookup(c, e->name, sizeof(e->name));
				e->at = now;
			}
			return e->found ? e->name : NULL;
		}
	}
	e = &cache[(h + cache_next++ % PROBE) % CACHE_N];
	for (unsigned int i = 0; i < PROBE; i++) {
		if (cache[(h + i) % CACHE_N].kind == CT_KIND_NONE) {
			e = &cache[(h + i) % CACHE_N];
			break;
		}
	}
	e->kind = c->kind;
	snprintf(e->id, sizeof(e->id), "%s", c->id);
	e->found = lookup(c, e->name, sizeof(e->name));
	e->at = now;
	return e->found ? e->name : NULL;
}
