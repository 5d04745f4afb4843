/* objs: procmap */
/* test_procmap.c - socket inode -> process map, on a fake /proc tree and on the real one. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "procmap.h"

struct fake {
	char root[64];
};

static void fake_write(const struct fake *fk, unsigned int pid, const char *name, const char *text)
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%u/%s", fk->root, pid, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void fake_fd(const struct fake *fk, unsigned int pid, int fd, const char *target)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%u/fd/%d", fk->root, pid, fd);
	assert_int_equal(symlink(target, path), 0);
}

/* A process directory: comm, status with uid (real 0, effective euid), cgroup, empty fd/. */
static void fake_proc(const struct fake *fk, unsigned int pid, const char *comm, unsigned int euid,
		      const char *cgroup)
{
	char path[PATH_MAX], buf[256];

	snprintf(path, sizeof(path), "%s/%u", fk->root, pid);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/%u/fd", fk->root, pid);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(buf, sizeof(buf), "%s\n", comm);
	fake_write(fk, pid, "comm", buf);
	snprintf(buf, sizeof(buf), "Name:\t%s\nUmask:\t0022\nState:\tS (sleeping)\n"
		 "Tgid:\t%u\nPid:\t%u\nUid:\t0\t%u\t0\t0\nGid:\t0\t0\t0\t0\n", comm, pid, pid,
		 euid);
	fake_write(fk, pid, "status", buf);
	if (cgroup) {
		snprintf(buf, sizeof(buf), "12:pids:/x\n1:name=systemd:/y\n0::%s\n", cgroup);
		fake_write(fk, pid, "cgroup", buf);
	}
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void fake_rm_proc(const struct fake *fk, unsigned int pid)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%u", fk->root, pid);
	assert_int_equal(nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS), 0);
}

/*
 * pid 200 is made before 100 so readdir order is not pid order; both hold socket 12345
 * (as after fork): the lower pid must win.
 */
static int setup(void **state)
{
	struct fake *fk = calloc(1, sizeof(*fk));

	if (!fk)
		return -1;
	snprintf(fk->root, sizeof(fk->root), "/tmp/flowtop-procmap-XXXXXX");
	if (!mkdtemp(fk->root))
		return -1;

	fake_proc(fk, 200, "beta", 33, "/system.slice/beta.service");
	fake_fd(fk, 200, 0, "/dev/null");
	fake_fd(fk, 200, 3, "socket:[12345]");
	fake_fd(fk, 200, 4, "socket:[333]");

	fake_proc(fk, 100, "alpha", 1000, "/user.slice/user-1000.slice/session-1.scope");
	fake_fd(fk, 100, 0, "/dev/pts/0");
	fake_fd(fk, 100, 3, "socket:[12345]");
	fake_fd(fk, 100, 7, "socket:[222]");
	fake_fd(fk, 100, 8, "pipe:[999]");
	fake_fd(fk, 100, 9, "anon_inode:[eventfd]");

	fake_proc(fk, 300, "nosockets", 0, NULL);
	fake_fd(fk, 300, 1, "/var/log/x");

	/* junk a scan must survive */
	fake_proc(fk, 50, "junk", 0, "/");
	fake_fd(fk, 50, 3, "socket:[xyz]");
	fake_fd(fk, 50, 4, "socket:[]");
	fake_fd(fk, 50, 5, "socket:[99999999999]");
	fake_fd(fk, 50, 6, "socket:[0]");
	fake_fd(fk, 50, 7, "socket:[444");
	fake_write(fk, 50, "comm", "a-very-long-command-name-indeed\n");
	{
		char path[PATH_MAX];

		snprintf(path, sizeof(path), "%s/self", fk->root);
		assert_int_equal(symlink("100", path), 0);
		snprintf(path, sizeof(path), "%s/sys", fk->root);
		assert_int_equal(mkdir(path, 0755), 0);
		snprintf(path, sizeof(path), "%s/12abc", fk->root);
		assert_int_equal(mkdir(path, 0755), 0);
	}
	/* 500: socket fds but its comm is gone (exited mid-scan): must be skipped */
	fake_proc(fk, 500, "ghost", 0, NULL);
	fake_fd(fk, 500, 3, "socket:[555]");
	{
		char path[PATH_MAX];

		snprintf(path, sizeof(path), "%s/500/comm", fk->root);
		assert_int_equal(unlink(path), 0);
	}
	*state = fk;
	return 0;
}

static int teardown(void **state)
{
	struct fake *fk = *state;

	nftw(fk->root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(fk);
	return 0;
}

static void test_lookup_hits(void **state)
{
	struct fake *fk = *state;
	struct procmap *pm = procmap_new(fk->root);
	struct procmap_info pi;

	assert_non_null(pm);
	assert_int_equal(procmap_lookup(pm, 12345, &pi), 0);
	assert_int_equal(pi.pid, 100);
	assert_string_equal(pi.comm, "alpha");
	assert_int_equal(pi.uid, 1000);

	assert_int_equal(procmap_lookup(pm, 333, &pi), 0);
	assert_int_equal(pi.pid, 200);
	assert_string_equal(pi.comm, "beta");
	assert_int_equal(pi.uid, 33);

	assert_int_equal(procmap_lookup(pm, 222, &pi), 0);
	assert_int_equal(pi.pid, 100);
	/* all from one scan */
	assert_int_equal(procmap_nscans(pm), 1);
	/* 100, 200; 300 holds no socket, 500 vanished, 50 holds only junk */
	assert_int_equal(procmap_nprocs(pm), 2);
	assert_int_equal(procmap_nsockets(pm), 3);
	procmap_free(pm);
}

static void test_lookup_miss_rate_limited(void **state)
{
	struct fake *fk = *state;
	struct procmap *pm = procmap_new(fk->root);
	struct procmap_info pi;

	assert_non_null(pm);
	procmap_set_interval(pm, 150ULL * 1000 * 1000);
	/* first miss scans and still misses */
	assert_int_equal(procmap_lookup(pm, 777, &pi), -ENOENT);
	assert_int_equal(procmap_nscans(pm), 1);
	/* junk links are not sockets */
	assert_int_equal(procmap_lookup(pm, 444, &pi), -EAGAIN);
	assert_int_equal(procmap_lookup(pm, 0, &pi), -ENOENT);

	/* a new process appears: not seen until the interval is over */
	fake_proc(fk, 400, "gamma", 7, "/gamma");
	fake_fd(fk, 400, 5, "socket:[777]");
	assert_int_equal(procmap_lookup(pm, 777, &pi), -EAGAIN);
	assert_int_equal(procmap_nscans(pm), 1);
	/* hits do not scan */
	assert_int_equal(procmap_lookup(pm, 12345, &pi), 0);
	assert_int_equal(procmap_nscans(pm), 1);

	usleep(170 * 1000);
	assert_int_equal(procmap_lookup(pm, 777, &pi), 0);
	assert_int_equal(pi.pid, 400);
	assert_string_equal(pi.comm, "gamma");
	assert_int_equal(procmap_nscans(pm), 2);
	/* right after a scan, another miss waits */
	assert_int_equal(procmap_lookup(pm, 778, &pi), -EAGAIN);
	assert_int_equal(procmap_nscans(pm), 2);

	fake_rm_proc(fk, 400);
	procmap_free(pm);
}

static void test_vanished(void **state)
{
	struct fake *fk = *state;
	struct procmap *pm = procmap_new(fk->root);
	struct procmap_info pi;

	assert_non_null(pm);
	procmap_set_interval(pm, 0);
	fake_proc(fk, 600, "shortlived", 0, NULL);
	fake_fd(fk, 600, 3, "socket:[600600]");
	assert_int_equal(procmap_lookup(pm, 600600, &pi), 0);
	assert_int_equal(pi.pid, 600);
	assert_int_equal(procmap_nprocs(pm), 3);

	fake_rm_proc(fk, 600);
	assert_int_equal(procmap_rescan(pm), 0);
	assert_int_equal(procmap_nprocs(pm), 2);
	assert_int_equal(procmap_lookup(pm, 600600, &pi), -ENOENT);
	/* the others are still there */
	assert_int_equal(procmap_lookup(pm, 333, &pi), 0);
	assert_int_equal(pi.pid, 200);
	procmap_free(pm);
}

static void test_fork_shared_socket(void **state)
{
	struct fake *fk = *state;
	struct procmap *pm = procmap_new(fk->root);
	struct procmap_info pi;

	assert_non_null(pm);
	procmap_set_interval(pm, 0);
	fake_proc(fk, 901, "child", 0, NULL);
	fake_fd(fk, 901, 4, "socket:[9009]");
	fake_proc(fk, 900, "parent", 0, NULL);
	fake_fd(fk, 900, 3, "socket:[9009]");
	assert_int_equal(procmap_lookup(pm, 9009, &pi), 0);
	assert_int_equal(pi.pid, 900);
	assert_string_equal(pi.comm, "parent");

	/* the parent exits: the child keeps the socket */
	fake_rm_proc(fk, 900);
	assert_int_equal(procmap_rescan(pm), 0);
	assert_int_equal(procmap_lookup(pm, 9009, &pi), 0);
	assert_int_equal(pi.pid, 901);
	assert_string_equal(pi.comm, "child");
	fake_rm_proc(fk, 901);
	procmap_free(pm);
}

static void test_cgroup_and_comm(void **state)
{
	struct fake *fk = *state;
	struct procmap *pm = procmap_new(fk->root);
	struct procmap_info pi;
	char buf[128], tiny[8];

	assert_non_null(pm);
	assert_int_equal(procmap_rescan(pm), 0);
	assert_int_equal(procmap_cgroup(pm, 100, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/user.slice/user-1000.slice/session-1.scope");
	assert_int_equal(procmap_cgroup(pm, 200, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/system.slice/beta.service");
	assert_int_equal(procmap_cgroup(pm, 100, tiny, sizeof(tiny)), -ENAMETOOLONG);
	assert_int_equal(procmap_cgroup(pm, 300, buf, sizeof(buf)), -ENOENT);
	assert_int_equal(procmap_cgroup(pm, 4242, buf, sizeof(buf)), -ENOENT);

	/* a long comm (in the kernel at most 15 chars, but a file may say more) is cut */
	fake_proc(fk, 700, "x", 0, NULL);
	fake_write(fk, 700, "comm", "abcdefghijklmnopqrstuvwxyz\n");
	fake_fd(fk, 700, 3, "socket:[7007]");
	assert_int_equal(procmap_rescan(pm), 0);
	assert_int_equal(procmap_lookup(pm, 7007, &pi), 0);
	assert_string_equal(pi.comm, "abcdefghijklmno");
	assert_int_equal(strlen(pi.comm), PROCMAP_COMM_LEN - 1);
	/* no cgroup file */
	assert_int_equal(procmap_cgroup(pm, 700, buf, sizeof(buf)), -ENOENT);
	fake_rm_proc(fk, 700);
	procmap_free(pm);
}

static void test_many_sockets(void **state)
{
	struct fake *fk = *state;
	struct procmap *pm = procmap_new(fk->root);
	struct procmap_info pi;
	char target[64];

	assert_non_null(pm);
	/* enough to grow the inode hash a few times */
	fake_proc(fk, 800, "busy", 0, NULL);
	for (int i = 0; i < 3000; i++) {
		snprintf(target, sizeof(target), "socket:[%d]", 1000000 + i);
		fake_fd(fk, 800, 10 + i, target);
	}
	assert_int_equal(procmap_rescan(pm), 0);
	for (int i = 0; i < 3000; i++) {
		assert_int_equal(procmap_lookup(pm, 1000000 + i, &pi), 0);
		assert_int_equal(pi.pid, 800);
	}
	assert_int_equal(procmap_nscans(pm), 1);
	fake_rm_proc(fk, 800);
	procmap_free(pm);
}

static void test_bad_root(void **state)
{
	struct procmap *pm = procmap_new("/nonexistent/flowtop-proc");
	struct procmap_info pi;

	assert_non_null(pm);
	assert_int_equal(procmap_lookup(pm, 1, &pi), -ENOENT);
	/* the failed scan counts for the rate limit too */
	assert_int_equal(procmap_lookup(pm, 1, &pi), -EAGAIN);
	assert_int_equal(procmap_nscans(pm), 1);
	procmap_free(pm);
}

static void test_real_proc(void **state)
{
	struct procmap *pm = procmap_new(NULL);
	struct procmap_info pi;
	char comm[64] = "";
	struct stat st;
	FILE *f;
	int fd;

	assert_non_null(pm);
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);

	f = fopen("/proc/self/comm", "r");
	assert_non_null(f);
	assert_non_null(fgets(comm, sizeof(comm), f));
	fclose(f);
	comm[strcspn(comm, "\n")] = '\0';

	assert_int_equal(procmap_lookup(pm, st.st_ino, &pi), 0);
	assert_int_equal(pi.pid, getpid());
	assert_string_equal(pi.comm, comm);
	assert_int_equal(pi.uid, geteuid());
	close(fd);
	procmap_free(pm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lookup_hits),
		cmocka_unit_test(test_lookup_miss_rate_limited),
		cmocka_unit_test(test_vanished),
		cmocka_unit_test(test_fork_shared_socket),
		cmocka_unit_test(test_cgroup_and_comm),
		cmocka_unit_test(test_many_sockets),
		cmocka_unit_test(test_bad_root),
		cmocka_unit_test(test_real_proc),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
