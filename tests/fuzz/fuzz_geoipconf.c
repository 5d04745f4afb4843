/* fuzz-srcs: user/geoip.c user/fmt.c */
/* fuzz-libs: -lmaxminddb */
/* fuzz-seeds: conf/geoip.conf tests/fuzz/corpus/geoipconf */
/*
 * fuzz_geoipconf.c - libFuzzer target for the GeoIP database list (geoip.conf): the input is
 * written to DIR/geoip.conf and read by geoip_open(). Every line names a database path,
 * relative to DIR unless absolute; nothing may crash, and every warning (they go to a
 * terminal) must be free of control bytes. DIR holds one file that is not a database, so
 * the "not a MaxMind DB" path is taken too.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "geoip.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[4096], conf[4200], junk[4200];

static void cleanup(void)
{
	unlink(conf);
	unlink(junk);
	rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *tmp = getenv("TMPDIR");
	FILE *f;

	(void)argc;
	(void)argv;
	if (!tmp || !*tmp)
		tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	snprintf(dir, sizeof(dir), "%s/fuzz-geoipconf.XXXXXX", tmp);
	if (!mkdtemp(dir)) {
		perror("fuzz_geoipconf: mkdtemp");
		exit(1);
	}
	snprintf(conf, sizeof(conf), "%s/geoip.conf", dir);
	snprintf(junk, sizeof(junk), "%s/junk.mmdb", dir);
	f = fopen(junk, "w");
	if (f) {
		fputs("not a database\n", f);
		fclose(f);
	}
	atexit(cleanup);
	return 0;
}

static void warn(const char *msg)
{
	for (const char *p = msg; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p == 0x7f)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FILE *f = fopen(conf, "wb");

	if (!f || fwrite(data, 1, size, f) != size || fclose(f)) {
		perror(conf);
		abort();
	}
	geoip_open(NULL, conf, warn);
	geoip_close();
	return 0;
}
