/* objs: container */
/* test_container.c - container identity from cgroup v2 paths of each runtime's layout. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "container.h"

#define ID "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void expect(const char *path, enum container_kind kind, const char *label)
{
	struct container_ident c;
	char buf[128];

	if (kind == CT_KIND_NONE) {
		assert_int_equal(container_parse(path, &c), -ENOENT);
		return;
	}
	assert_int_equal(container_parse(path, &c), 0);
	assert_int_equal(c.kind, kind);
	assert_string_equal(container_label(buf, sizeof(buf), &c), label);
}

static void test_runtimes(void **state)
{
	(void)state;
	expect("/system.slice/docker-" ID ".scope", CT_KIND_DOCKER, "docker:0123456789ab");
	expect("/docker/" ID, CT_KIND_DOCKER, "docker:0123456789ab");
	expect("/machine.slice/libpod-" ID ".scope", CT_KIND_PODMAN, "podman:0123456789ab");
	expect("/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" ID ".scope",
	       CT_KIND_PODMAN, "podman:0123456789ab");
	expect("/system.slice/containerd.service/cri-containerd-" ID ".scope", CT_KIND_CONTAINERD,
	       "containerd:0123456789ab");
	expect("/kubepods.slice/kubepods-burstable.slice/"
	       "kubepods-burstable-pod12345678_aaaa_bbbb_cccc_1234567890ab.slice/cri-containerd-" ID
	       ".scope",
	       CT_KIND_CONTAINERD, "containerd:0123456789ab");
	expect("/kubepods.slice/kubepods-pod12345678_aaaa_bbbb_cccc_1234567890ab.slice/crio-" ID
	       ".scope",
	       CT_KIND_CRIO, "cri-o:0123456789ab");
	expect("/kubepods/burstable/pod12345678-aaaa-bbbb-cccc-1234567890ab/" ID, CT_KIND_CONTAINERD,
	       "containerd:0123456789ab");
}

static void test_pods_services_users(void **state)
{
	struct container_ident c;

	(void)state;
	expect("/kubepods.slice/kubepods-besteffort.slice/"
	       "kubepods-besteffort-pod12345678_aaaa_bbbb_cccc_1234567890ab.slice",
	       CT_KIND_K8S_POD, "k8s-pod:12345678-aaaa-bbbb-cccc-1234567890ab");
	assert_int_equal(container_parse("/kubepods.slice/kubepods-pod12345678_aaaa_bbbb_cccc_"
					 "1234567890ab.slice/crio-" ID ".scope", &c), 0);
	assert_string_equal(c.pod, "12345678-aaaa-bbbb-cccc-1234567890ab");
	expect("/system.slice/nginx.service", CT_KIND_SERVICE, "nginx.service");
	expect("/user.slice/user-1000.slice/session-3.scope", CT_KIND_USER, "user:1000");
	expect("/user.slice/user-1000.slice/user@1000.service/app.slice/app-firefox.service",
	       CT_KIND_SERVICE, "app-firefox.service");
}

static void test_unknown_never_guessed(void **state)
{
	(void)state;
	expect("/", CT_KIND_NONE, NULL);
	expect("", CT_KIND_NONE, NULL);
	expect(NULL, CT_KIND_NONE, NULL);
	expect("/my/own/layout", CT_KIND_NONE, NULL);
	/* ids that are not 64 hex digits are not container ids */
	expect("/system.slice/docker-1234.scope", CT_KIND_NONE, NULL);
	expect("/docker/" "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdeg",
	       CT_KIND_NONE, NULL);
	expect("/system.slice/docker-" ID ".scopex", CT_KIND_NONE, NULL);
	expect("/user.slice/user-abc.slice", CT_KIND_NONE, NULL);
	expect("/x/.service", CT_KIND_NONE, NULL);
	/* a name with control characters is still parsed as bytes; callers sanitize output */
	expect("/system.slice/a\033[2Jb.service", CT_KIND_SERVICE, "a\033[2Jb.service");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_runtimes),
		cmocka_unit_test(test_pods_services_users),
		cmocka_unit_test(test_unknown_never_guessed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
