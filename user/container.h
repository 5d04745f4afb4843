/* container.h - which container (or service, or session) a cgroup v2 path belongs to. */
#ifndef FLOWTOP_CONTAINER_H
#define FLOWTOP_CONTAINER_H

#include <stddef.h>

enum container_kind {
	CT_KIND_NONE = 0,
	CT_KIND_DOCKER,
	CT_KIND_PODMAN,
	CT_KIND_CONTAINERD,
	CT_KIND_CRIO,
	CT_KIND_K8S_POD,	/* a pod whose container id the path does not name */
	CT_KIND_SERVICE,	/* systemd <name>.service */
	CT_KIND_USER,		/* systemd user-<uid>.slice */
};

struct container_ident {
	enum container_kind kind;
	char id[80];		/* full container id, pod uid, unit name or uid */
	char pod[48];		/* Kubernetes pod uid when the path has one, else "" */
};

/*
 * Parse a cgroup v2 path (relative to the cgroup root, e.g.
 * "/system.slice/docker-<id>.scope"). Returns 0 and fills *out, or -ENOENT
 * for layouts it does not know: the caller shows the path, never a guess.
 */
int container_parse(const char *path, struct container_ident *out);

/* Short label: "docker:0123456789ab", "k8s-pod:<uid>", "nginx.service", "user:1000". */
char *container_label(char *dst, size_t len, const struct container_ident *c);

const char *container_kind_name(enum container_kind k);

#endif
