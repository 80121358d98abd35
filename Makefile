# dnsbl: feeder + dnsbl-server over one LMDB store. See README.md.
#
#   make               bin/dnsbl-server, bin/dnsblctl, bin/dnsbl-feeder (dnsbl-server/, dnsblctl/, feeder/; lib/ shared)
#   make test          sanitizer (ASan+UBSan) builds of everything, then unit and integration tests
#   make fuzz          libFuzzer targets (clang); make fuzz-run runs each briefly
#   make install       PREFIX=/usr/local DESTDIR=
#   make man-lint      mandoc -Tlint on the man pages (docs/man/), and every option documented
#   make bench         scripts/bench-dns (needs scripts/install-deps --bench)

# make V=1 shows the compiler command lines
V       ?= 0
Q        = $(if $(filter 0,$(V)),@)
say      = $(if $(Q),@echo "  $(1)	$(2)")

PREFIX  ?= /usr/local
DESTDIR ?=
CC      ?= cc
OPT     ?= -O2 -g
SAN     ?=
BUILD   ?= build/release
BIN     ?= bin

PKGS     = lmdb libevent libevent_pthreads ldns
WARN     = -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wno-format-truncation
# Each folder compiles with its own include path, so that a program cannot include another program's
# header by accident: lib/ sees only lib/, each program lib/ and its own folder. Tests and fuzz targets
# see everything (INCLUDES).
INCLUDES = -Ilib -Idnsbl-server -Idnsblctl -Ifeeder
$(BUILD)/lib/%.o:          INCLUDES = -Ilib
$(BUILD)/dnsbl-server/%.o: INCLUDES = -Ilib -Idnsbl-server
$(BUILD)/feeder/%.o:       INCLUDES = -Ilib -Ifeeder
$(BUILD)/dnsblctl/%.o:     INCLUDES = -Ilib -Idnsblctl
ALL_CFLAGS  = $(WARN) $(INCLUDES) $(OPT) $(SAN) $(CFLAGS)
ALL_LDFLAGS = $(SAN) $(LDFLAGS)
LIBS_LMDB   = -llmdb
LIBS_EVENT  = -levent_core -levent_extra -levent_pthreads -lpthread
LIBS_LDNS   = -lldns
LIBS_GEO    = -lmaxminddb -lz     # and zlib: the feeder reads rotated .gz logs
LIBS_JSON   = -ljansson           # dnsbl-server's Dovecot policy endpoint

# lib/ is built as $(BUILD)/libdnsbl.a: each program links the members it uses
LIB_SRC    = lib/log.c lib/addr.c lib/conf.c lib/store.c lib/v4map.c lib/zone.c lib/zone_rules.c lib/zone_xfr.c \
             lib/zone_policy.c lib/metrics_http.c lib/geo.c lib/listing_text.c lib/xfr_records.c \
             lib/ring.c lib/feeder_store.c lib/store_index.c
SERVER_SRC = dnsbl-server/query.c dnsbl-server/answer.c dnsbl-server/listen.c dnsbl-server/metrics.c \
             dnsbl-server/main.c dnsbl-server/xfr.c dnsbl-server/notify.c dnsbl-server/tcp_sources.c dnsbl-server/rrl.c \
             $(POLICY_SRC) dnsbl-server/policy_server.c dnsbl-server/indexer.c
# the policy endpoints' decision and protocols (no sockets): dnsbl-server, unit tests, the fuzzer
POLICY_SRC = dnsbl-server/policy.c dnsbl-server/policy_postfix.c dnsbl-server/policy_dovecot.c
CTL_SRC    = dnsblctl/import.c dnsblctl/json.c dnsblctl/ctl.c dnsblctl/ctl_write.c dnsblctl/ctl_read.c \
             dnsblctl/ctl_export.c dnsblctl/dnsblctl.c
FEEDER_LIB = feeder/logline.c feeder/parse.c feeder/parse_util.c feeder/parse_postfix.c feeder/parse_dovecot.c \
             feeder/table.c feeder/window.c feeder/state.c feeder/correlate.c feeder/rules.c feeder/commit.c \
             feeder/feeder.c feeder/source_file.c feeder/source_syslog.c feeder/metrics.c
FEEDER_SRC = $(FEEDER_LIB) feeder/main.c
UNIT_SRC   = $(wildcard tests/unit/test_*.c)

obj = $(patsubst %.c,$(BUILD)/%.o,$(1))
LIB_OBJ    = $(call obj,$(LIB_SRC))
LIB_A      = $(BUILD)/libdnsbl.a
SERVER_OBJ = $(call obj,$(SERVER_SRC))
CTL_OBJ    = $(call obj,$(CTL_SRC))
FEEDER_OBJ = $(call obj,$(FEEDER_SRC))
# what unit tests may link: everything but the programs' main()
UNIT_LINK  = $(call obj,dnsbl-server/query.c dnsbl-server/answer.c dnsblctl/import.c $(FEEDER_LIB) \
             $(POLICY_SRC)) $(LIB_A)
UNIT_BIN   = $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))

PROGRAMS = $(BIN)/dnsbl-server $(BIN)/dnsblctl $(BIN)/dnsbl-feeder

.PHONY: all test unit fuzz fuzz-run install clean bench man-lint
all: $(PROGRAMS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(call say,CC,$<)
	$(Q)$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

$(LIB_A): $(LIB_OBJ)
	$(call say,AR,$@)
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(BIN)/dnsbl-server: $(SERVER_OBJ) $(LIB_A)
	@mkdir -p $(dir $@)
	$(call say,LINK,$@)
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS_LMDB) $(LIBS_EVENT) $(LIBS_LDNS) $(LIBS_GEO) $(LIBS_JSON)

$(BIN)/dnsblctl: $(CTL_OBJ) $(LIB_A)
	@mkdir -p $(dir $@)
	$(call say,LINK,$@)
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS_LMDB) $(LIBS_LDNS)

$(BIN)/dnsbl-feeder: $(FEEDER_OBJ) $(LIB_A)
	@mkdir -p $(dir $@)
	$(call say,LINK,$@)
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS_LMDB) $(LIBS_EVENT) $(LIBS_LDNS) $(LIBS_GEO)

$(BUILD)/tests/%: tests/unit/%.c $(UNIT_LINK)
	@mkdir -p $(dir $@)
	$(call say,TEST,$@)
	$(Q)$(CC) $(ALL_CFLAGS) -DSOURCE_ROOT='"$(CURDIR)"' -o $@ $^ $(ALL_LDFLAGS) -lcriterion $(LIBS_LMDB) $(LIBS_LDNS) $(LIBS_EVENT) $(LIBS_GEO) $(LIBS_JSON)

unit: $(UNIT_BIN)

# The test build: every program and test under ASan+UBSan, any report fails the run.
TEST_BUILD = build/asan
TEST_SAN   = -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
TEST_FUZZ_SECONDS ?= 15
test: man-lint
	$(MAKE) --no-print-directory BUILD=$(TEST_BUILD) BIN=$(TEST_BUILD)/bin OPT="-O1 -g" SAN="$(TEST_SAN)" all unit
	$(MAKE) --no-print-directory fuzz-run FUZZ_SECONDS=$(TEST_FUZZ_SECONDS)
	tests/run $(TEST_BUILD)

# libFuzzer targets: every parser that reads bytes from the network or from logs.
FUZZ_CC    = clang
FUZZ_FLAGS = -g -O1 -fsanitize=fuzzer,address,undefined $(WARN) -Wno-unknown-warning-option $(INCLUDES)
FUZZ_SRC   = $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN   = $(patsubst tests/fuzz/%.c,build/fuzz/%,$(FUZZ_SRC))
build/fuzz/%: tests/fuzz/%.c $(LIB_SRC) dnsbl-server/query.c dnsbl-server/answer.c dnsblctl/import.c $(FEEDER_LIB) \
              $(POLICY_SRC)
	@mkdir -p $(dir $@)
	$(call say,FUZZ,$@)
	$(Q)$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $^ $(LIBS_LMDB) $(LIBS_LDNS) $(LIBS_EVENT) $(LIBS_GEO) $(LIBS_JSON)
fuzz: $(FUZZ_BIN)
FUZZ_SECONDS ?= 20
fuzz-run: fuzz
	@for f in $(FUZZ_BIN); do \
	  name=$$(basename $$f); mkdir -p build/fuzz/corpus-$$name; \
	  echo "fuzz: $$name for $(FUZZ_SECONDS)s"; \
	  $$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 build/fuzz/corpus-$$name tests/fuzz/seeds/$$name \
	    2>build/fuzz/$$name.log || { tail -50 build/fuzz/$$name.log; exit 1; }; \
	  grep -E 'stat::number_of_executed_units' build/fuzz/$$name.log; \
	done

bench: all
	scripts/bench-dns

# The man pages: mdoc, checked by mandoc (Debian's mandoc package, scripts/install-deps), and every
# option, dnsblctl command, metric and zone-file key of the sources must appear in its page.
MAN5 = docs/man/dnsbl-zone.conf.5
MAN8 = docs/man/dnsbl-server.8 docs/man/dnsblctl.8 docs/man/dnsbl-feeder.8
man-lint:
	$(call say,MANLINT,$(MAN5) $(MAN8))
	$(Q)out=$$(mandoc -Tlint -W warning $(MAN5) $(MAN8) 2>&1); rc=$$?; \
	  if [ $$rc -ne 0 ] || [ -n "$$out" ]; then echo "$$out"; echo "man-lint: mandoc found problems (exit $$rc)"; exit 1; fi
	$(Q)scripts/check-man-coverage

# no generic name in $(PREFIX)/bin: the feeder is dnsbl-feeder, built and installed
install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/dnsbl/zones
	install -d $(DESTDIR)$(PREFIX)/share/man/man5 $(DESTDIR)$(PREFIX)/share/man/man8
	install -m 0755 $(PROGRAMS) $(DESTDIR)$(PREFIX)/bin/
	install -m 0644 zones/*.conf $(DESTDIR)$(PREFIX)/share/dnsbl/zones/
	install -m 0644 $(MAN5) $(DESTDIR)$(PREFIX)/share/man/man5/
	install -m 0644 $(MAN8) $(DESTDIR)$(PREFIX)/share/man/man8/
	install -d $(DESTDIR)$(PREFIX)/share/doc/dnsbl
	install -m 0644 README.md docs/*.md $(DESTDIR)$(PREFIX)/share/doc/dnsbl/

clean:
	rm -rf build bin

-include $(shell find build -name '*.d' 2>/dev/null)
