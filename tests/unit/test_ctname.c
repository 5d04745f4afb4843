/* objs: ctname container */
/* test_ctname.c - container names from each runtime's state files, under a temporary root. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "container.h"
#include "ctname.h"

#define ID1 "1111111111111111111111111111111111111111111111111111111111111111"
#define ID2 "2222222222222222222222222222222222222222222222222222222222222222"
#define ID3 "3333333333333333333333333333333333333333333333333333333333333333"
#define ID4 "4444444444444444444444444444444444444444444444444444444444444444"
#define ID5 "5555555555555555555555555555555555555555555555555555555555555555"
#define POD "12345678-aaaa-bbbb-cccc-1234567890ab"

static char root[256];

static void put(const char *rel, const char *text)
{
	char path[512], cmd[600];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	snprintf(cmd, sizeof(cmd), "mkdir -p \"$(dirname '%s')\"", path);
	assert_int_equal(system(cmd), 0);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int setup(void **state)
{
	(void)state;
	snprintf(root, sizeof(root), "/tmp/ft-ctname-XXXXXX");
	if (!mkdtemp(root))
		return -1;
	container_name_root(root);
	return 0;
}

static int teardown(void **state)
{
	char cmd[300];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	container_name_root(NULL);
	return system(cmd) == 0 ? 0 : -1;
}

static const char *name_of(const char *path)
{
	struct container_ident c;

	assert_int_equal(container_parse(path, &c), 0);
	return container_name(&c);
}

static void test_docker(void **state)
{
	(void)state;
	/* a volume's "Name" and a label come first: only "/name" is the container's */
	put("var/lib/docker/containers/" ID1 "/config.v2.json",
	    "{\"State\":{\"Running\":true},\"Config\":{\"Labels\":{\"Name\":\"label\"}},"
	    "\"MountPoints\":{\"/d\":{\"Name\":\"vol\"}},\"Name\" : \"/web-1\",\"Driver\":\"overlay2\"}");
	assert_string_equal(name_of("/system.slice/docker-" ID1 ".scope"), "web-1");
	assert_string_equal(name_of("/docker/" ID1), "web-1");
}

static void test_podman(void **state)
{
	(void)state;
	put("var/lib/containers/storage/overlay-containers/containers.json",
	    "[{\"id\":\"" ID3 "\",\"names\":[\"other\"]},"
	    "{\"id\":\"" ID2 "\",\"names\":[\"db\",\"db-alias\"],\"image\":\"x\"},"
	    "{\"id\":\"" ID5 "\",\"image\":\"no names\"},{\"id\":\"" ID4 "\",\"names\":[\"next\"]}]");
	assert_string_equal(name_of("/machine.slice/libpod-" ID2 ".scope"), "db");
	/* a record without names must not take the next record's */
	assert_null(name_of("/machine.slice/libpod-" ID5 ".scope"));
	/* the list is kept between lookups and read again when it changes */
	put("var/lib/containers/storage/overlay-containers/containers.json",
	    "[{\"id\":\"" ID1 "\",\"names\":[\"cache-check\"]}]");
	assert_string_equal(name_of("/machine.slice/libpod-" ID1 ".scope"), "cache-check");
}

static void test_containerd_and_pod(void **state)
{
	(void)state;
	put("run/containerd/io.containerd.runtime.v2.task/k8s.io/" ID3 "/config.json",
	    "{\"ociVersion\":\"1.1.0\",\"hostname\":\"h\",\"annotations\":{"
	    "\"io.kubernetes.cri.container-name\":\"app\","
	    "\"io.kubernetes.cri.sandbox-name\":\"shop-7d9\"}}");
	assert_string_equal(name_of("/kubepods.slice/kubepods-besteffort.slice/"
				    "kubepods-besteffort-pod12345678_aaaa_bbbb_cccc_1234567890ab.slice/"
				    "cri-containerd-" ID3 ".scope"), "shop-7d9/app");
	/* plain containerd (no Kubernetes): the hostname */
	put("run/containerd/io.containerd.runtime.v2.task/default/" ID4 "/config.json",
	    "{\"hostname\":\"builder\"}");
	assert_string_equal(name_of("/system.slice/containerd.service/cri-containerd-" ID4 ".scope"),
			    "builder");
	/* a pod without a container id: the kubelet's log directory */
	put("var/log/pods/default_shop-7d9_" POD "/app/0.log", "x");
	assert_string_equal(name_of("/kubepods/besteffort/pod" POD), "default/shop-7d9");
}

static void test_crio(void **state)
{
	(void)state;
	put("var/lib/containers/storage/overlay-containers/" ID5 "/userdata/config.json",
	    "{\"annotations\":{\"io.kubernetes.pod.name\":\"api\","
	    "\"io.kubernetes.container.name\":\"srv\"}}");
	assert_string_equal(name_of("/kubepods.slice/crio-" ID5 ".scope"), "api/srv");
}

static void test_unknown(void **state)
{
	(void)state;
	/* no state: NULL (the caller shows the short id); services are named already */
	assert_null(name_of("/system.slice/docker-" ID4 ".scope"));
	assert_null(name_of("/system.slice/nginx.service"));
}

static void test_json_strings(void **state)
{
	char v[16];
	const char *t;

	(void)state;
	t = "{\"a\":1,\"k\":\"x\\\"y\\u0041\\n\\u001b[2J\"}";
	assert_true(json_string_after(t, strlen(t), 0, "k", v, sizeof(v)) > 0);
	/* escapes decoded, control characters neutralised */
	assert_string_equal(v, "x\"yA??[2J");
	/* truncated string, truncated escape, key without value */
	t = "{\"k\":\"abc";
	assert_int_equal(json_string_after(t, strlen(t), 0, "k", v, sizeof(v)), -1);
	t = "{\"k\":\"ab\\u00";
	assert_int_equal(json_string_after(t, strlen(t), 0, "k", v, sizeof(v)), -1);
	t = "{\"k\"";
	assert_int_equal(json_string_after(t, strlen(t), 0, "k", v, sizeof(v)), -1);
	/* a non-string value is skipped for the next one; long values are cut */
	t = "{\"k\":{\"k\":\"0123456789abcdefghij\"}}";
	assert_true(json_string_after(t, strlen(t), 0, "k", v, sizeof(v)) > 0);
	assert_string_equal(v, "0123456789abcde");
	/* raw bytes outside ASCII become '?' */
	t = "{\"k\":\"\xc3\xa9t\xe9\"}";
	assert_true(json_string_after(t, strlen(t), 0, "k", v, sizeof(v)) > 0);
	assert_string_equal(v, "??t?");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_docker),
		cmocka_unit_test(test_podman),
		cmocka_unit_test(test_containerd_and_pod),
		cmocka_unit_test(test_crio),
		cmocka_unit_test(test_unknown),
		cmocka_unit_test(test_json_strings),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
