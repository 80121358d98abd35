/* source_file.c - follow log files like `tail -F`: every line once, whatever name it is read under.
 *
 * A file is known by (device, inode) plus a fingerprint of its first FP_MAX bytes (of the decompressed
 * data for a .gz). Positions are kept per file in a run-wide set (struct file_set), stored as
 * "file:" + device + inode in the feeder:meta sub-database, and each name remembers the file it read
 * last as "source:" + its canonical path (the older "source:" + path-as-given key is still read, and
 * replaced). So:
 *  - two names for one file (./x, /abs/x, a hard link, a symlink) share one position: the first name
 *    reads it; the other is reported as a duplicate and reads nothing while it points there;
 *  - a name pointed (back) at a file already read continues at that file's position;
 *  - a renamed file (or a symlink's old target) is read on, next to its successor, until it has been
 *    quiet for the grace period: rsyslog writes to it until its HUP;
 *  - at start, if the name's file changed while we were away, the file read last is found among the
 *    rotated siblings (NAME.N, NAME-DATE, either possibly .gz, NAME-old) and finished, then every newer sibling,
 *    oldest first, then the file at the name;
 *  - a file shrunk below our offset that still starts with its first bytes was cut: we continue at
 *    its new end (its lines were counted). One that starts differently was truncated and rewritten
 *    (copytruncate): the rest of the old content is read from the copy if a sibling has it, or the
 *    unread bytes are reported as lost (log, feeder_file_lost_bytes_total); likewise the unread rest
 *    of a file read last that is gone at start.
 * A partial last line waits for its newline. */
#include "source.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "log.h"

#define READ_CHUNK (256 * 1024)
#define LINE_MAX_BYTES (64 * 1024)      /* longer lines are cut: syslog lines are a few hundred */
#define BUF_CAP (READ_CHUNK + LINE_MAX_BYTES)
#define SIBLINGS_MAX 64
#define KEEP_RECORD_NS (30LL * 86400 * 1000000000)     /* "file:" records unused this long are dropped */

/* The value of "file:" and "source:" keys. */
struct stored_pos {
    uint64_t dev, ino, offset, size;
    int64_t seen_ns;            /* wall clock when stored: tells newer rotated files, and old records */
    uint32_t fp_len, eof;
    uint8_t fp[FP_MAX];
};

/* The value of the "source:PATH" keys written before positions were per file. */
struct legacy_pos {
    uint64_t dev, ino, offset;
    uint32_t fp_len;
    uint8_t fp[FP_MAX];
};

/* A rotated sibling of a name, found in its directory. */
struct sibling {
    char name[4096];
    int gz, numeric;
    unsigned long num;          /* NAME.N: larger is older */
    char date[64];              /* NAME-YYYYMMDD...: smaller is older */
    uint64_t dev, ino, size;    /* size: 0 for .gz (unknown until read) */
    int64_t mtime_ns;
    uint32_t fp_len;
    uint8_t fp[FP_MAX];
};

enum { OPEN_OK, OPEN_GONE, OPEN_DUP };

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static unsigned long long ull(uint64_t v)
{
    return (unsigned long long)v;
}

/* ---- fingerprints and the set of known files ---- */

/* Does a file that starts with fp[0..len) have the recorded first bytes? */
static int fp_match(const struct file_pos *p, const uint8_t *fp, uint32_t len)
{
    return p->fp_len <= len && !memcmp(p->fp, fp, p->fp_len);
}

static uint32_t fp_plain(int fd, uint8_t *fp)
{
    ssize_t n = pread(fd, fp, FP_MAX, 0);
    return n > 0 ? (uint32_t)n : 0;
}

/* The first decompressed bytes of a gzip file; the stream is left at its start. */
static uint32_t fp_gz(gzFile gz, uint8_t *fp)
{
    int n = gzread(gz, fp, FP_MAX);
    gzrewind(gz);
    return n > 0 ? (uint32_t)n : 0;
}

static void file_key(uint64_t dev, uint64_t ino, uint8_t *key)
{
    memcpy(key, "file:", 5);
    memcpy(key + 5, &dev, 8);
    memcpy(key + 13, &ino, 8);
}

static void from_legacy(const MDB_val *v, struct stored_pos *sp)
{
    struct legacy_pos lp;
    memcpy(&lp, v->mv_data, sizeof lp);
    memset(sp, 0, sizeof *sp);
    sp->dev = lp.dev, sp->ino = lp.ino, sp->offset = lp.offset, sp->size = lp.offset;
    sp->fp_len = lp.fp_len > FP_MAX ? 0 : lp.fp_len;
    memcpy(sp->fp, lp.fp, sp->fp_len);
}

/* A stored position; a name's ("source:") is followed by the real path of its file, copied to real
 * (PATH_MAX bytes) if wanted. */
static int load_stored(struct feeder *f, const void *key, size_t klen, struct stored_pos *sp, char *real)
{
    MDB_txn *txn;
    MDB_val k = { klen, (void *)key }, v;
    int found = 0;
    if (real)
        real[0] = 0;
    if (mdb_txn_begin(f->store.env, NULL, MDB_RDONLY, &txn) != 0)
        return 0;
    if (mdb_get(txn, f->state.meta_dbi, &k, &v) == 0 && v.mv_size >= sizeof *sp &&
        v.mv_size - sizeof *sp < PATH_MAX) {
        memcpy(sp, v.mv_data, sizeof *sp);
        found = sp->fp_len <= FP_MAX;
        if (real) {
            memcpy(real, (const char *)v.mv_data + sizeof *sp, v.mv_size - sizeof *sp);
            real[v.mv_size - sizeof *sp] = 0;
        }
    }
    mdb_txn_abort(txn);
    return found;
}

static void canonical(const char *path, char *out, size_t n);

/* Is k an old "source:PATH" record (struct legacy_pos) for the name `canon`, or (canon NULL) for
 * the file (dev, ino)? Such records were keyed by the path as given, relative or not. */
static int legacy_is(const MDB_val *k, const MDB_val *v, const char *canon, uint64_t dev, uint64_t ino)
{
    char path[4096], cp[4096];
    struct stored_pos sp;
    if (v->mv_size != sizeof(struct legacy_pos) || k->mv_size - 7 >= sizeof path)
        return 0;
    if (!canon) {
        from_legacy(v, &sp);
        return sp.dev == dev && sp.ino == ino;
    }
    memcpy(path, (const char *)k->mv_data + 7, k->mv_size - 7);
    path[k->mv_size - 7] = 0;
    canonical(path, cp, sizeof cp);
    return !strcmp(cp, canon);
}

/* Finds (or, with del, deletes) the old records for a name or a file. */
static int legacy_scan(MDB_txn *txn, MDB_dbi meta, const char *canon, uint64_t dev, uint64_t ino,
                       struct stored_pos *sp, int del)
{
    MDB_cursor *c;
    MDB_val k = { 7, "source:" }, v;
    int found = 0;
    if (mdb_cursor_open(txn, meta, &c) != 0)
        return -1;
    for (int rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
         rc == 0 && k.mv_size > 7 && !memcmp(k.mv_data, "source:", 7) && (del || !found);
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT))
        if (legacy_is(&k, &v, canon, dev, ino)) {
            found = 1;
            if (del && mdb_cursor_del(c, 0) != 0)
                found = -1, del = 0;
            else if (!del)
                from_legacy(&v, sp);
        }
    mdb_cursor_close(c);
    return found;
}

static int load_legacy(struct feeder *f, const char *canon, uint64_t dev, uint64_t ino, struct stored_pos *sp)
{
    MDB_txn *txn;
    if (mdb_txn_begin(f->store.env, NULL, MDB_RDONLY, &txn) != 0)
        return 0;
    int found = legacy_scan(txn, f->state.meta_dbi, canon, dev, ino, sp, 0) > 0;
    mdb_txn_abort(txn);
    return found;
}

static struct file_pos *set_find(struct file_set *set, uint64_t dev, uint64_t ino)
{
    for (int i = 0; i < set->nknown; i++)
        if (set->known[i].dev == dev && set->known[i].ino == ino)
            return &set->known[i];
    return NULL;
}

/* A slot for a new entry; when the set is full, one that no source reads (its position was
 * stored at the last commit, or it is re-read from the store when it comes back). */
static struct file_pos *set_slot(struct file_set *set)
{
    if (set->nknown < FILE_KNOWN_MAX)
        return &set->known[set->nknown++];
    for (int i = 0; i < FILE_KNOWN_MAX; i++)
        if (!set->known[i].reader)
            return &set->known[i];
    return NULL;
}

static void pos_reset(struct file_pos *p, uint64_t dev, uint64_t ino, const uint8_t *fp, uint32_t len,
                      uint64_t offset)
{
    memset(p, 0, sizeof *p);
    p->dev = dev, p->ino = ino, p->offset = offset, p->size = offset, p->fp_len = len;
    memcpy(p->fp, fp, len);
}

/* The entry for a file: from this run, else from the store, else new at `start`. An entry for the
 * same inode with other first bytes is another file (inode reused, or rewritten in place). */
static struct file_pos *set_lookup(struct file_set *set, uint64_t dev, uint64_t ino, const uint8_t *fp,
                                   uint32_t len, uint64_t start)
{
    struct file_pos *e = set_find(set, dev, ino);
    if (e && (fp_match(e, fp, len) || e->reader))
        return e;       /* a rewrite under a reader is for that reader to find */
    if (!e) {
        uint8_t key[21];
        struct stored_pos sp;
        file_key(dev, ino, key);
        if (!(e = set_slot(set)))
            return NULL;
        if (load_stored(set->f, key, sizeof key, &sp, NULL) || load_legacy(set->f, NULL, dev, ino, &sp)) {
            pos_reset(e, dev, ino, sp.fp, sp.fp_len, sp.offset);
            e->size = sp.size, e->eof = (uint8_t)sp.eof;
            if (fp_match(e, fp, len))
                return e;
        }
    }
    pos_reset(e, dev, ino, fp, len, start);
    return e;
}

/* ---- readers ---- */

static void reader_init(struct file_reader *r)
{
    memset(r, 0, sizeof *r);
    r->fd = -1;
}

static void reader_close(struct file_reader *r, const char *why)
{
    if (r->fd < 0)
        return;
    if (r->len && why)
        log_warn("%s: %zu bytes without a newline at the end of %s, dropped", r->name, r->len, why);
    if (r->pos)
        r->pos->reader = NULL;
    if (r->gz)
        gzclose(r->gz);         /* closes the descriptor too */
    else
        close(r->fd);
    free(r->buf);
    free(r->real);
    reader_init(r);
}

/* Opens `name` (gzip if gz) for source s at its known position, or at `start` if it is new. */
static int reader_open(struct file_source *s, struct file_reader *r, const char *name, int gz, uint64_t start)
{
    struct stat st;
    uint8_t fp[FP_MAX];
    uint32_t len;
    gzFile z = NULL;
    int fd = open(name, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return OPEN_GONE;
    if (fstat(fd, &st) < 0 || (gz && !(z = gzdopen(fd, "rb")))) {
        close(fd);
        return OPEN_GONE;
    }
    len = gz ? fp_gz(z, fp) : fp_plain(fd, fp);
    struct file_pos *p = set_lookup(s->set, st.st_dev, st.st_ino, fp, len, start);
    if (!p || p->reader) {      /* read under another name; or (a race) by our other reader */
        int dup = p && p->reader != s;
        if (dup)
            s->dup_pos = p;
        z ? gzclose(z) : close(fd);
        return dup ? OPEN_DUP : OPEN_GONE;
    }
    if (!gz && (uint64_t)st.st_size < p->offset) {
        log_warn("%s: %llu bytes, less than the %llu already read, and starts as it did: it was cut; "
                 "continuing at its end", name, ull(st.st_size), ull(p->offset));
        p->offset = (uint64_t)st.st_size;
    }
    if ((gz ? gzseek(z, (z_off_t)p->offset, SEEK_SET) < 0 : lseek(fd, (off_t)p->offset, SEEK_SET) < 0) ||
        !(r->buf = malloc(BUF_CAP))) {
        z ? gzclose(z) : close(fd);
        return OPEN_GONE;
    }
    r->fd = fd, r->gz = z, r->pos = p, r->len = 0, r->last_data_ms = now_ms();
    if (!gz && (uint64_t)st.st_size > p->size)
        p->size = (uint64_t)st.st_size;
    p->reader = s;
    s->dup_pos = NULL;
    snprintf(r->name, sizeof r->name, "%s", name);
    r->real = realpath(name, NULL);
    return OPEN_OK;
}

/* Feeds the complete lines in the buffer and keeps the partial one. */
static void feed_buffer(struct file_reader *r, struct feeder *f)
{
    size_t start = 0;
    for (;;) {
        char *nl = memchr(r->buf + start, '\n', r->len - start);
        if (!nl)
            break;
        size_t end = (size_t)(nl - r->buf);
        feed_line(f, r->buf + start, end > start && r->buf[end - 1] == '\r' ? end - start - 1 : end - start);
        start = end + 1;
    }
    if (start == 0 && r->len >= LINE_MAX_BYTES) {  /* an endless line: cut it */
        feed_line(f, r->buf, r->len);
        start = r->len;
    }
    r->pos->offset += start;
    memmove(r->buf, r->buf + start, r->len - start);
    r->len -= start;
}

/* While a file is shorter than FP_MAX its fingerprint grows with it. */
static void grow_fingerprint(struct file_reader *r)
{
    uint8_t fp[FP_MAX];
    uint32_t len = fp_plain(r->fd, fp);
    if (len > r->pos->fp_len && fp_match(r->pos, fp, len)) {
        memcpy(r->pos->fp, fp, len);
        r->pos->fp_len = len;
    }
}

/* Reads and feeds until the end of the data (*eof) or the budget. -1 on a read error. */
static long reader_read(struct file_reader *r, struct feeder *f, size_t budget, int *eof)
{
    size_t total = 0;
    *eof = 0;
    while (total < budget) {
        ssize_t n = r->gz ? gzread(r->gz, r->buf + r->len, (unsigned)(BUF_CAP - r->len))
                          : read(r->fd, r->buf + r->len, BUF_CAP - r->len);
        if (n < 0 && !r->gz && errno == EINTR)
            continue;
        if (n < 0 && r->gz) {   /* a damaged archive ends there; it is not the feeder's failure */
            int e;
            log_warn("%s: %s: the rest of it is not read", r->name, gzerror(r->gz, &e));
            n = 0;
        }
        if (n < 0) {
            log_err("%s: read: %s", r->name, strerror(errno));
            return -1;
        }
        if (n == 0) {
            *eof = 1;
            break;
        }
        r->len += (size_t)n;
        total += (size_t)n;
        r->last_data_ms = now_ms();
        feed_buffer(r, f);
        if (r->pos->offset + r->len > r->pos->size)
            r->pos->size = r->pos->offset + r->len;
        if (!r->gz && r->pos->fp_len < FP_MAX)
            grow_fingerprint(r);
    }
    return (long)total;
}

/* ---- rotated siblings ---- */

/* Is `ent` a rotated sibling of `base` (base.N, base-DATE, either possibly .gz, or base-old)? */
static int sibling_name(const char *base, const char *ent, struct sibling *sb)
{
    size_t bl = strlen(base), el = strlen(ent);
    if (el <= bl + 1 || strncmp(ent, base, bl) || (ent[bl] != '.' && ent[bl] != '-'))
        return 0;
    const char *suf = ent + bl + 1;
    size_t sl = el - bl - 1;
    sb->gz = sl > 3 && !strcmp(suf + sl - 3, ".gz");
    if (sb->gz)
        sl -= 3;
    if (ent[bl] == '-' && sl == 3 && !memcmp(suf, "old", 3)) {
        sb->numeric = 0;
        sb->date[0] = 0;        /* ordered by its mtime */
        return 1;
    }
    if (!sl || sl >= sizeof sb->date || !isdigit((unsigned char)suf[0]))
        return 0;
    for (size_t i = 0; i < sl; i++)
        if (!isdigit((unsigned char)suf[i]) && (ent[bl] == '.' || (suf[i] != '-' && suf[i] != '_')))
            return 0;
    sb->numeric = ent[bl] == '.';
    sb->num = strtoul(suf, NULL, 10);
    memcpy(sb->date, suf, sl);
    sb->date[sl] = 0;
    return 1;
}

static int sibling_stat(const char *dir, const char *ent, struct sibling *sb)
{
    struct stat st;
    snprintf(sb->name, sizeof sb->name, "%s/%s", dir, ent);
    int fd = open(sb->name, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    sb->dev = st.st_dev, sb->ino = st.st_ino, sb->size = sb->gz ? 0 : (uint64_t)st.st_size;
    sb->mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
    if (!sb->gz) {
        sb->fp_len = fp_plain(fd, sb->fp);
        close(fd);
        return 0;
    }
    gzFile z = gzdopen(fd, "rb");
    if (!z) {
        close(fd);
        return -1;
    }
    sb->fp_len = fp_gz(z, sb->fp);
    gzclose(z);
    return 0;
}

/* Is a older than b? By the number or date in the name within one naming scheme, else by mtime. */
static int sibling_older(const struct sibling *a, const struct sibling *b)
{
    if (a->numeric && b->numeric && a->num != b->num)
        return a->num > b->num;
    if (!a->numeric && !b->numeric && a->date[0] && b->date[0] && strcmp(a->date, b->date))
        return strcmp(a->date, b->date) < 0;
    return a->mtime_ns < b->mtime_ns;
}

/* The rotated siblings of s->path, oldest first. Returns how many (at most max). */
static int list_siblings(const struct file_source *s, struct sibling *sb, int max)
{
    char d[4096], b[4096];
    snprintf(d, sizeof d, "%s", s->canon);
    snprintf(b, sizeof b, "%s", s->canon);
    const char *dir = dirname(d), *base = basename(b);
    DIR *dh = opendir(dir);
    struct dirent *de;
    int n = 0;
    if (!dh)
        return 0;
    while ((de = readdir(dh)) && n < max)
        if (sibling_name(base, de->d_name, &sb[n]) && sibling_stat(dir, de->d_name, &sb[n]) == 0)
            n++;
    closedir(dh);
    for (int i = 1; i < n; i++)         /* insertion sort: a handful of files */
        for (int j = i; j > 0 && sibling_older(&sb[j], &sb[j - 1]); j--) {
            struct sibling t = sb[j];
            sb[j] = sb[j - 1];
            sb[j - 1] = t;
        }
    return n;
}

/* Does sibling sb hold the content of p: its inode renamed, or a copy (copytruncate), or compressed,
 * with the same first bytes and at least as long as what was read? */
static int sibling_is(const struct sibling *sb, const struct file_pos *p)
{
    return p->fp_len && fp_match(p, sb->fp, sb->fp_len) && (sb->gz || sb->size >= p->offset);
}

static void enqueue(struct file_source *s, const struct sibling *sb, uint64_t start)
{
    if (s->nqueue == FILE_QUEUE_MAX) {
        log_warn("%s: more than %d rotated files to catch up on: %s is not read", s->path, FILE_QUEUE_MAX,
                 sb->name);
        return;
    }
    struct file_queued *q = &s->queue[s->nqueue++];
    snprintf(q->name, sizeof q->name, "%s", sb->name);
    q->gz = sb->gz;
    q->start = start;
}

/* ---- start ---- */

/* Absolute, with the directories resolved but not a symlink in the last part: one name, one key. */
static void canonical(const char *path, char *out, size_t n)
{
    char d[4096], b[4096], *real;
    snprintf(d, sizeof d, "%s", path);
    snprintf(b, sizeof b, "%s", path);
    if ((real = realpath(dirname(d), NULL))) {
        snprintf(out, n, "%s/%s", strcmp(real, "/") ? real : "", basename(b));
        free(real);
    } else {
        snprintf(out, n, "%s", path);
    }
}

static int load_last(struct file_source *s, struct stored_pos *last, char *real)
{
    char key[4200];
    int n = snprintf(key, sizeof key, "source:%s", s->canon);
    if (load_stored(s->set->f, key, (size_t)n, last, real))
        return 1;
    if (load_legacy(s->set->f, s->canon, 0, 0, last)) {
        s->legacy_key = 1;      /* dropped at the next save, in favour of the canonical key */
        return 1;
    }
    return 0;
}

static int same_file_at(const char *path, const struct file_pos *p);

static void report_gone(struct file_source *s, const struct stored_pos *last)
{
    uint64_t lost = last->size > last->offset ? last->size - last->offset : 0;
    log_warn("%s: the file read last (device %llu, inode %llu, read to byte %llu of the %llu seen) is gone: "
             "%llu bytes lost, and whatever was written to it after the feeder stopped",
             s->path, ull(last->dev), ull(last->ino), ull(last->offset), ull(last->size), ull(lost));
    s->lost_bytes += lost;
}

/* The name's file changed while we were away: queue the file read last (from its offset) and the
 * rotated files after it, so that they are finished before the file at the name. */
static void catch_up(struct file_source *s, const struct stored_pos *last, const char *real)
{
    struct sibling *sb = calloc(SIBLINGS_MAX, sizeof *sb);
    struct file_pos lp;
    if (!sb)
        return;
    pos_reset(&lp, last->dev, last->ino, last->fp, last->fp_len, last->offset);
    if (real[0] && strcmp(real, s->canon) && same_file_at(real, &lp)) {
        /* the name is a symlink pointed elsewhere; its old target may have had late writes */
        log_info("%s: finishing the file read last, %s, from byte %llu", s->path, real, ull(last->offset));
        snprintf(sb[0].name, sizeof sb[0].name, "%s", real);
        enqueue(s, &sb[0], last->offset);
        free(sb);
        return;
    }
    int n = list_siblings(s, sb, SIBLINGS_MAX), k = -1;
    for (int i = n - 1; i >= 0 && k < 0; i--)
        if (sibling_is(&sb[i], &lp))
            k = i;
    if (k >= 0) {
        log_info("%s: finishing the rotated %s from byte %llu", s->path, sb[k].name, ull(last->offset));
        for (int i = k; i < n; i++)
            enqueue(s, &sb[i], i == k ? last->offset : 0);
    } else {
        report_gone(s, last);
        for (int i = 0; i < n && !s->legacy_key; i++)   /* what was rotated after we stored */
            if (sb[i].mtime_ns > last->seen_ns)
                enqueue(s, &sb[i], 0);
    }
    free(sb);
}

/* Is the file at `path` still p (same inode, same first bytes)? */
static int same_file_at(const char *path, const struct file_pos *p)
{
    struct stat st;
    uint8_t fp[FP_MAX];
    int fd = open(path, O_RDONLY | O_CLOEXEC), same = 0;
    if (fd < 0)
        return 0;
    if (fstat(fd, &st) == 0 && (uint64_t)st.st_dev == p->dev && (uint64_t)st.st_ino == p->ino)
        same = fp_match(p, fp, fp_plain(fd, fp));
    close(fd);
    return same;
}

/* The name's file is the one read last, but a renamed file may have been stopped in its grace
 * period with late writes unread: queue the plain siblings whose stored position is short of
 * their end. */
static void finish_drains(struct file_source *s)
{
    struct sibling *sb = calloc(SIBLINGS_MAX, sizeof *sb);
    int n = sb ? list_siblings(s, sb, SIBLINGS_MAX) : 0;
    for (int i = 0; i < n; i++) {
        uint8_t key[21];
        struct stored_pos sp;
        file_key(sb[i].dev, sb[i].ino, key);
        if (sb[i].gz || !load_stored(s->set->f, key, sizeof key, &sp, NULL) || sp.eof || sp.offset >= sb[i].size)
            continue;
        struct file_pos p;
        pos_reset(&p, sp.dev, sp.ino, sp.fp, sp.fp_len, sp.offset);
        if (!fp_match(&p, sb[i].fp, sb[i].fp_len))
            continue;
        log_info("%s: finishing the renamed %s from byte %llu", s->path, sb[i].name, ull(sp.offset));
        enqueue(s, &sb[i], sp.offset);
    }
    free(sb);
}

void file_set_init(struct file_set *set, struct feeder *f, int grace_ms)
{
    memset(set, 0, sizeof *set);
    set->f = f;
    set->grace_ms = grace_ms;
}

int file_source_open(struct file_source *s, struct file_set *set, const char *path, char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    reader_init(&s->cur);
    reader_init(&s->old);
    s->set = set;
    if (set->nsources < (int)(sizeof set->sources / sizeof *set->sources))
        set->sources[set->nsources++] = s;
    if (!strcmp(path, "-")) {
        s->is_stdin = 1;
        snprintf(s->path, sizeof s->path, "-");
        if (!(s->cur.buf = malloc(BUF_CAP))) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        s->cur.fd = 0;
        return 0;
    }
    if (strlen(path) >= sizeof s->path - 16) {
        snprintf(err, errlen, "%s: path too long", path);
        return -1;
    }
    snprintf(s->path, sizeof s->path, "%s", path);
    canonical(path, s->canon, sizeof s->canon);
    if (!(s->queue = calloc(FILE_QUEUE_MAX, sizeof *s->queue))) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    struct stored_pos last;
    char real[PATH_MAX];
    if (!load_last(s, &last, real))
        return 0;
    /* the file read last continues at its stored offset whatever name finds it */
    struct file_pos *p = set_find(set, last.dev, last.ino);
    if (!p && (p = set_slot(set))) {
        pos_reset(p, last.dev, last.ino, last.fp, last.fp_len, last.offset);
        p->size = last.size;
    }
    if (p && same_file_at(path, p))
        finish_drains(s);
    else
        catch_up(s, &last, real);
    return 0;
}

void file_source_close(struct file_source *s)
{
    if (s->is_stdin) {
        free(s->cur.buf);
        reader_init(&s->cur);
    }
    reader_close(&s->cur, NULL);
    reader_close(&s->old, NULL);
    free(s->queue);
    s->queue = NULL;
}

/* ---- following ---- */

static void note_duplicate(struct file_source *s, const struct file_pos *was)
{
    const struct file_source *other = s->dup_pos ? s->dup_pos->reader : NULL;
    if (!other || s->dup_pos == was)
        return;
    log_warn("%s: the same file as %s (device %llu, inode %llu): read once, under %s", s->path, other->path,
             ull(s->dup_pos->dev), ull(s->dup_pos->ino), other->path);
    s->duplicates++;
}

/* Opens what comes next: the next queued rotated file, else the file at the name. 1 if opened. */
static int advance(struct file_source *s)
{
    const struct file_pos *was_dup = s->dup_pos;
    while (s->iqueue < s->nqueue) {
        struct file_queued *q = &s->queue[s->iqueue++];
        int rc = reader_open(s, &s->cur, q->name, q->gz, q->start);
        if (rc == OPEN_OK) {
            s->cur_queued = 1;
            return 1;
        }
        if (rc == OPEN_DUP)
            note_duplicate(s, was_dup);
        else
            log_warn("%s: the rotated %s is gone before it was read", s->path, q->name);
    }
    s->cur_queued = 0;
    struct stat st;
    if (s->old.fd >= 0 && stat(s->path, &st) == 0 && s->old.pos->dev == (uint64_t)st.st_dev &&
        s->old.pos->ino == (uint64_t)st.st_ino) {
        s->cur = s->old;        /* pointed back at the file being drained: one reader for it */
        reader_init(&s->old);
        return 1;
    }
    int rc = reader_open(s, &s->cur, s->path, 0, 0);
    if (rc == OPEN_DUP)
        note_duplicate(s, was_dup);
    if (rc != OPEN_OK)
        return 0;
    log_info("%s: %s at byte %llu", s->path, s->cur.pos->offset ? "reading" : "following a new file",
             ull(s->cur.pos->offset));
    return 1;
}

/* The bytes of the file that were never fed (seen but unread, plus a partial line). */
static uint64_t unread(const struct file_reader *r)
{
    return r->pos->size > r->pos->offset ? r->pos->size - r->pos->offset : 0;
}

/* The file at the name starts differently now: truncated and rewritten (copytruncate). The rest of
 * the old content is read from a rotated copy with the old first bytes if there is one. */
static void rewritten(struct file_source *s)
{
    struct sibling *sb = calloc(SIBLINGS_MAX, sizeof *sb);
    int n = sb ? list_siblings(s, sb, SIBLINGS_MAX) : 0, k = -1;
    for (int i = n - 1; i >= 0 && k < 0; i--)
        if (sibling_is(&sb[i], s->cur.pos))
            k = i;
    uint64_t lost = unread(&s->cur), off = s->cur.pos->offset;
    s->nqueue = s->iqueue = 0;
    if (k >= 0) {
        log_info("%s: truncated in place (copytruncate): finishing its copy %s from byte %llu", s->path,
                 sb[k].name, ull(off));
        enqueue(s, &sb[k], off);
        lost = !sb[k].gz && sb[k].size < s->cur.pos->size ? s->cur.pos->size - sb[k].size : 0;
        if (lost)   /* written between the copy and the truncation */
            log_warn("%s: %llu bytes written after the copy was taken and before the truncation: lost",
                     s->path, ull(lost));
        s->lost_bytes += lost;
    } else if (lost) {
        log_warn("%s: truncated in place before bytes %llu-%llu were read, and no rotated copy of it: "
                 "%llu bytes lost (more if it grew after the feeder last looked)", s->path, ull(off),
                 ull(s->cur.pos->size), ull(lost));
        s->lost_bytes += lost;
    } else {
        log_info("%s: truncated in place (copytruncate): reading it again from the start", s->path);
    }
    s->cur.len = 0;     /* a partial line of the old content: it is in the copy, or lost */
    reader_close(&s->cur, NULL);
    free(sb);
}

/* Is the reader's file still what we read: 1 yes, 0 cut (and handled), -1 rewritten. */
static int check_content(struct file_reader *r)
{
    struct stat st;
    uint8_t fp[FP_MAX];
    if (r->gz || fstat(r->fd, &st) < 0)
        return 1;
    uint64_t size = (uint64_t)st.st_size;
    if (!fp_match(r->pos, fp, fp_plain(r->fd, fp)))
        return -1;
    if (size >= r->pos->offset + r->len) {
        if (size > r->pos->size)
            r->pos->size = size;
        return 1;
    }
    if (size < r->pos->offset) {
        log_warn("%s: cut to %llu bytes, below the %llu already read; it starts as before, so its lines "
                 "were counted: continuing at its end", r->name, ull(size), ull(r->pos->offset));
        r->pos->offset = size;
    }
    r->pos->size = size;
    r->len = 0;
    lseek(r->fd, (off_t)r->pos->offset, SEEK_SET);
    return 0;
}

/* Lets the drained file go once it has been quiet for the grace period (or was overwritten). */
static long drain_old(struct file_source *s, size_t budget)
{
    struct file_reader *r = &s->old;
    int eof;
    if (check_content(r) < 0) {
        uint64_t lost = unread(r);
        if (lost)
            log_warn("%s: the renamed %s was overwritten before %llu bytes of it were read: lost", s->path,
                     r->name, ull(lost));
        s->lost_bytes += lost;
        reader_close(r, NULL);
        return 0;
    }
    long n = reader_read(r, s->set->f, budget, &eof);
    if (n >= 0 && eof && now_ms() - r->last_data_ms >= s->set->grace_ms) {
        log_info("%s: let go of the renamed file (inode %llu) at byte %llu after %d ms without writes", s->path,
                 ull(r->pos->ino), ull(r->pos->offset), s->set->grace_ms);
        r->pos->eof = 1;
        reader_close(r, "a renamed file");
    }
    return n;
}

/* At the end of the current file: move on if there is something after it. 1 if we did. */
static int at_end(struct file_source *s)
{
    struct stat st;
    if (s->cur_queued) {
        s->cur.pos->eof = 1;
        reader_close(&s->cur, "a rotated file");
        return 1;
    }
    if (stat(s->path, &st) < 0)
        return 0;       /* renamed away and not yet recreated: keep reading the old one */
    if ((uint64_t)st.st_dev == s->cur.pos->dev && (uint64_t)st.st_ino == s->cur.pos->ino) {
        if (check_content(&s->cur) >= 0)
            return 0;
        rewritten(s);
        return 1;
    }
    /* another file at the name: drain this one beside it (rsyslog writes here until its HUP) */
    if (s->old.fd >= 0)
        reader_close(&s->old, "a renamed file");
    s->old = s->cur;
    s->old.last_data_ms = now_ms();     /* the writer gets the grace from now: its HUP comes later */
    reader_init(&s->cur);
    log_info("%s: now another file; reading the old one (inode %llu) on until it has no writes for %d ms",
             s->path, ull(s->old.pos->ino), s->set->grace_ms);
    return 1;
}

static long poll_stdin(struct file_source *s, size_t budget)
{
    struct file_reader *r = &s->cur;
    size_t total = 0;
    struct file_pos dummy = { 0 };
    r->pos = &dummy;
    while (total < budget) {
        ssize_t n = read(0, r->buf + r->len, BUF_CAP - r->len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            log_err("-: read: %s", strerror(errno));
            r->pos = NULL;
            return -1;
        }
        if (n == 0) {
            if (r->len)     /* the last line of a pipe needs no newline */
                feed_line(s->set->f, r->buf, r->len), r->len = 0;
            r->pos = NULL;
            return total ? (long)total : -2;
        }
        r->len += (size_t)n;
        total += (size_t)n;
        feed_buffer(r, s->set->f);
    }
    r->pos = NULL;
    return (long)total;
}

long file_source_poll(struct file_source *s, size_t budget)
{
    if (s->is_stdin)
        return poll_stdin(s, budget);
    long total = 0;
    int eof;
    if (s->old.fd >= 0 && (total = drain_old(s, budget)) < 0)
        return -1;
    if (s->cur.fd >= 0 && !s->cur_queued && check_content(&s->cur) < 0)
        rewritten(s);   /* caught before reading into the new content */
    for (int moves = 0; (size_t)total < budget && moves < FILE_QUEUE_MAX + 4; moves++) {
        if (s->cur.fd < 0 && !advance(s))
            break;
        long n = reader_read(&s->cur, s->set->f, budget - (size_t)total, &eof);
        if (n < 0)
            return -1;
        total += n;
        if (!eof || !at_end(s))
            break;
    }
    return total;
}

/* ---- storing ---- */

static void to_stored(const struct file_pos *p, struct stored_pos *sp, int64_t now)
{
    memset(sp, 0, sizeof *sp);
    sp->dev = p->dev, sp->ino = p->ino, sp->offset = p->offset, sp->size = p->size;
    sp->seen_ns = now, sp->fp_len = p->fp_len, sp->eof = p->eof;
    memcpy(sp->fp, p->fp, p->fp_len);
}

/* Drops "file:" records not used for KEEP_RECORD_NS: files rotated away and deleted long ago. */
static int prune(MDB_txn *txn, MDB_dbi meta, int64_t now)
{
    MDB_cursor *c;
    MDB_val k = { 5, "file:" }, v;
    if (mdb_cursor_open(txn, meta, &c) != 0)
        return -1;
    int rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    while (rc == 0 && k.mv_size >= 5 && !memcmp(k.mv_data, "file:", 5)) {
        struct stored_pos sp;
        if (v.mv_size == sizeof sp && (memcpy(&sp, v.mv_data, sizeof sp), now - sp.seen_ns > KEEP_RECORD_NS))
            mdb_cursor_del(c, 0);
        rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(c);
    return 0;
}

static int put(MDB_txn *txn, MDB_dbi meta, const void *key, size_t klen, const struct stored_pos *sp)
{
    MDB_val k = { klen, (void *)key }, v = { sizeof *sp, (void *)sp };
    return mdb_put(txn, meta, &k, &v, 0) == 0 ? 0 : -1;
}

static int save_source(struct file_source *s, MDB_txn *txn, MDB_dbi meta, int64_t now)
{
    char key[4200];
    struct stored_pos sp;
    /* a duplicate name remembers the file too: alone in a later run, it finds its rotations */
    const struct file_pos *p = s->cur.pos ? s->cur.pos : s->dup_pos;
    if (s->is_stdin || !p)
        return 0;
    if (s->legacy_key && legacy_scan(txn, meta, s->canon, 0, 0, NULL, 1) < 0)
        return -1;
    to_stored(p, &sp, now);
    int n = snprintf(key, sizeof key, "source:%s", s->canon);
    const char *real = s->cur.pos && s->cur.real ? s->cur.real : "";
    size_t rlen = strlen(real) < PATH_MAX ? strlen(real) : 0;
    char *val = malloc(sizeof sp + rlen);
    if (!val)
        return -1;
    memcpy(val, &sp, sizeof sp);
    memcpy(val + sizeof sp, real, rlen);
    MDB_val k = { (size_t)n, key }, v = { sizeof sp + rlen, val };
    int rc = mdb_put(txn, meta, &k, &v, 0);
    free(val);
    return rc == 0 ? 0 : -1;
}

int file_set_save(struct file_set *set, MDB_txn *txn, MDB_dbi meta)
{
    int64_t now = wall_ns();
    if (!set->pruned && prune(txn, meta, now) < 0)
        return -1;
    for (int i = 0; i < set->nknown; i++) {
        uint8_t key[21];
        struct stored_pos sp;
        file_key(set->known[i].dev, set->known[i].ino, key);
        to_stored(&set->known[i], &sp, now);
        if (put(txn, meta, key, sizeof key, &sp) < 0)
            return -1;
    }
    for (int i = 0; i < set->nsources; i++)
        if (save_source(set->sources[i], txn, meta, now) < 0)
            return -1;
    return 0;
}

/* Marks what a commit made durable; called after it succeeded. */
void file_set_saved(struct file_set *set)
{
    set->pruned = 1;
    for (int i = 0; i < set->nsources; i++)
        set->sources[i]->legacy_key = 0;
}

void file_set_metrics(struct evbuffer *out, const struct file_set *set)
{
    metric_head(out, "feeder_file_lost_bytes_total", "counter",
                "bytes of followed files that could not be read: truncated or deleted before the feeder got to them");
    for (int i = 0; i < set->nsources; i++)
        if (!set->sources[i]->is_stdin) {
            evbuffer_add_printf(out, "feeder_file_lost_bytes_total{file=\"");
            metric_label_value(out, set->sources[i]->path);
            evbuffer_add_printf(out, "\"} %llu\n", ull(set->sources[i]->lost_bytes));
        }
    metric_head(out, "feeder_file_duplicate_names_total", "counter",
                "times a name was found to point at a file already read under another name (read once)");
    for (int i = 0; i < set->nsources; i++)
        if (!set->sources[i]->is_stdin) {
            evbuffer_add_printf(out, "feeder_file_duplicate_names_total{file=\"");
            metric_label_value(out, set->sources[i]->path);
            evbuffer_add_printf(out, "\"} %llu\n", ull(set->sources[i]->duplicates));
        }
}
