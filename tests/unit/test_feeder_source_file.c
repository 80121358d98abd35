/* test_feeder_source_file.c - followed files through the real feeder (feeder_open on a temporary
 * store with the shipped zones/): what the integration test cannot set up by itself — a store written
 * before positions were per file (the old "source:PATH-AS-GIVEN" record), sibling names beyond NAME.N
 * and NAME-DATE, and the ordering of mixed rotation schemes. Lines are counted by the feeder's
 * stats.lines; their content does not matter. */
#include <criterion/criterion.h>
#include <lmdb.h>
#include <sys/stat.h>
#include <unistd.h>

#include "feeder.h"
#include "source.h"
#include "testutil.h"

static char tmp[64];
static struct feeder f;
static struct file_set set;
static int opened;

static void setup(void)
{
    char db[128], zones[4096], err[512];
    tmpdir_make(tmp, sizeof tmp, "test_feeder_source_file");
    snprintf(db, sizeof db, "%s/db", tmp);
    shipped_zones_dir(zones, sizeof zones);
    cr_assert_eq(feeder_open(&f, db, zones, NULL, 0, err, sizeof err), 0, "feeder_open: %s", err);
    opened = 1;
}

static void teardown(void)
{
    if (opened)
        feeder_close(&f);
    opened = 0;
    tmpdir_remove(tmp);
}

TestSuite(source_file, .init = setup, .fini = teardown);

/* Appends lines FIRST..LAST ("line N of NAME") to tmp/NAME. */
static void lines(const char *name, int first, int last)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", tmp, name);
    FILE *fh = fopen(p, "a");
    cr_assert_not_null(fh);
    for (int i = first; i <= last; i++)
        fprintf(fh, "2026-11-23T06:00:%02d.%06d+00:00 mx1 test: line %d of %s\n", i % 60, i, i, name);
    fclose(fh);
}

static void path(char *buf, size_t n, const char *name)
{
    snprintf(buf, n, "%s/%s", tmp, name);
}

static int save(void *arg, MDB_txn *txn, MDB_dbi meta)
{
    return file_set_save(arg, txn, meta);
}

/* One --once run over the names; returns the lines it read. */
static uint64_t run_once(const char *name)
{
    static struct file_source s;
    char p[256], err[512];
    uint64_t before = f.stats.lines;
    path(p, sizeof p, name);
    file_set_init(&set, &f, 0);
    cr_assert_eq(file_source_open(&s, &set, p, err, sizeof err), 0, "%s", err);
    while (file_source_poll(&s, 1 << 20) > 0)
        ;
    cr_assert_eq(feeder_commit(&f, save, &set), 0);
    file_set_saved(&set);
    file_source_close(&s);
    return f.stats.lines - before;
}

static void mv(const char *from, const char *to)
{
    char a[256], b[256];
    path(a, sizeof a, from);
    path(b, sizeof b, to);
    cr_assert_eq(rename(a, b), 0);
}

/* The record the feeder wrote before positions were per file. */
struct legacy_pos {
    uint64_t dev, ino, offset;
    uint32_t fp_len;
    uint8_t fp[FP_MAX];
};

static void put_legacy(const char *key, const char *file, uint64_t offset)
{
    struct stat st;
    struct legacy_pos lp;
    MDB_txn *txn;
    FILE *fh = fopen(file, "r");
    cr_assert(fh && stat(file, &st) == 0);
    memset(&lp, 0, sizeof lp);
    lp.dev = st.st_dev, lp.ino = st.st_ino, lp.offset = offset;
    lp.fp_len = (uint32_t)fread(lp.fp, 1, FP_MAX, fh);
    fclose(fh);
    MDB_val k = { strlen(key), (void *)key }, v = { sizeof lp, &lp };
    cr_assert_eq(mdb_txn_begin(f.store.env, NULL, 0, &txn), 0);
    cr_assert_eq(mdb_put(txn, f.state.meta_dbi, &k, &v, 0), 0);
    cr_assert_eq(mdb_txn_commit(txn), 0);
}

static int has_key(const char *key)
{
    MDB_txn *txn;
    MDB_val k = { strlen(key), (void *)key }, v;
    cr_assert_eq(mdb_txn_begin(f.store.env, NULL, MDB_RDONLY, &txn), 0);
    int found = mdb_get(txn, f.state.meta_dbi, &k, &v) == 0;
    mdb_txn_abort(txn);
    return found;
}

Test(source_file, an_old_store_continues_under_another_spelling)
{
    char p[256], key[300];
    lines("mail.log", 1, 10);
    path(p, sizeof p, "mail.log");
    struct stat st;
    stat(p, &st);
    long half = 0;
    FILE *fh = fopen(p, "r");
    for (int c, n = 0; n < 4 && (c = fgetc(fh)) != EOF; half++)
        n += c == '\n';
    fclose(fh);
    snprintf(key, sizeof key, "source:%s/./mail.log", tmp);     /* as an older feeder stored it */
    put_legacy(key, p, (uint64_t)half);
    cr_assert_eq(run_once("mail.log"), 6, "continues after the 4 lines the old record counted");
    cr_assert(!has_key(key), "the old record is replaced ...");
    snprintf(key, sizeof key, "source:%s", p);
    cr_assert(has_key(key), "... by the canonical one");
    cr_assert_eq(run_once("mail.log"), 0);
}

Test(source_file, an_old_store_finds_the_rotated_file)
{
    char p[256], key[300];
    lines("mail.log", 1, 10);
    path(p, sizeof p, "mail.log");
    snprintf(key, sizeof key, "source:%s", p);
    struct stat st;
    stat(p, &st);
    put_legacy(key, p, (uint64_t)st.st_size);
    lines("mail.log", 11, 15);
    mv("mail.log", "mail.log.1");
    lines("mail.log", 16, 20);
    cr_assert_eq(run_once("mail.log"), 10, "the rest of mail.log.1, then the new file");
}

Test(source_file, name_old_is_a_rotated_sibling)
{
    cr_assert_eq(run_once("m.log"), 0, "nothing there yet");
    lines("m.log", 1, 3);
    cr_assert_eq(run_once("m.log"), 3);
    lines("m.log", 4, 5);
    mv("m.log", "m.log-old");
    lines("m.log", 6, 9);
    cr_assert_eq(run_once("m.log"), 6);
    cr_assert_eq(run_once("m.log"), 0);
}

Test(source_file, mixed_schemes_are_ordered_by_mtime)
{
    lines("x.log", 1, 3);
    cr_assert_eq(run_once("x.log"), 3);
    lines("x.log", 4, 5);
    mv("x.log", "x.log-20261123");      /* the older rotation, by date ... */
    usleep(20000);
    lines("x.log", 6, 8);
    mv("x.log", "x.log.1");             /* ... the newer one, by number: mtime decides */
    lines("x.log", 9, 10);
    cr_assert_eq(run_once("x.log"), 7);
    cr_assert_eq(run_once("x.log"), 0);
}

Test(source_file, a_name_pointed_back_reads_nothing_again)
{
    char a[256], l[256];
    lines("a.log", 1, 5);
    path(a, sizeof a, "a.log");
    path(l, sizeof l, "link.log");
    cr_assert_eq(symlink("a.log", l), 0);
    cr_assert_eq(run_once("link.log"), 5);
    cr_assert_eq(run_once("a.log"), 0, "the same file under its own name");
    lines("b.log", 1, 2);
    unlink(l);
    cr_assert_eq(symlink("b.log", l), 0);
    cr_assert_eq(run_once("link.log"), 2);
    unlink(l);
    cr_assert_eq(symlink("a.log", l), 0);
    lines("a.log", 6, 7);
    lines("b.log", 3, 3);               /* a late write to the old target while the feeder was down */
    cr_assert_eq(run_once("link.log"), 3, "b.log's late line, then only what was appended to a.log");
    cr_assert_eq(run_once("link.log"), 0);
}
