# bgservice: bgserviced(8), the daemon, and bgservice(1), its client.
#
#   make            build build/bgserviced and build/bgservice
#   make run        build and run the daemon in the foreground on the
#                   example configuration (127.0.0.1:12341, state in ./run)
#   make check      build, then run every test (plain and ASan+UBSan builds)
#   make install    PREFIX=/usr/local DESTDIR= (never overwrites a config)
#   make deb        the Debian package, left in build/ (debian/)
#   make bench      side-by-side speed figures (tests/bench)
#   make lint       mandoc -Tlint, shellcheck, cppcheck, clang-format
#   make format     format the C sources as .clang-format says
#   make format     clang-format the C sources (.clang-format: KNF)
#   make format-check  what make format would change, as errors

PREFIX	?= /usr/local
SBINDIR	?= $(PREFIX)/sbin
BINDIR	?= $(PREFIX)/bin
MANDIR	?= $(PREFIX)/share/man
SYSCONFDIR ?= $(if $(filter /usr /usr/local,$(PREFIX)),/etc,$(PREFIX)/etc)
LOCALSTATEDIR ?= $(if $(filter /usr /usr/local,$(PREFIX)),/var,$(PREFIX)/var)
INITDIR	?= $(SYSCONFDIR)/init.d
SYSTEMDDIR ?= $(PREFIX)/lib/systemd/system
# The init files name /usr/sbin and /etc; install them with the real paths.
PATHSUBST = -e 's|/usr/sbin/bgserviced|$(SBINDIR)/bgserviced|g' \
	    -e 's|/etc/bgserviced.conf|$(SYSCONFDIR)/bgserviced.conf|g'
PKG_CONFIG ?= pkg-config
INSTALL	?= install
PYTHON	?= /usr/bin/python3

CC	?= cc
# _FORTIFY_SOURCE as Debian's package build has it (dpkg-buildflags): its
# checks, and its warnings of a result ignored, in every build.
CFLAGS	?= -O2 -g -D_FORTIFY_SOURCE=2
WFLAGS	 = -std=c11 -Wall -Wextra -Werror -D_GNU_SOURCE
PKGS	 = libconfig libbsd-overlay libsodium
# The paths compiled in; $(B)/paths changes when they do, and everything
# that includes them is built again (make install PREFIX=... after make).
PATHDEFS = -DBGS_PATH_CONFIG='"$(SYSCONFDIR)/bgserviced.conf"' \
	    -DBGS_PATH_CLIENT_CONFIG='"$(SYSCONFDIR)/bgservice.conf"' \
	    -DBGS_PATH_LOG='"$(LOCALSTATEDIR)/log/bgserviced.log"'
CPPFLAGS += -Iinclude $(PATHDEFS)
PKG_CFLAGS = $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null)
# Bind every symbol at start (and make the GOT read-only): a connection
# child then never pays for lazy binding that its parent already did.
LDBIND	 = -Wl,-z,relro,-z,now
SANFLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer \
	   -fno-sanitize-recover=undefined

# Every module but the two mains: the daemon links them all.
LIB_SRCS = src/log.c src/util.c src/config.c src/cfg.c src/cfglisten.c \
	   src/cfgsvc.c src/cfgclient.c $(PROTO_MODS:%=src/%.c) src/sig.c \
	   src/daemon.c src/net.c src/charset.c src/child.c src/childrun.c \
	   src/childexec.c src/spool.c \
	   src/spooldir.c src/spoolkey.c src/spoolscan.c src/queue.c src/stats.c \
	   src/statsring.c src/statsfmt.c \
	   src/conn.c src/connjob.c src/http.c src/reqend.c src/server.c \
	   src/accept.c src/pool.c src/lookup.c src/kids.c src/slot.c src/service.c \
	   src/sched.c src/schednote.c src/schedend.c src/pending.c \
	   src/runner.c src/priv.c src/pidfile.c src/dgram.c src/addr.c \
	   src/page.c src/refuse.c src/rate.c src/udpsign.c src/turn.c \
	   src/deps.c src/hook.c
D_SRCS	 = src/bgserviced.c
C_SRCS	 = src/bgservice.c src/clihost.c src/cliio.c src/clijob.c
# The client links only what it uses: its connections (dial.c), the wire
# (PROTO_MODS: proto.c and its parts) and the configuration (CONFIG_MODS:
# config.c and its parts, udpsign.c calls config_service()) and what that
# needs.
CONFIG_MODS = config cfg cfglisten cfgsvc cfgclient
PROTO_MODS = proto protoid protoframe protoorig protoanswer protoclient
CLIENT_MODS = dial $(PROTO_MODS) $(CONFIG_MODS) charset log lookup net \
	   addr sig util child udpsign
# The client's own modules besides its main (cli.h): bgservice.c's alone.
CLI_MODS = clihost cliio clijob

# Each tests/unit/test_X.c is a program of its own, build/unit.d/test_X,
# linked with the modules of UNIT_OBJS_test_X only (and what those need:
# `nm -u build/obj/X.o` tells); build/unit runs them all.
UNIT_TESTS = $(basename $(notdir $(wildcard tests/unit/test_*.c)))
UNIT_OBJS_test_proto = $(PROTO_MODS)
UNIT_OBJS_test_net = addr
SPOOL_MODS = spool spooldir spoolkey spoolscan
UNIT_OBJS_test_spool = $(SPOOL_MODS) $(PROTO_MODS) log util
UNIT_OBJS_test_config = $(CLIENT_MODS)
UNIT_OBJS_test_rate = rate $(CLIENT_MODS)
UNIT_OBJS_test_http = http page queue config cfg cfglisten cfgsvc lookup \
	   $(PROTO_MODS) log net addr sig \
	   $(SPOOL_MODS) stats statsring statsfmt refuse rate child charset util

B	 = build
LIB_OBJS = $(LIB_SRCS:src/%.c=$(B)/obj/%.o)
ASAN_OBJS = $(LIB_SRCS:src/%.c=$(B)/asan/obj/%.o)
CLIENT_OBJS = $(CLI_MODS:%=$(B)/obj/%.o) $(CLIENT_MODS:%=$(B)/obj/%.o)
CLIENT_ASAN_OBJS = $(CLI_MODS:%=$(B)/asan/obj/%.o) \
	   $(CLIENT_MODS:%=$(B)/asan/obj/%.o)
UNIT_PROGS = $(UNIT_TESTS:%=$(B)/unit.d/%)
HDRS	 = $(wildcard include/*.h)

# A target whose recipe failed is removed, never left half written.
.DELETE_ON_ERROR:

all: $(B)/bgserviced $(B)/bgservice

$(B)/paths: FORCE | $(B)/obj
	@echo "$(PATHDEFS)" > $@.new
	@if cmp -s $@.new $@; then rm $@.new; else mv $@.new $@; fi

$(B)/obj/%.o: src/%.c $(HDRS) $(B)/paths | $(B)/obj
	$(CC) $(WFLAGS) $(CFLAGS) $(CPPFLAGS) $(PKG_CFLAGS) -c -o $@ $<
$(B)/asan/obj/%.o: src/%.c $(HDRS) $(B)/paths | $(B)/asan/obj
	$(CC) $(WFLAGS) -O1 -g $(SANFLAGS) $(CPPFLAGS) $(PKG_CFLAGS) -c -o $@ $<

$(B)/bgserviced: $(B)/obj/bgserviced.o $(LIB_OBJS)
	$(CC) $(CFLAGS) $(LDBIND) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)
$(B)/bgservice: $(B)/obj/bgservice.o $(CLIENT_OBJS)
	$(CC) $(CFLAGS) $(LDBIND) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)
$(B)/asan/bgserviced: $(B)/asan/obj/bgserviced.o $(ASAN_OBJS)
	$(CC) $(SANFLAGS) $(LDBIND) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)
$(B)/asan/bgservice: $(B)/asan/obj/bgservice.o $(CLIENT_ASAN_OBJS)
	$(CC) $(SANFLAGS) $(LDBIND) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)
$(B)/unit: tests/unit/unit.sh $(UNIT_PROGS)
	cp tests/unit/unit.sh $@
	chmod +x $@

.SECONDEXPANSION:
$(B)/unit.d/test_%: tests/unit/test_%.c tests/unit/unit.c tests/unit/unit.h \
    $$(addprefix $(B)/asan/obj/,$$(addsuffix .o,$$(UNIT_OBJS_test_$$*))) \
    | $(B)/unit.d
	$(CC) $(WFLAGS) -O1 -g $(SANFLAGS) $(CPPFLAGS) $(PKG_CFLAGS) \
	    -Itests/unit -o $@ tests/unit/unit.c $< \
	    $(addprefix $(B)/asan/obj/,$(addsuffix .o,$(UNIT_OBJS_test_$*))) \
	    $(PKG_LIBS)

$(B)/obj $(B)/asan/obj $(B)/unit.d:
	mkdir -p $@

deps:
	@sh .ci/deps $(DEPS)

# The example configuration, with its state moved to ./run.
run: DEPS = build
run: deps all
	mkdir -p run
	sed -e 's|/var/run/bgserviced|$(CURDIR)/run/bgserviced|g' \
	    -e 's|/var/spool/bgserviced|$(CURDIR)/run/bgserviced.spool|g' \
	    etc/bgserviced.conf > run/bgserviced.conf
	$(B)/bgserviced -t -c run/bgserviced.conf
	exec $(B)/bgserviced -f -c run/bgserviced.conf

check: DEPS = check
check: deps all $(B)/asan/bgserviced $(B)/asan/bgservice $(B)/unit
	$(PYTHON) -m pytest -q -p no:cacheprovider tests/func

lint:
	mandoc -Tlint -Wwarning man/*.[0-9]
	shellcheck init/bgserviced .ci/run .ci/deps debian/bgservice.postinst \
	    debian/bgservice.postrm
	cppcheck -q --error-exitcode=1 --enable=warning,portability \
	    --include=/usr/include/bsd/sys/queue.h \
	    --include=/usr/include/bsd/sys/tree.h -Iinclude -D_GNU_SOURCE src
	$(CLANG_FORMAT) --dry-run --Werror $(FORMAT_SRCS)

# The C sources clang-format keeps in the house style (.clang-format).
FORMAT_SRCS = src/*.c include/*.h tests/unit/*.c tests/fuzz/*.c \
	    tests/bench/*.c
CLANG_FORMAT ?= clang-format

format:
	$(CLANG_FORMAT) -i $(FORMAT_SRCS)

format-check:
	$(CLANG_FORMAT) --dry-run --Werror $(FORMAT_SRCS)

bench: all
	$(MAKE) -C tests/bench bench

# Fuzz the request parser for a bounded time (FUZZ_SECONDS, default 60).
fuzz:
	$(MAKE) -C tests/fuzz fuzz

# The Debian package, built by dpkg-buildpackage in a copy of the tree
# under build/deb: the package build runs "make clean" in its tree, and
# writes its results to the folder above it.  The .deb, .buildinfo and
# .changes end up in build/.  The package build is a make of its own:
# nothing of this one's command line (B=, CFLAGS=) is passed down.
DEBVERSION = $(shell dpkg-parsechangelog -l debian/changelog -S Version)
deb: DEPS = deb
deb: deps
	rm -rf $(B)/deb $(B)/bgservice_$(DEBVERSION)_* \
	    $(B)/bgservice-dbgsym_$(DEBVERSION)_*
	mkdir -p $(B)/deb/bgservice
	tar -cf - --exclude=./build --exclude=./run --exclude-vcs \
	    --exclude=__pycache__ . | tar -xf - -C $(B)/deb/bgservice
	cd $(B)/deb/bgservice && unset MAKEFLAGS MFLAGS MAKELEVEL && \
	    dpkg-buildpackage -us -uc -b
	mv $(B)/deb/*_$(DEBVERSION)_* $(B)/
	rm -rf $(B)/deb
.PHONY: deb

install: all
	$(INSTALL) -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) \
	    $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 \
	    $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(SYSCONFDIR) \
	    $(DESTDIR)$(INITDIR)
	$(INSTALL) -m 755 $(B)/bgserviced $(DESTDIR)$(SBINDIR)/bgserviced
	$(INSTALL) -m 755 $(B)/bgservice $(DESTDIR)$(BINDIR)/bgservice
	$(INSTALL) -m 644 man/bgservice.1 $(DESTDIR)$(MANDIR)/man1/
	$(INSTALL) -m 644 man/bgserviced.conf.5 $(DESTDIR)$(MANDIR)/man5/
	$(INSTALL) -m 644 man/bgserviced.8 $(DESTDIR)$(MANDIR)/man8/
	[ -e $(DESTDIR)$(SYSCONFDIR)/bgserviced.conf ] || \
	    $(INSTALL) -m 644 etc/bgserviced.conf $(DESTDIR)$(SYSCONFDIR)/
	[ -e $(DESTDIR)$(SYSCONFDIR)/bgservice.conf ] || \
	    $(INSTALL) -m 644 etc/bgservice.conf $(DESTDIR)$(SYSCONFDIR)/
	$(INSTALL) -d $(DESTDIR)$(SYSCONFDIR)/default $(DESTDIR)$(SYSTEMDDIR)
	sed $(PATHSUBST) init/bgserviced > $(DESTDIR)$(INITDIR)/bgserviced
	chmod 755 $(DESTDIR)$(INITDIR)/bgserviced
	sed $(PATHSUBST) init/bgserviced.service \
	    > $(DESTDIR)$(SYSTEMDDIR)/bgserviced.service
	[ -e $(DESTDIR)$(SYSCONFDIR)/default/bgserviced ] || \
	    sed $(PATHSUBST) init/bgserviced.default \
	    > $(DESTDIR)$(SYSCONFDIR)/default/bgserviced

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/bgserviced $(DESTDIR)$(BINDIR)/bgservice \
	    $(DESTDIR)$(MANDIR)/man1/bgservice.1 \
	    $(DESTDIR)$(MANDIR)/man5/bgserviced.conf.5 \
	    $(DESTDIR)$(MANDIR)/man8/bgserviced.8 \
	    $(DESTDIR)$(INITDIR)/bgserviced \
	    $(DESTDIR)$(SYSTEMDDIR)/bgserviced.service
	@echo "left in place: $(DESTDIR)$(SYSCONFDIR)/bgserviced.conf" \
	    "$(DESTDIR)$(SYSCONFDIR)/bgservice.conf" \
	    "$(DESTDIR)$(SYSCONFDIR)/default/bgserviced"

clean:
	rm -rf $(B) tests/func/__pycache__
	-$(MAKE) -C tests/bench clean 2>/dev/null

FORCE:

.PHONY: all deps run check lint format format-check bench fuzz install uninstall clean FORCE
