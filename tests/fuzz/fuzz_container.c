/* fuzz-srcs: user/container.c user/ctname.c */
/* fuzz-libs: */
/* fuzz-seeds: tests/fuzz/corpus/container */
/*
 * fuzz_container.c - libFuzzer target for what flowtop reads about containers: cgroup v2
 * paths (container_parse, container_label) and the JSON state files of container runtimes
 * (json_string_after, the scanner that takes names out of them).
 *
 * The first byte picks the part: even = the rest is a cgroup path (cut at the first NUL),
 * odd = the rest is a JSON text searched for every key the runtimes' files are read for,
 * each value followed to the end of the input as the name readers do.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "container.h"
#include "ctname.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const keys[] = {
	"Name", "names", "id", "hostname", "io.kubernetes.cri.container-name",
	"io.kubernetes.cri.sandbox-name", "io.kubernetes.pod.name", "io.kubernetes.container.name",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	if (!(data[0] & 1)) {
		char *path = malloc(size);
		struct container_ident c;
		char label[128];

		if (!path)
			return 0;
		memcpy(path, data + 1, size - 1);
		path[size - 1] = 0;
		if (container_parse(path, &c) == 0) {
			container_label(label, sizeof(label), &c);
			if (!memchr(label, 0, sizeof(label)) || !container_kind_name(c.kind))
				abort();
		}
		free(path);
		return 0;
	}
	/* exactly the input's bytes, no terminator: reads past the end are caught */
	{
		const char *buf = (const char *)data + 1;
		size_t len = size - 1;
		char v[64];

		for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
			long at = 0;
			int guard = 0;

			while ((at = json_string_after(buf, len, (size_t)at, keys[k], v, sizeof(v))) > 0) {
				if ((size_t)at > len || strlen(v) >= sizeof(v))
					abort();
				for (const char *p = v; *p; p++)
					if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
						abort();	/* names reach the terminal */
				if (++guard > (int)len + 1)
					abort();	/* must advance */
			}
		}
	}
	return 0;
}
