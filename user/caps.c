/* caps.c - does this process hold a capability (effective set)? */
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>

#include "caps.h"

bool have_cap(int cap)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2];

	memset(data, 0, sizeof(data));
	if (cap < 0 || cap >= 64 || syscall(SYS_capget, &hdr, data) < 0)
		return geteuid() == 0;
	return data[cap / 32].effective & (1u << (cap % 32));
}
