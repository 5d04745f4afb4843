/* caps.c - capabilities: does this process hold one; keep only those needed to run. */
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include "caps.h"

#define CAP_TOP 64

bool have_cap(int cap)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2];

	memset(data, 0, sizeof(data));
	if (cap < 0 || cap >= 64 || syscall(SYS_capget, &hdr, data) < 0)
		return geteuid() == 0;
	return data[cap / 32].effective & (1u << (cap % 32));
}

uint64_t caps_effective(void)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2];

	memset(data, 0, sizeof(data));
	if (syscall(SYS_capget, &hdr, data) < 0)
		return 0;
	return (uint64_t)data[1].effective << 32 | data[0].effective;
}

int caps_restrict(uint64_t keep, uid_t uid, gid_t gid, char *err, size_t errlen)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2];
	uint64_t have;

	memset(data, 0, sizeof(data));
	if (syscall(SYS_capget, &hdr, data) < 0) {
		snprintf(err, errlen, "capget: %s", strerror(errno));
		return -errno;
	}
	have = (uint64_t)data[1].permitted << 32 | data[0].permitted;
	keep &= have;
	/* the bounding set first: it needs CAP_SETPCAP, which goes below */
	for (int c = 0; c < CAP_TOP; c++) {
		if ((keep & CAP_BIT(c)) || prctl(PR_CAPBSET_READ, c, 0, 0, 0) != 1)
			continue;
		if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL) {
			snprintf(err, errlen, "cannot drop capability %d from the bounding set: %s", c,
				 strerror(errno));
			return -errno;
		}
	}
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	if (uid != (uid_t)-1) {
		/* keep the permitted set across the uid change; effective is cleared */
		if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0 || setgroups(0, NULL) < 0 ||
		    setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0) {
			snprintf(err, errlen, "cannot become uid %u gid %u: %s", (unsigned)uid,
				 (unsigned)gid, strerror(errno));
			return -errno;
		}
		prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
	}
	memset(data, 0, sizeof(data));
	data[0].effective = data[0].permitted = (uint32_t)keep;
	data[1].effective = data[1].permitted = (uint32_t)(keep >> 32);
	if (syscall(SYS_capset, &hdr, data) < 0) {
		snprintf(err, errlen, "capset: %s", strerror(errno));
		return -errno;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		snprintf(err, errlen, "no_new_privs: %s", strerror(errno));
		return -errno;
	}
	return 0;
}

char *caps_names(uint64_t mask, char *buf, size_t len)
{
	static const struct {
		int cap;
		const char *name;
	} names[] = {
		{ CAP_NET_ADMIN, "cap_net_admin" }, { CAP_SYS_ADMIN, "cap_sys_admin" },
		{ CAP_SYS_PTRACE, "cap_sys_ptrace" }, { CAP_DAC_READ_SEARCH, "cap_dac_read_search" },
		{ CAP_BPF, "cap_bpf" }, { CAP_PERFMON, "cap_perfmon" },
	};
	size_t o = 0;

	if (len)
		buf[0] = 0;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!(mask & CAP_BIT(names[i].cap)))
			continue;
		o += (size_t)snprintf(buf + o, o < len ? len - o : 0, "%s%s", o ? "," : "",
				      names[i].name);
	}
	return buf;
}
