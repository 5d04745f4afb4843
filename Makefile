# flowtop - top-like view of netfilter conntrack flows.
# make            build build/flowtop (installs missing build dependencies first)
# make run        build and run flowtop (needs root)
# make test       unit tests, then integration tests (root, network namespaces)
# make install    install into $(DESTDIR)$(PREFIX)

PREFIX ?= /usr/local
SBINDIR ?= $(PREFIX)/sbin
DATADIR ?= $(PREFIX)/share/flowtop
MANDIR ?= $(PREFIX)/share/man
SYSCONFDIR ?= /etc

BUILD := build
CC ?= cc
CFLAGS ?= -O2 -g
PKG_CONFIG ?= pkg-config
PKGS := libmnl ncursesw libbpf libmaxminddb libcares
CLANG ?= clang
BPFTOOL ?= bpftool
ARCH := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/' -e 's/ppc64le/powerpc/' \
	-e 's/riscv64/riscv/' -e 's/s390x/s390/')

# Truncating snprintf is used on purpose (fixed-width screen cells).
WARN := -Wall -Wextra -Werror -Wno-unused-parameter -Wno-format-truncation
CPPFLAGS += -Iinclude -Iuser -I$(BUILD) -D_GNU_SOURCE \
	-DFLOWTOP_DATADIR='"$(DATADIR)"' -DFLOWTOP_SYSCONFDIR='"$(SYSCONFDIR)/flowtop"'
DEPFLAGS = -MMD -MP

ifeq ($(V),1)
Q :=
else
Q := @
endif

SRCS := $(wildcard user/*.c)
OBJS := $(SRCS:user/%.c=$(BUILD)/user/%.o)
LIBOBJS := $(filter-out $(BUILD)/user/main.o,$(OBJS))
BPF_SRCS := $(wildcard bpf/*.bpf.c)
SKELS := $(BPF_SRCS:bpf/%.bpf.c=$(BUILD)/%.skel.h)
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)

.DELETE_ON_ERROR:
.PHONY: all deps run test test-unit test-integration valgrind test-kernels fuzz install uninstall clean \
	asan bench

all: $(BUILD)/flowtop

# Missing libraries are installed (Debian/Ubuntu) or named, once.
$(BUILD)/.deps-ok: tools/deps.sh
	$(Q)mkdir -p $(BUILD)
	$(Q)tools/deps.sh build
	$(Q)touch $@

deps: $(BUILD)/.deps-ok

LIBS = $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null || echo -lmnl -lncursesw -ltinfo -lbpf -lmaxminddb -lcares)
PKG_CFLAGS = $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)

# BPF: CO-RE objects against the committed vmlinux.h, skeletons embedded in the binary.
$(BUILD)/bpf/%.bpf.o: bpf/%.bpf.c vmlinux/vmlinux.h | $(BUILD)/.deps-ok
	@mkdir -p $(@D)
	@$(if $(Q),echo "  BPF     $<")
	$(Q)$(CLANG) -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -Ivmlinux -Iinclude -Ibpf \
		-Wall -Werror -MMD -MP -c $< -o $(@:.o=.tmp.o)
	$(Q)$(BPFTOOL) gen object $@ $(@:.o=.tmp.o)
	@rm -f $(@:.o=.tmp.o)

$(BUILD)/%.skel.h: $(BUILD)/bpf/%.bpf.o
	@$(if $(Q),echo "  SKEL    $@")
	$(Q)$(BPFTOOL) gen skeleton $< name $*_bpf > $@

# Keep the BPF object (not an intermediate to delete): the skeleton embeds it.
.SECONDARY: $(BPF_SRCS:bpf/%.bpf.c=$(BUILD)/bpf/%.bpf.o)

# Objects that include a skeleton wait for it.
$(BUILD)/user/attr_ebpf.o: $(BUILD)/attr.skel.h
$(BUILD)/user/dnscap.o: $(BUILD)/dns.skel.h

$(BUILD)/user/%.o: user/%.c | $(BUILD)/.deps-ok
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CPPFLAGS) $(PKG_CFLAGS) $(CFLAGS) $(WARN) $(DEPFLAGS) -c $< -o $@

$(BUILD)/flowtop: $(OBJS)
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LIBS) -lm

# Each unit test names the modules it links in a line "/* objs: a b c */".
test_objs = $(patsubst %,$(BUILD)/user/%.o,$(shell sed -n 's|^/\* objs: \(.*\) \*/$$|\1|p' $(1)))

.SECONDEXPANSION:
$(BUILD)/tests/%: tests/unit/%.c $$(call test_objs,tests/unit/%.c) | $(BUILD)/.deps-ok
	@mkdir -p $(@D)
	@$(if $(Q),echo "  TEST    $@")
	$(Q)$(CC) $(CPPFLAGS) $(PKG_CFLAGS) $(CFLAGS) $(WARN) $(DEPFLAGS) -o $@ $< \
		$(call test_objs,$<) $(LIBS) -lcmocka -lm

run: $(BUILD)/flowtop
	$(BUILD)/flowtop $(ARGS)

test: $(BUILD)/flowtop $(BUILD)/flowgen $(UNIT_BINS)
	$(Q)tests/run-all $(BUILD)

test-unit: $(UNIT_BINS)
	$(Q)tests/run-all --unit $(BUILD)

# Every unit test under valgrind's memcheck: no invalid access, no leak.
valgrind: $(UNIT_BINS)
	$(Q)command -v valgrind >/dev/null || { echo "SKIP valgrind: not installed"; exit 0; }; \
	fail=0; for t in $(UNIT_BINS); do \
		if valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect \
			$$t >$$t.valgrind.log 2>&1; then echo "PASS valgrind $$(basename $$t)"; \
		else echo "FAIL valgrind $$(basename $$t): see $$t.valgrind.log"; fail=1; fi; \
	done; exit $$fail

test-integration: $(BUILD)/flowtop $(BUILD)/flowgen
	$(Q)tests/run-all --integration $(BUILD)

$(BUILD)/flowgen: tools/flowgen.c | $(BUILD)/.deps-ok
	$(Q)$(CC) $(CFLAGS) $(WARN) -o $@ $<

# The same attribution scenario on Debian's 6.1 and 6.12 kernels under QEMU and on this one.
test-kernels: $(BUILD)/flowtop
	$(Q)tools/kernel-matrix $(BUILD)

# libFuzzer targets for every parser of outside input (clang + libclang-rt); bounded in time.
FUZZ_SECONDS ?= 20
fuzz:
	$(Q)tools/fuzz $(BUILD) $(FUZZ_SECONDS)

# Benchmarks print each figure beside its baseline from the same run.
# flowtop beside the original flowtop 0.6.8 and conntrack(8), then the eBPF cost (bench-attr)
bench: $(BUILD)/flowtop $(BUILD)/flowgen
	@sh tools/deps.sh bench
	tools/bench-compare $(BUILD)

asan:
	$(MAKE) BUILD=build/asan CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer" \
		LDFLAGS="-fsanitize=address,undefined" test

install: $(BUILD)/flowtop
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(DATADIR) $(DESTDIR)$(MANDIR)/man8
	install -m 0755 $(BUILD)/flowtop $(DESTDIR)$(SBINDIR)/flowtop
	install -m 0644 conf/*.conf $(DESTDIR)$(DATADIR)/
	install -m 0644 flowtop.8 $(DESTDIR)$(MANDIR)/man8/flowtop.8

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/flowtop $(DESTDIR)$(MANDIR)/man8/flowtop.8
	rm -rf $(DESTDIR)$(DATADIR)

clean:
	rm -rf $(BUILD)

-include $(OBJS:.o=.d) $(UNIT_BINS:=.d) $(BPF_SRCS:bpf/%.bpf.c=$(BUILD)/bpf/%.bpf.d)
