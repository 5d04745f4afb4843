/* sysctl.c - switch on conntrack accounting and timestamps, and always put them back. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sysctl.h"

#define PROC_NF "/proc/sys/net/netfilter/"

static const char *const knobs[] = { "nf_conntrack_acct", "nf_conntrack_timestamp" };
#define NKNOBS 2

/* Everything the signal-safe restore needs, prepared in advance; one slot per netns. */
struct rs_slot {
	int fd[NKNOBS];		/* open sysctl files (bound to the netns at open time) */
	char old[NKNOBS];	/* '0'..'9' to write back, 0 = leave alone */
	char state_path[128];
	int state_fd;		/* to empty the file when --user may not unlink it */
	volatile sig_atomic_t armed;
	bool used;
};

static struct rs_slot slots[SYSCTL_SLOTS];

static const char *state_dir(void)
{
	const char *d = getenv("FLOWTOP_STATE_DIR");

	return d && *d ? d : SYSCTL_STATE_DIR;
}

static int read_knob(int fd, char *v)
{
	char buf[16];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

	if (n <= 0 || buf[0] < '0' || buf[0] > '9')
		return -EINVAL;
	*v = buf[0];
	return 0;
}

static int write_knob(int fd, char v)
{
	char buf[2] = { v, '\n' };

	return pwrite(fd, buf, 2, 0) == 2 ? 0 : -errno;
}

static void restore_slot(struct rs_slot *rs)
{
	if (!rs->armed)
		return;
	rs->armed = 0;
	for (int i = 0; i < NKNOBS; i++)
		if (rs->old[i] && rs->fd[i] >= 0)
			write_knob(rs->fd[i], rs->old[i]);
	/* after --user, /run/flowtop may not be ours to unlink in: an empty file is
	 * what the next start removes without touching anything */
	if (rs->state_path[0] && unlink(rs->state_path) < 0 && rs->state_fd > 0)
		if (ftruncate(rs->state_fd, 0) < 0) {
			/* nothing more can be done here */
		}
}

void sysctl_restore(void)
{
	for (int i = 0; i < SYSCTL_SLOTS; i++)
		restore_slot(&slots[i]);
}

void sysctl_release(int slot)
{
	struct rs_slot *rs;

	if (slot < 0 || slot >= SYSCTL_SLOTS || !slots[slot].used)
		return;
	rs = &slots[slot];
	restore_slot(rs);
	for (int i = 0; i < NKNOBS; i++)
		if (rs->fd[i] >= 0)
			close(rs->fd[i]);
	if (rs->state_fd > 0)
		close(rs->state_fd);
	memset(rs, 0, sizeof(*rs));
}

static bool owner_alive(pid_t pid)
{
	char path[64], comm[32] = "";
	FILE *f;

	if (pid <= 0 || pid == getpid())
		return false;
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return false;
	if (!fgets(comm, sizeof(comm), f))
		comm[0] = 0;
	fclose(f);
	return !strncmp(comm, "flowtop", 7);
}

/* Restore one state file's values in its netns; 1 restored, 0 skipped, <0 error. */
static int recover_file(const char *path)
{
	char line[256], nspath[200] = "", self_ns[64];
	char old[NKNOBS] = { 0 };
	long pid = 0;
	int orig_ns = -1, ret = 0;
	FILE *f = fopen(path, "r");

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		char key[64], val[200];

		if (sscanf(line, "%63s %199s", key, val) != 2)
			continue;
		if (!strcmp(key, "pid"))
			pid = strtol(val, NULL, 10);
		else if (!strcmp(key, "netns") && strcmp(val, "-"))
			snprintf(nspath, sizeof(nspath), "%s", val);
		for (int i = 0; i < NKNOBS; i++)
			if (!strcmp(key, knobs[i]) && val[0] >= '0' && val[0] <= '9')
				old[i] = val[0];
	}
	fclose(f);
	if (owner_alive((pid_t)pid))
		return 0;

	if (nspath[0]) {
		int nsfd = open(nspath, O_RDONLY | O_CLOEXEC);
		const char *base = strrchr(path, '/');
		unsigned long ino = strtoul(base ? base + 8 : "0", NULL, 10);	/* "/sysctl-" */
		struct stat st;

		/* a /proc/PID path may name another process's netns by now, a
		 * /run/netns name a new namespace: only the same inode is the same */
		if (nsfd < 0 || fstat(nsfd, &st) < 0 || (ino && (unsigned long)st.st_ino != ino)) {
			if (nsfd >= 0)
				close(nsfd);
			unlink(path);	/* the namespace is gone, and its settings with it */
			return 0;
		}
		snprintf(self_ns, sizeof(self_ns), "/proc/self/ns/net");
		orig_ns = open(self_ns, O_RDONLY | O_CLOEXEC);
		if (orig_ns < 0 || setns(nsfd, CLONE_NEWNET) < 0) {
			ret = -errno;
			close(nsfd);
			goto out;
		}
		close(nsfd);
	}
	for (int i = 0; i < NKNOBS; i++) {
		char p[128];
		int fd;

		if (!old[i])
			continue;
		snprintf(p, sizeof(p), PROC_NF "%s", knobs[i]);
		fd = open(p, O_WRONLY | O_CLOEXEC);
		if (fd >= 0) {
			write_knob(fd, old[i]);
			close(fd);
		}
	}
	unlink(path);
	ret = 1;
out:
	if (orig_ns >= 0) {
		if (setns(orig_ns, CLONE_NEWNET) < 0)
			ret = -errno;
		close(orig_ns);
	}
	return ret;
}

int sysctl_recover(void)
{
	const char *dir = state_dir();
	struct dirent *de;
	int n = 0;
	DIR *d = opendir(dir);

	if (!d)
		return 0;
	while ((de = readdir(d))) {
		char path[512];

		if (strncmp(de->d_name, "sysctl-", 7))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (recover_file(path) > 0)
			n++;
	}
	closedir(d);
	return n;
}

int sysctl_setup(__u32 netns_ino, const char *netns_path, bool touch, struct sysctl_result *res,
		 char *warn, size_t warnlen)
{
	char cur[NKNOBS] = { 0 };
	bool want_change = false;
	int err = 0;
	struct rs_slot *rs = NULL;

	memset(res, 0, sizeof(*res));
	res->slot = -1;
	for (int i = 0; i < SYSCTL_SLOTS && !rs; i++) {
		if (!slots[i].used) {
			rs = &slots[i];
			res->slot = i;
		}
	}
	if (!rs) {
		snprintf(warn, warnlen, "counters not switched on: more than %d namespaces",
			 SYSCTL_SLOTS);
		return -ENOSPC;
	}
	memset(rs, 0, sizeof(*rs));
	rs->used = true;
	rs->fd[0] = rs->fd[1] = -1;
	for (int i = 0; i < NKNOBS; i++) {
		char p[128];

		snprintf(p, sizeof(p), PROC_NF "%s", knobs[i]);
		rs->fd[i] = open(p, (touch ? O_RDWR : O_RDONLY) | O_CLOEXEC);
		if (rs->fd[i] < 0 && touch)
			rs->fd[i] = open(p, O_RDONLY | O_CLOEXEC);
		if (rs->fd[i] < 0 || read_knob(rs->fd[i], &cur[i]) < 0) {
			snprintf(warn, warnlen, "cannot read %s%s: %s", PROC_NF, knobs[i],
				 strerror(errno));
			return -ENOENT;
		}
		if (cur[i] == '0')
			want_change = true;
	}
	res->acct_on = cur[0] != '0';
	res->tstamp_on = cur[1] != '0';
	if (!touch || !want_change)
		return 0;

	/* Record first, change second: a crash in between leaves nothing wrong. */
	if (mkdir(state_dir(), 0755) < 0 && errno != EEXIST) {
		snprintf(warn, warnlen, "counters stay off: cannot create %s: %s", state_dir(),
			 strerror(errno));
		return -errno;
	}
	snprintf(rs->state_path, sizeof(rs->state_path), "%s/sysctl-%u", state_dir(), netns_ino);
	{
		char tmp[160];
		FILE *f;

		snprintf(tmp, sizeof(tmp), "%s.%d", rs->state_path, (int)getpid());
		f = fopen(tmp, "w");
		if (!f) {
			snprintf(warn, warnlen, "counters stay off: cannot write %s: %s", tmp,
				 strerror(errno));
			rs->state_path[0] = 0;
			return -errno;
		}
		fprintf(f, "pid %d\nnetns %s\n", (int)getpid(),
			netns_path && *netns_path ? netns_path : "-");
		for (int i = 0; i < NKNOBS; i++)
			if (cur[i] == '0')
				fprintf(f, "%s %c\n", knobs[i], cur[i]);
		if (fclose(f) != 0 || rename(tmp, rs->state_path) < 0) {
			unlink(tmp);
			snprintf(warn, warnlen, "counters stay off: cannot write %s", rs->state_path);
			rs->state_path[0] = 0;
			return -EIO;
		}
		rs->state_fd = open(rs->state_path, O_WRONLY | O_CLOEXEC);
	}
	for (int i = 0; i < NKNOBS; i++) {
		if (cur[i] != '0')
			continue;
		rs->old[i] = cur[i];
		rs->armed = 1;
		if (write_knob(rs->fd[i], '1') < 0) {
			err = -errno;
			rs->old[i] = 0;
			snprintf(warn, warnlen, "cannot enable %s: %s", knobs[i], strerror(-err));
			continue;
		}
		res->changed = true;
		if (i == 0)
			res->acct_on = true;
		else
			res->tstamp_on = true;
	}
	if (!res->changed) {
		rs->armed = 0;
		unlink(rs->state_path);
		rs->state_path[0] = 0;
		if (rs->state_fd > 0)
			close(rs->state_fd);
		rs->state_fd = 0;
	}
	return err;
}
