/* fuzz-srcs: user/services.c */
/* fuzz-libs: */
/* fuzz-seeds: conf tests/unit/data/services tests/fuzz/corpus/services */
/*
 * fuzz_services.c - libFuzzer target for the service table parsers of user/services.c: the
 * "PORT NAME" conf files and the /etc/services format.
 *
 * services_load() reads files, so the input is written to DIR/tcp.conf and to DIR/services,
 * which FLOWTOP_ETC_SERVICES names. DIR is made once by mkdtemp in $TMPDIR, else in /dev/shm,
 * else in /tmp, and removed at exit (not after a crash). Then names are looked up for every
 * port number written in the input, for every protocol, and the tables are freed (leaks are
 * reported by libFuzzer).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>

#include "services.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[4096];
static char conf_path[4096 + 16];
static char etc_path[4096 + 16];

static void cleanup(void)
{
	unlink(conf_path);
	unlink(etc_path);
	rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	/* a file system in memory when there is one: the files are rewritten on every input */
	const char *tmp = getenv("TMPDIR");

	if (!tmp || !*tmp)
		tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	snprintf(dir, sizeof(dir), "%s/fuzz-services.XXXXXX", tmp);
	if (!mkdtemp(dir)) {
		perror("fuzz_services: mkdtemp");
		exit(1);
	}
	snprintf(conf_path, sizeof(conf_path), "%s/tcp.conf", dir);
	snprintf(etc_path, sizeof(etc_path), "%s/services", dir);
	/* services.c reads it with secure_getenv(): fine, the fuzzer is not setuid */
	setenv("FLOWTOP_ETC_SERVICES", etc_path, 1);
	atexit(cleanup);
	return 0;
}

static void write_file(const char *path, const uint8_t *data, size_t size)
{
	FILE *f = fopen(path, "wb");

	if (!f || fwrite(data, 1, size, f) != size || fclose(f)) {
		perror(path);
		abort();
	}
}

/* Warnings go to a terminal: services.c promises printable ASCII only. */
static void warn(const char *msg)
{
	for (const char *p = msg; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
			abort();
}

/* A name from the table: 1-31 printable ASCII bytes, no spaces (services.c checks them). */
static void check_name(const char *name)
{
	size_t n;

	if (!name)
		return;
	n = strlen(name);
	if (n == 0 || n > 31)
		abort();
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)name[i] < 0x21 || (unsigned char)name[i] > 0x7e)
			abort();
}

static void lookup(unsigned long port)
{
	static const __u8 protos[] = { IPPROTO_TCP, IPPROTO_UDP, IPPROTO_UDPLITE, IPPROTO_SCTP,
				       IPPROTO_DCCP, IPPROTO_ICMP };
	struct flow f;
	__u16 p;

	for (size_t i = 0; i < sizeof(protos); i++) {
		check_name(service_name(protos[i], (__u16)port));
		memset(&f, 0, sizeof(f));
		f.orig.proto = protos[i];
		f.orig.sport = (__u16)port;
		f.orig.dport = (__u16)(port * 7 + 1);
		check_name(flow_service(&f, &p));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *dirs[] = { dir, NULL };
	unsigned long v = 0;
	bool digits = false;
	int n;

	write_file(conf_path, data, size);
	write_file(etc_path, data, size);
	n = services_load(dirs, warn);
	if (n < 0 || n > 5 * 65536)
		abort();

	/* every decimal number in the input is a port some line may have named */
	for (size_t i = 0; i <= size; i++) {
		if (i < size && data[i] >= '0' && data[i] <= '9') {
			v = v > 65535 ? v : v * 10 + (data[i] - '0');
			digits = true;
		} else if (digits) {
			lookup(v);
			v = 0;
			digits = false;
		}
	}
	lookup(0);
	lookup(65535);
	services_free();
	if (service_name(IPPROTO_TCP, 22))
		abort();
	return 0;
}
