/* netns.c - the network namespaces of this machine, deduplicated by inode. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <time.h>

#include "netns.h"

static bool have(const struct netns_info *out, size_t n, __u32 ino)
{
	for (size_t i = 0; i < n; i++)
		if (out[i].inode == ino)
			return true;
	return false;
}

int netns_list(struct netns_info *out, size_t max)
{
	size_t n = 0;
	struct dirent *de;
	DIR *d = opendir("/run/netns");

	if (d) {
		while ((de = readdir(d)) && n < max) {
			struct netns_info *x = &out[n];
			struct stat st;

			if (de->d_name[0] == '.' || strlen(de->d_name) >= sizeof(x->name))
				continue;
			snprintf(x->path, sizeof(x->path), "/run/netns/%s", de->d_name);
			/* an unmounted name is a plain file on /run's own device */
			if (stat(x->path, &st) < 0 || !S_ISREG(st.st_mode) || st.st_dev == 0)
				continue;
			{
				struct stat dir;

				if (stat("/run/netns", &dir) == 0 && dir.st_dev == st.st_dev)
					continue;
			}
			if (have(out, n, (__u32)st.st_ino))
				continue;
			x->inode = (__u32)st.st_ino;
			snprintf(x->name, sizeof(x->name), "%s", de->d_name);
			n++;
		}
		closedir(d);
	}
	d = opendir("/proc");
	if (!d)
		return n ? (int)n : -errno;
	while ((de = readdir(d)) && n < max) {
		char path[64];
		struct stat st;

		if (de->d_name[0] < '1' || de->d_name[0] > '9' || strlen(de->d_name) > 10)
			continue;
		snprintf(path, sizeof(path), "/proc/%s/ns/net", de->d_name);
		if (stat(path, &st) < 0 || have(out, n, (__u32)st.st_ino))
			continue;	/* gone, a kernel thread's, or known */
		out[n].inode = (__u32)st.st_ino;
		snprintf(out[n].path, sizeof(out[n].path), "%s", path);
		snprintf(out[n].name, sizeof(out[n].name), "pid %s", de->d_name);
		n++;
	}
	closedir(d);
	return (int)n;
}

static struct netns_info found[NETNS_FOUND_MAX];
static size_t nfound;
static unsigned int found_gen;
static __u64 found_ns;

static __u64 mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + (__u64)ts.tv_nsec;
}

unsigned int netns_refresh(__u64 max_age_ns)
{
	__u64 now = mono_ns();
	int n;

	if (found_gen && max_age_ns && now - found_ns < max_age_ns)
		return found_gen;
	n = netns_list(found, NETNS_FOUND_MAX);
	nfound = n > 0 ? (size_t)n : 0;
	found_ns = now;
	return ++found_gen;
}

const struct netns_info *netns_found(size_t *n)
{
	*n = nfound;
	return found;
}

unsigned int netns_generation(void)
{
	return found_gen;
}

__u32 netns_self(void)
{
	struct stat st;

	return stat("/proc/thread-self/ns/net", &st) == 0 ? (__u32)st.st_ino : 0;
}

int netns_enter(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int r = 0;

	if (fd < 0)
		return -errno;
	if (setns(fd, CLONE_NEWNET) < 0)
		r = -errno;
	close(fd);
	return r;
}
