/* ctname.h - human names of containers, read from their runtimes' state on disk (no daemon). */
#ifndef FLOWTOP_CTNAME_H
#define FLOWTOP_CTNAME_H

#include <stddef.h>

#include "container.h"

/*
 * The name a runtime gave the container c, or NULL when its state is not
 * readable here (the caller shows the short id). Sources, all local files:
 *   Docker      /var/lib/docker/containers/<id>/config.v2.json      "Name"
 *   Podman      /var/lib/containers/storage/overlay-containers/containers.json  "names"
 *   containerd  /run/containerd/io.containerd.runtime.v2.task/<ns>/<id>/config.json
 *               (Kubernetes annotations: namespace/pod/container; else the hostname)
 *   CRI-O       /var/lib/containers/storage/overlay-containers/<id>/userdata/config.json
 *   k8s pod     /var/log/pods/<namespace>_<pod>_<uid>/
 * Answers are cached for CTNAME_TTL_S seconds (also "no name").
 */
const char *container_name(const struct container_ident *c);

/* Look for the runtimes' files under root instead of / (tests). NULL or "" = /. */
void container_name_root(const char *root);
void container_name_flush(void);

/*
 * The string value of the first "key" at or after buf[from] in a JSON text
 * (no full parse: runtimes' files are large and only a few strings matter).
 * Escapes are decoded; bytes outside printable ASCII become '?'. Returns the
 * offset just past the value, or -1 when there is none.
 */
long json_string_after(const char *buf, size_t len, size_t from, const char *key, char *out,
		       size_t outlen);

#define CTNAME_TTL_S 10

#endif
