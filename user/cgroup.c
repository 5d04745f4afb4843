/* cgroup.c - cgroup v2 id -> path, and a process's cgroup. */
#include <dirent.h>
#include <stdbool.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cgroup.h"

struct cg_ent {
	__u64 id;
	char *path;
};

static struct {
	char root[256];
	int root_state;		/* 0 = not looked up, 1 = found, -1 = none */
	struct cg_ent *ents;
	size_t n, cap;
	struct timespec last_scan;
} cg;

/* The first cgroup2 mount listed in a mountinfo file, with prefix before its path. */
static bool find_cgroup2(const char *mountinfo, const char *prefix)
{
	char line[1024];
	bool found = false;
	FILE *f = fopen(mountinfo, "r");

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		/* id parent maj:min root mountpoint opts... - fstype source superopts */
		char mnt[256], fstype[64];
		char *dash = strstr(line, " - ");

		if (!dash || sscanf(dash, " - %63s", fstype) != 1 || strcmp(fstype, "cgroup2"))
			continue;
		if (sscanf(line, "%*s %*s %*s %*s %255s", mnt) != 1)
			continue;
		snprintf(cg.root, sizeof(cg.root), "%s%s", prefix, mnt);
		found = true;
	}
	fclose(f);
	return found;
}

const char *cgroup_root(void)
{
	if (cg.root_state)
		return cg.root_state > 0 ? cg.root : NULL;
	cg.root_state = -1;
	if (find_cgroup2("/proc/self/mountinfo", "")) {
		cg.root_state = 1;
	} else if (find_cgroup2("/proc/1/mountinfo", "")) {
		/*
		 * The machine has one but this mount namespace does not show it ("ip netns
		 * exec" mounts a sysfs of its own without the cgroup mounts): mount it where
		 * only flowtop sees it, in a mount namespace of its own that still receives
		 * the machine's mounts (/run/netns) but sends none back.
		 */
		if (unshare(CLONE_NEWNS) == 0 && mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) == 0 &&
		    mount("cgroup2", "/sys/fs/cgroup", "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC,
			  NULL) == 0) {
			snprintf(cg.root, sizeof(cg.root), "/sys/fs/cgroup");
			cg.root_state = 1;
		}
	}
	return cg.root_state > 0 ? cg.root : NULL;
}

static void add(__u64 id, const char *rel)
{
	if (cg.n == cg.cap) {
		size_t c = cg.cap ? cg.cap * 2 : 256;
		struct cg_ent *e = realloc(cg.ents, c * sizeof(*e));

		if (!e)
			return;
		cg.ents = e;
		cg.cap = c;
	}
	cg.ents[cg.n].id = id;
	cg.ents[cg.n].path = strdup(rel);
	if (cg.ents[cg.n].path)
		cg.n++;
}

/* Depth-first walk; bounded depth so a strange tree cannot recurse forever. */
static void walk(int fd, char *rel, size_t rlen, size_t cap, int depth)
{
	struct dirent *de;
	DIR *d;

	if (depth > 32)
		return;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return;
	}
	while ((de = readdir(d))) {
		struct stat st;
		int sub;
		size_t n;

		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		n = strlen(de->d_name);
		if (rlen + 1 + n + 1 > cap)
			continue;
		sub = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (sub < 0)
			continue;
		if (fstat(sub, &st) < 0) {
			close(sub);
			continue;
		}
		rel[rlen] = '/';
		memcpy(rel + rlen + 1, de->d_name, n + 1);
		add((__u64)st.st_ino, rel);
		walk(sub, rel, rlen + 1 + n, cap, depth + 1);
		rel[rlen] = 0;
	}
	closedir(d);
}

static int cmp_ent(const void *a, const void *b)
{
	const struct cg_ent *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

static void rescan(void)
{
	const char *root = cgroup_root();
	char rel[4096] = "";
	struct stat st;
	int fd;

	for (size_t i = 0; i < cg.n; i++)
		free(cg.ents[i].path);
	cg.n = 0;
	clock_gettime(CLOCK_MONOTONIC, &cg.last_scan);
	if (!root)
		return;
	fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return;
	if (fstat(fd, &st) == 0)
		add((__u64)st.st_ino, "/");
	walk(fd, rel, 0, sizeof(rel), 0);
	qsort(cg.ents, cg.n, sizeof(*cg.ents), cmp_ent);
}

/* New cgroups appear all the time (containers, services): rescan for an unknown id, at
 * most every 100 ms. */
static bool may_rescan(void)
{
	struct timespec now;
	long long ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (now.tv_sec - cg.last_scan.tv_sec) * 1000LL +
	     (now.tv_nsec - cg.last_scan.tv_nsec) / 1000000;
	return ms >= 100 || (!cg.last_scan.tv_sec && !cg.last_scan.tv_nsec);
}

const char *cgroup_path(__u64 id)
{
	if (!id)
		return NULL;
	for (int pass = 0; pass < 2; pass++) {
		struct cg_ent key = { .id = id };
		struct cg_ent *e = cg.n ? bsearch(&key, cg.ents, cg.n, sizeof(*e), cmp_ent) : NULL;

		if (e)
			return e->path;
		if (pass == 0 && may_rescan())
			rescan();
		else
			break;
	}
	return NULL;
}

void cgroup_free(void)
{
	for (size_t i = 0; i < cg.n; i++)
		free(cg.ents[i].path);
	free(cg.ents);
	memset(&cg, 0, sizeof(cg));
}
