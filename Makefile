# coutil build. `make` builds build/lib/coutil.so and build/lib/memory.so.
# The modules are never linked against liblua: the interpreter provides Lua.

LUA      ?= lua5.4
PKGS     := lua5.4 libuv
CC       ?= cc
BUILD    ?= build
PREFIX   ?= /usr/local
SANFLAGS ?=
# -O3 and link-time optimisation: the socket hot path is a chain of small
# functions across files (checks, await core); ~3% fewer instructions.
OPT      ?= -O3 -g -flto=auto
# -fno-plt: hot paths are chains of Lua API calls; calling them through
# the GOT instead of PLT stubs saves a jump each (~5% of an event hand-off).
CFLAGS_ALL = -std=c11 -D_GNU_SOURCE -fPIC -fvisibility=hidden -fno-plt \
             -Wall -Wextra -Wno-unused-parameter $(OPT) $(SANFLAGS) \
             $(shell pkg-config --cflags $(PKGS)) $(CFLAGS)
LIBS     := $(shell pkg-config --libs libuv) -lpthread

MEMORY_SRC := src/memory.c
CORE_SRC   := $(filter-out $(MEMORY_SRC),$(wildcard src/*.c))
CORE_OBJ   := $(CORE_SRC:src/%.c=$(BUILD)/obj/%.o)
MEMORY_OBJ := $(BUILD)/obj/memory.o
HEADERS    := $(wildcard src/*.h)

TSAN_TESTS ?= $(wildcard test/threads*.lua test/channel*.lua test/coroutine*.lua test/state*.lua)

.PHONY: all asan tsan check check-asan check-tsan check-torture check-gc \
        check-valgrind check-soak check-allocfail check-allocfail-asan \
        check-faults check-faults-asan \
        check-conformance bench demo install clean deps fuzz check-fuzz
all: $(BUILD)/lib/coutil.so $(BUILD)/lib/memory.so $(BUILD)/bin/coutil

# The coutil command, set to load the modules of this build.
$(BUILD)/bin/coutil: bin/coutil
	mkdir -p $(BUILD)/bin
	sed 's|^local LIBDIR = nil|local LIBDIR = "$(abspath $(BUILD)/lib)"|' $< >$@
	chmod +x $@

$(BUILD)/obj/%.o: src/%.c $(HEADERS) | $(BUILD)/obj
	$(CC) $(CFLAGS_ALL) -c $< -o $@

# coutil.so also carries the memory accessors that socket/file reads use.
# -z nodelete: the library keeps process-wide state that outlives the
# state that loaded it (channels, tasks of closed pools still queued on
# them, threads that are just leaving); dlclose must not unmap it.
$(BUILD)/lib/coutil.so: $(CORE_OBJ) $(MEMORY_OBJ) | $(BUILD)/lib
	$(CC) -shared $(OPT) $(SANFLAGS) -Wl,-z,nodelete -o $@ $^ $(LIBS)

$(BUILD)/lib/memory.so: $(MEMORY_OBJ) | $(BUILD)/lib
	$(CC) -shared $(OPT) $(SANFLAGS) -o $@ $^

$(BUILD)/obj $(BUILD)/lib:
	mkdir -p $@

# Installs the Debian packages that building and testing need (root only).
deps:
	@sh .ci/deps.sh

check: deps all
	$(LUA) test/run.lua $(BUILD)/lib $(TESTS)

# Sanitizer builds: `make asan` / `make tsan` only build; the check-
# targets also run the suite (TESTS= narrows it to some files).
asan:
	$(MAKE) BUILD=build-asan OPT="-O1 -g -fno-omit-frame-pointer" \
	  SANFLAGS="-fsanitize=address,undefined -fno-sanitize-recover=undefined" all

tsan:
	$(MAKE) BUILD=build-tsan OPT="-O1 -g" SANFLAGS="-fsanitize=thread" all

check-asan: asan
	COUTIL_SANITIZER=asan $(LUA) test/run.lua build-asan/lib $(TESTS)

check-tsan: tsan
	COUTIL_SANITIZER=tsan $(LUA) test/run.lua build-tsan/lib \
	  $(or $(TESTS),$(TSAN_TESTS))

check-torture:
	sh test/torture.sh

# libFuzzer targets (test/fuzz/, docs/building.md "Fuzzing"): each
# test/fuzz/fuzz_<name>.c is an executable linked with liblua5.4 and with
# every object of the library compiled by clang-14 for fuzzing (coverage
# hooks, ASan, UBSan) into build-fuzz/obj. `make check-fuzz` runs each
# target for FUZZ_SECONDS on a copy of its corpus, its regression inputs
# (test/fuzz/regress/<name>/) first; FUZZ_TARGETS= narrows it.
FUZZ_CC      ?= clang-14
FUZZ_BUILD   := build-fuzz
FUZZ_SECONDS ?= 10
FUZZ_TARGETS ?= $(patsubst test/fuzz/fuzz_%.c,%,$(wildcard test/fuzz/fuzz_*.c))
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_CFLAGS  := -std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer \
                -Wall -Wextra -Wno-unused-parameter $(FUZZ_SAN) \
                $(shell pkg-config --cflags $(PKGS))
FUZZ_OBJ     := $(CORE_SRC:src/%.c=$(FUZZ_BUILD)/obj/%.o) \
                $(FUZZ_BUILD)/obj/memory.o
FUZZ_LIBS    := $(shell pkg-config --libs lua5.4 libuv) -lpthread -lm -ldl

fuzz: $(FUZZ_TARGETS:%=$(FUZZ_BUILD)/fuzz_%)

# objects are kept between builds (else make drops them as intermediate)
.SECONDARY: $(FUZZ_OBJ)

$(FUZZ_BUILD)/obj/%.o: src/%.c $(HEADERS) | $(FUZZ_BUILD)/obj
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(FUZZ_BUILD)/fuzz_%: test/fuzz/fuzz_%.c test/fuzz/fuzz.h $(FUZZ_OBJ)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< \
	  $(FUZZ_OBJ) $(FUZZ_LIBS)

$(FUZZ_BUILD)/obj:
	mkdir -p $@

check-fuzz: fuzz
	FUZZ_SECONDS=$(FUZZ_SECONDS) sh test/fuzz/run.sh $(FUZZ_TARGETS)

# The suite and the conformance files under valgrind's memcheck
# (test/vglua): memory errors and definite leaks fail. Its own build, so
# that rebuilding build/ meanwhile cannot disturb it; one operation record
# per slab (CU_SLAB_BYTES=0) and no region allocator for independent
# states (COUTIL_ARENA=off), so that memcheck sees every record and every
# Lua block as an allocation of its own.
# Left out: signal.lua (valgrind itself aborts on signals that arrive
# while its thread is not in a system call: m_signals.c assertion),
# launcher.lua and timeout.lua (they time prompts and timeouts against the
# wall clock, which valgrind's slowness puts out of their margins),
# rockspec.lua (it builds with luarocks and runs nothing of ours under
# valgrind); of the conformance files, thread.lua (its busy-waiting loops
# take minutes under valgrind, more than CI's budget; ThreadSanitizer and
# the other runs cover it).
VG_SKIP  := test/signal.lua test/launcher.lua test/timeout.lua \
            test/rockspec.lua
check-valgrind:
	$(MAKE) BUILD=build-vg CFLAGS="-DCU_SLAB_BYTES=0" all build-vg/sigdefault
	COUTIL_ARENA=off COUTIL_LUA=$(abspath test/vglua) COUTIL_TEST_TIMEOUT=900 \
	  COUTIL_JOBS=$${COUTIL_JOBS:-2} COUTIL_FUZZ_SCALE=$${COUTIL_FUZZ_SCALE:-0.1} \
	  COUTIL_SKIP="$(VG_SKIP)" $(LUA) test/run.lua build-vg/lib $(TESTS)
	COUTIL_ARENA=off IMPL_CPATH='build-vg/lib/?.so' LUA=$(abspath test/vglua) \
	  build-vg/sigdefault sh test/conformance/run.sh -s thread

# The suite again under the collector modes of test/gcstress.lua, on the
# ASan build: a collection before and after every coutil call, then the
# generational collector, then the incremental one with pause 0.
check-gc: asan
	COUTIL_GC=calls COUTIL_FUZZ_SCALE=$${COUTIL_FUZZ_SCALE:-0.25} \
	  COUTIL_SANITIZER=asan $(LUA) test/run.lua build-asan/lib $(TESTS)
	COUTIL_GC=generational COUTIL_SANITIZER=asan \
	  $(LUA) test/run.lua build-asan/lib $(TESTS)
	COUTIL_GC=incremental COUTIL_SANITIZER=asan \
	  $(LUA) test/run.lua build-asan/lib $(TESTS)

# The soak test (test/soak/soak.lua, not part of `check`): SOAK_CLIENTS
# concurrent loopback TCP clients of an echo server for SOAK_SECONDS, every
# byte checked, then the server's descriptors and resident memory checked.
# Run directly rather than through test/run.lua, so its lines show as they
# come; each process needs a descriptor per client.
# The server runs with test/c/trim.c preloaded (its RSS after malloc_trim).
SOAK_SECONDS ?= 60
SOAK_CLIENTS ?= 1000
$(BUILD)/trim.so: test/c/trim.c | $(BUILD)/lib
	$(CC) -O2 -g -Wall -Wextra -shared -fPIC -o $@ $< -ldl

check-soak: deps all $(BUILD)/trim.so
	ulimit -n 8192 2>/dev/null || ulimit -n $$(ulimit -Hn); \
	  SOAK_SECONDS=$(SOAK_SECONDS) SOAK_CLIENTS=$(SOAK_CLIENTS) \
	  SOAK_SERVER_PRELOAD=$(abspath $(BUILD)/trim.so) \
	  LUA_CPATH='$(BUILD)/lib/?.so' LUA_PATH='test/?.lua;;' \
	  timeout -k 5 $$(($(SOAK_SECONDS) + 360)) $(LUA) test/soak/soak.lua
# Allocation-failure sweeps (test/allocfail.lua, docs/building.md): the host
# test/c/allocfail.c is an executable linked with liblua5.4 and libuv; the
# ASan one is instrumented itself and loads the ASan build, so LeakSanitizer
# checks every step. SCENARIOS= narrows the sweep (load, tcp, file, ...).
ASAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=undefined
HOST_LIBS   = $(shell pkg-config --cflags --libs lua5.4 libuv)

$(BUILD)/allocfail: test/c/allocfail.c | $(BUILD)/lib
	$(CC) -O1 -g -fno-omit-frame-pointer -Wall -Wextra $(SANFLAGS) -o $@ $< \
	  $(HOST_LIBS)

check-allocfail: deps all $(BUILD)/allocfail
	$(LUA) test/allocfail.lua $(BUILD)/allocfail $(BUILD)/lib $(SCENARIOS)

# System-call faults (test/faults.lua): the shim test/c/faults.c is
# preloaded into a child interpreter, after the sanitizer runtime for the
# ASan run. FAULT_SEEDS= the seeds (COUTIL_FAULTS_SEEDS), default 1 to 5.
FAULT_SEEDS ?= 1 2 3 4 5

$(BUILD)/faults.so: test/c/faults.c | $(BUILD)/lib
	$(CC) -O2 -g -Wall -Wextra -shared -fPIC -o $@ $< -ldl

check-faults: deps all $(BUILD)/faults.so
	COUTIL_FAULTS_SEEDS="$(FAULT_SEEDS)" \
	  $(LUA) test/faults.lua $(BUILD)/faults.so $(BUILD)/lib

check-faults-asan: asan build-asan/faults.so
	COUTIL_SANITIZER=asan COUTIL_FAULTS_SEEDS="$(FAULT_SEEDS)" \
	  $(LUA) test/faults.lua build-asan/faults.so build-asan/lib

# (in the sub-make of `asan`, $(BUILD)/faults.so is this very target)
ifneq ($(BUILD),build-asan)
build-asan/faults.so: test/c/faults.c
	mkdir -p build-asan
	$(CC) -O2 -g -Wall -Wextra -shared -fPIC -o $@ $< -ldl
endif

check-allocfail-asan: asan
	$(MAKE) BUILD=build-asan SANFLAGS="$(ASAN_FLAGS)" build-asan/allocfail
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  $(LUA) test/allocfail.lua build-asan/allocfail build-asan/lib $(SCENARIOS)

# The original coutil's test suite (../shared/conformance) on the files
# test/conformance/files lists; SUITE_TTY=on runs them on a terminal.
# Through sigdefault: make's recipes start with signals 32 and 33 ignored
# (glibc's posix_spawn), and the suite kills a child with signal 32.
check-conformance: deps all $(BUILD)/sigdefault
	$(BUILD)/sigdefault sh test/conformance/run.sh

$(BUILD)/sigdefault: test/c/sigdefault.c | $(BUILD)/lib
	$(CC) -O2 -Wall -o $@ $<

bench: deps all
	sh bench/run.sh $(BUILD)/lib

# The tour of examples/tour.lua (one process, a few seconds); the other
# programs of examples/ run the same way: build/bin/coutil examples/x.lua
demo: deps all
	$(BUILD)/bin/coutil examples/tour.lua

install: all
	mkdir -p $(DESTDIR)$(PREFIX)/lib/lua/5.4 $(DESTDIR)$(PREFIX)/share/lua/5.4 \
	  $(DESTDIR)$(PREFIX)/bin
	cp $(BUILD)/lib/coutil.so $(BUILD)/lib/memory.so $(DESTDIR)$(PREFIX)/lib/lua/5.4/
	sed 's|^local LIBDIR = nil|local LIBDIR = "$(PREFIX)/lib/lua/5.4"|' \
	  bin/coutil >$(DESTDIR)$(PREFIX)/bin/coutil
	chmod 755 $(DESTDIR)$(PREFIX)/bin/coutil
	# LuaLS annotations (types/README.md): never under share/lua, where
	# require would find them before the C modules.
	mkdir -p $(DESTDIR)$(PREFIX)/share/coutil/types
	cp -R types/. $(DESTDIR)$(PREFIX)/share/coutil/types/

clean:
	rm -rf build build-asan build-tsan build-torture build-vg build-fuzz
