/* container.c - which container (or service, or session) a cgroup v2 path belongs to. */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "container.h"

/* Container ids are 64 hex digits in every runtime's layout. */
static bool hex64(const char *s, size_t n)
{
	if (n != 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)s[i]))
			return false;
	return true;
}

/* A path component "<prefix><64 hex>.scope" (systemd driver) */
static bool scope_id(const char *c, size_t n, const char *prefix, char *id, size_t idlen)
{
	size_t p = strlen(prefix);

	if (n < p + 6 || strncmp(c, prefix, p) || strncmp(c + n - 6, ".scope", 6))
		return false;
	if (!hex64(c + p, n - p - 6))
		return false;
	snprintf(id, idlen, "%.*s", 64, c + p);
	return true;
}

/* Pod uid from "pod<uid>" or "kubepods-<qos>-pod<uid>.slice" (systemd turns '-' into '_'). */
static bool pod_uid(const char *c, size_t n, char *pod, size_t podlen)
{
	const char *p = NULL;
	size_t len, o = 0;

	for (size_t i = 0; i + 3 <= n; i++)
		if (!strncmp(c + i, "pod", 3) && (i == 0 || c[i - 1] == '-'))
			p = c + i + 3;
	if (!p)
		return false;
	len = (size_t)(c + n - p);
	if (len > 6 && !strncmp(p + len - 6, ".slice", 6))
		len -= 6;
	if (len < 8 || len >= podlen)
		return false;
	for (size_t i = 0; i < len; i++) {
		char ch = p[i] == '_' ? '-' : p[i];

		if (!isxdigit((unsigned char)ch) && ch != '-')
			return false;
		pod[o++] = ch;
	}
	pod[o] = 0;
	return true;
}

int container_parse(const char *path, struct container_ident *out)
{
	bool in_docker = false, in_kube = false;
	struct container_ident svc = { 0 }, user = { 0 };
	const char *c = path;

	memset(out, 0, sizeof(*out));
	if (!path)
		return -ENOENT;
	/* Walk the components; the innermost container wins over pods, services and slices. */
	while (*c) {
		size_t n;

		while (*c == '/')
			c++;
		n = strcspn(c, "/");
		if (!n)
			break;
		if (scope_id(c, n, "docker-", out->id, sizeof(out->id)))
			out->kind = CT_KIND_DOCKER;
		else if (scope_id(c, n, "libpod-", out->id, sizeof(out->id)))
			out->kind = CT_KIND_PODMAN;
		else if (scope_id(c, n, "cri-containerd-", out->id, sizeof(out->id)))
			out->kind = CT_KIND_CONTAINERD;
		else if (scope_id(c, n, "crio-", out->id, sizeof(out->id)))
			out->kind = CT_KIND_CRIO;
		else if (in_docker && hex64(c, n)) {
			/* cgroupfs driver: /docker/<id> */
			snprintf(out->id, sizeof(out->id), "%.64s", c);
			out->kind = CT_KIND_DOCKER;
		} else if (in_kube && hex64(c, n)) {
			/* cgroupfs driver: /kubepods/<qos>/pod<uid>/<id> */
			snprintf(out->id, sizeof(out->id), "%.64s", c);
			out->kind = CT_KIND_CONTAINERD;
		} else if (!strncmp(c, "kubepods", 8)) {
			in_kube = true;
			pod_uid(c, n, out->pod, sizeof(out->pod));
		} else if (in_kube && pod_uid(c, n, out->pod, sizeof(out->pod))) {
			/* the pod level of a cgroupfs layout */
		} else if (n == 6 && !strncmp(c, "docker", 6)) {
			in_docker = true;
		} else if (n > 8 && !strncmp(c + n - 8, ".service", 8) && n - 8 < sizeof(svc.id)) {
			svc.kind = CT_KIND_SERVICE;
			snprintf(svc.id, sizeof(svc.id), "%.*s", (int)n, c);
		} else if (n > 11 && !strncmp(c, "user-", 5) && !strncmp(c + n - 6, ".slice", 6)) {
			size_t d = n - 11;

			if (strspn(c + 5, "0123456789") == d) {
				user.kind = CT_KIND_USER;
				snprintf(user.id, sizeof(user.id), "%.*s", (int)d, c + 5);
			}
		}
		c += n;
	}
	if (out->kind)
		return 0;
	if (out->pod[0]) {
		out->kind = CT_KIND_K8S_POD;
		snprintf(out->id, sizeof(out->id), "%s", out->pod);
		return 0;
	}
	/* a service inside a user session (user@1000.service/app.slice/x.service) is the service */
	if (svc.kind) {
		*out = svc;
		return 0;
	}
	if (user.kind) {
		*out = user;
		return 0;
	}
	return -ENOENT;
}

const char *container_kind_name(enum container_kind k)
{
	switch (k) {
	case CT_KIND_DOCKER: return "docker";
	case CT_KIND_PODMAN: return "podman";
	case CT_KIND_CONTAINERD: return "containerd";
	case CT_KIND_CRIO: return "cri-o";
	case CT_KIND_K8S_POD: return "k8s-pod";
	case CT_KIND_SERVICE: return "service";
	case CT_KIND_USER: return "user";
	default: return NULL;
	}
}

char *container_label(char *dst, size_t len, const struct container_ident *c)
{
	switch (c->kind) {
	case CT_KIND_DOCKER:
	case CT_KIND_PODMAN:
	case CT_KIND_CONTAINERD:
	case CT_KIND_CRIO:
		snprintf(dst, len, "%s:%.12s", container_kind_name(c->kind), c->id);
		break;
	case CT_KIND_K8S_POD:
		snprintf(dst, len, "k8s-pod:%s", c->id);
		break;
	case CT_KIND_SERVICE:
		snprintf(dst, len, "%s", c->id);
		break;
	case CT_KIND_USER:
		snprintf(dst, len, "user:%s", c->id);
		break;
	default:
		if (len)
			dst[0] = 0;
		break;
	}
	return dst;
}
