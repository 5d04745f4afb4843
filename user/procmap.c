/* procmap.c - socket inode -> process (pid, comm, uid, cgroup) from /proc/<pid>/fd, cached. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "procmap.h"

/*
 * The map is rebuilt from scratch on a miss, not patched: walking /proc/<pid>/fd is the cost
 * either way, and a fresh walk drops vanished processes and catches exec (comm) and setuid.
 * Only processes holding at least one socket are kept. Threads that unshared their fd table
 * (clone without CLONE_FILES) are not walked: /proc/<pid>/fd is the group leader's table.
 */

struct pm_proc {
	__u32 pid;
	__u32 uid;
	char comm[PROCMAP_COMM_LEN];
	char *cgroup;		/* NULL if there is no "0::" line */
};

struct pm_slot {
	__u32 inode;		/* 0 = free */
	__u32 proc;		/* index into procs */
};

struct procmap {
	char *root;
	struct pm_proc *procs;	/* sorted by pid */
	size_t nprocs;
	size_t procs_cap;
	struct pm_slot *slots;	/* open addressing, linear probing */
	size_t nslots;		/* power of two */
	size_t nsockets;
	__u32 *pids;		/* scratch: pids of one scan */
	size_t pids_cap;
	__u32 *inodes;		/* scratch: socket inodes of one process */
	size_t inodes_cap;
	__u64 last_scan_ns;
	__u64 interval_ns;
	unsigned long nscans;
};

static __u64 pm_clock(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static int pm_push_u32(__u32 **arr, size_t *cap, size_t n, __u32 v)
{
	if (n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 64;
		__u32 *a = realloc(*arr, ncap * sizeof(*a));

		if (!a)
			return -ENOMEM;
		*arr = a;
		*cap = ncap;
	}
	(*arr)[n] = v;
	return 0;
}

static size_t pm_hash(__u32 inode, size_t mask)
{
	return (inode * 2654435761u) & mask;
}

static struct pm_slot *pm_find_slot(const struct procmap *pm, __u32 inode)
{
	size_t mask = pm->nslots - 1;

	for (size_t i = pm_hash(inode, mask);; i = (i + 1) & mask) {
		if (pm->slots[i].inode == inode)
			return &pm->slots[i];
		if (!pm->slots[i].inode)
			return NULL;
	}
}

static int pm_grow_slots(struct procmap *pm)
{
	size_t n = pm->nslots * 2, mask = n - 1;
	struct pm_slot *s = calloc(n, sizeof(*s));

	if (!s)
		return -ENOMEM;
	for (size_t i = 0; i < pm->nslots; i++) {
		size_t j;

		if (!pm->slots[i].inode)
			continue;
		for (j = pm_hash(pm->slots[i].inode, mask); s[j].inode; j = (j + 1) & mask)
			;
		s[j] = pm->slots[i];
	}
	free(pm->slots);
	pm->slots = s;
	pm->nslots = n;
	return 0;
}

/* The first process seen with a socket keeps it: scans run in pid order. */
static int pm_insert(struct procmap *pm, __u32 inode, __u32 proc)
{
	size_t mask, i;
	int err;

	if ((pm->nsockets + 1) * 2 > pm->nslots) {
		err = pm_grow_slots(pm);
		if (err)
			return err;
	}
	mask = pm->nslots - 1;
	for (i = pm_hash(inode, mask); pm->slots[i].inode; i = (i + 1) & mask)
		if (pm->slots[i].inode == inode)
			return 0;
	pm->slots[i].inode = inode;
	pm->slots[i].proc = proc;
	pm->nsockets++;
	return 0;
}

struct procmap *procmap_new(const char *proc_root)
{
	struct procmap *pm = calloc(1, sizeof(*pm));

	if (!pm)
		return NULL;
	pm->root = strdup(proc_root ? proc_root : "/proc");
	pm->nslots = 1024;
	pm->slots = calloc(pm->nslots, sizeof(*pm->slots));
	pm->interval_ns = PROCMAP_MIN_INTERVAL_NS;
	if (!pm->root || !pm->slots) {
		procmap_free(pm);
		return NULL;
	}
	return pm;
}

static void pm_clear(struct procmap *pm)
{
	for (size_t i = 0; i < pm->nprocs; i++)
		free(pm->procs[i].cgroup);
	pm->nprocs = 0;
	memset(pm->slots, 0, pm->nslots * sizeof(*pm->slots));
	pm->nsockets = 0;
}

void procmap_free(struct procmap *pm)
{
	if (!pm)
		return;
	if (pm->slots)
		pm_clear(pm);
	free(pm->procs);
	free(pm->slots);
	free(pm->pids);
	free(pm->inodes);
	free(pm->root);
	free(pm);
}

void procmap_set_interval(struct procmap *pm, __u64 ns)
{
	pm->interval_ns = ns;
}

size_t procmap_nprocs(const struct procmap *pm)
{
	return pm->nprocs;
}

size_t procmap_nsockets(const struct procmap *pm)
{
	return pm->nsockets;
}

unsigned long procmap_nscans(const struct procmap *pm)
{
	return pm->nscans;
}

static int pm_cmp_u32(const void *a, const void *b)
{
	__u32 x = *(const __u32 *)a, y = *(const __u32 *)b;

	return x < y ? -1 : x > y;
}

static bool pm_parse_u32(const char *s, const char *end, __u32 *out)
{
	unsigned long long v = 0;

	if (s == end)
		return false;
	for (; s < end; s++) {
		if (!isdigit((unsigned char)*s))
			return false;
		v = v * 10 + (*s - '0');
		if (v > UINT32_MAX)
			return false;
	}
	*out = v;
	return true;
}

/* Socket inodes in <pid>/fd, into pm->inodes. Returns how many, or -errno. */
static int pm_scan_fds(struct procmap *pm, int rootfd, __u32 pid)
{
	char path[32], link[64];
	struct dirent *de;
	size_t n = 0;
	DIR *d;
	int fd;

	snprintf(path, sizeof(path), "%u/fd", pid);
	fd = openat(rootfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	while ((de = readdir(d))) {
		ssize_t len;
		__u32 inode;

		if (de->d_name[0] == '.')
			continue;
		len = readlinkat(dirfd(d), de->d_name, link, sizeof(link) - 1);
		if (len < 10 || strncmp(link, "socket:[", 8) || link[len - 1] != ']')
			continue;
		if (!pm_parse_u32(link + 8, link + len - 1, &inode) || !inode)
			continue;
		if (pm_push_u32(&pm->inodes, &pm->inodes_cap, n, inode)) {
			closedir(d);
			return -ENOMEM;
		}
		n++;
	}
	closedir(d);
	return n;
}

static FILE *pm_open(int rootfd, __u32 pid, const char *name)
{
	char path[64];
	FILE *f;
	int fd;

	snprintf(path, sizeof(path), "%u/%s", pid, name);
	fd = openat(rootfd, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	f = fdopen(fd, "r");
	if (!f)
		close(fd);
	return f;
}

/* comm, uid and cgroup of a process; -ENOENT if it is gone. */
static int pm_read_proc(int rootfd, struct pm_proc *p)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	FILE *f;

	f = pm_open(rootfd, p->pid, "comm");
	if (!f)
		return -ENOENT;
	len = getline(&line, &cap, f);
	fclose(f);
	if (len <= 0) {
		free(line);
		return -ENOENT;
	}
	line[strcspn(line, "\n")] = '\0';
	snprintf(p->comm, sizeof(p->comm), "%s", line);

	p->uid = (__u32)-1;
	f = pm_open(rootfd, p->pid, "status");
	if (f) {
		unsigned int ruid, euid;

		while (getline(&line, &cap, f) > 0) {
			if (sscanf(line, "Uid: %u %u", &ruid, &euid) == 2) {
				p->uid = euid;
				break;
			}
		}
		fclose(f);
	}

	p->cgroup = NULL;
	f = pm_open(rootfd, p->pid, "cgroup");
	if (f) {
		while ((len = getline(&line, &cap, f)) > 0) {
			if (strncmp(line, "0::", 3))
				continue;
			line[strcspn(line, "\n")] = '\0';
			p->cgroup = strdup(line + 3);
			break;
		}
		fclose(f);
	}
	free(line);
	return 0;
}

static int pm_add_proc(struct procmap *pm, const struct pm_proc *p)
{
	if (pm->nprocs == pm->procs_cap) {
		size_t cap = pm->procs_cap ? pm->procs_cap * 2 : 64;
		struct pm_proc *a = realloc(pm->procs, cap * sizeof(*a));

		if (!a)
			return -ENOMEM;
		pm->procs = a;
		pm->procs_cap = cap;
	}
	pm->procs[pm->nprocs++] = *p;
	return 0;
}

int procmap_rescan(struct procmap *pm)
{
	struct dirent *de;
	size_t npids = 0;
	int err = 0;
	int rootfd;
	DIR *d;

	d = opendir(pm->root);
	if (!d) {
		err = -errno;
		pm->last_scan_ns = pm_clock();
		pm->nscans++;
		return err;
	}
	rootfd = dirfd(d);
	while ((de = readdir(d))) {
		__u32 pid;

		if (!pm_parse_u32(de->d_name, de->d_name + strlen(de->d_name), &pid) || !pid)
			continue;
		err = pm_push_u32(&pm->pids, &pm->pids_cap, npids, pid);
		if (err)
			goto cleanup;
		npids++;
	}
	/* the lowest pid holding a shared socket wins, whatever order readdir gives */
	qsort(pm->pids, npids, sizeof(*pm->pids), pm_cmp_u32);

	pm_clear(pm);
	for (size_t i = 0; i < npids; i++) {
		struct pm_proc p = { .pid = pm->pids[i] };
		int n = pm_scan_fds(pm, rootfd, p.pid);

		if (n == -ENOMEM) {
			err = n;
			goto cleanup;
		}
		/* vanished, or not ours to read (not root) */
		if (n <= 0 || pm_read_proc(rootfd, &p))
			continue;
		err = pm_add_proc(pm, &p);
		if (err) {
			free(p.cgroup);
			goto cleanup;
		}
		for (int j = 0; j < n; j++) {
			err = pm_insert(pm, pm->inodes[j], pm->nprocs - 1);
			if (err)
				goto cleanup;
		}
	}

cleanup:
	closedir(d);
	pm->last_scan_ns = pm_clock();
	pm->nscans++;
	return err;
}

int procmap_lookup(struct procmap *pm, __u32 inode, struct procmap_info *out)
{
	const struct pm_slot *s;
	int err;

	if (!inode)
		return -ENOENT;
	s = pm_find_slot(pm, inode);
	if (!s) {
		if (pm->nscans && pm_clock() - pm->last_scan_ns < pm->interval_ns)
			return -EAGAIN;
		err = procmap_rescan(pm);
		if (err)
			return err;
		s = pm_find_slot(pm, inode);
		if (!s)
			return -ENOENT;
	}
	out->pid = pm->procs[s->proc].pid;
	out->uid = pm->procs[s->proc].uid;
	memcpy(out->comm, pm->procs[s->proc].comm, sizeof(out->comm));
	return 0;
}

int procmap_cgroup(struct procmap *pm, __u32 pid, char *buf, size_t len)
{
	size_t lo = 0, hi = pm->nprocs;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct pm_proc *p = &pm->procs[mid];

		if (p->pid < pid) {
			lo = mid + 1;
		} else if (p->pid > pid) {
			hi = mid;
		} else {
			if (!p->cgroup)
				return -ENOENT;
			if (strlen(p->cgroup) >= len)
				return -ENAMETOOLONG;
			strcpy(buf, p->cgroup);
			return 0;
		}
	}
	return -ENOENT;
}
