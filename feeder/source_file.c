/* source_file.c - follow a log file like `tail -F`, remembering where we are.
 *
 * The stored position is (device, inode, offset, first bytes of the file). At start the file at the
 * path is taken up at the stored offset if it is the same file; if it was rotated by rename while we
 * were away, the rotated copy (PATH.1 or PATH.0) is finished first. While running, a new inode at the
 * path means rotation by rename: the old file is read to its end, then the new one from its start. A
 * file shorter than our offset was truncated in place (copytruncate): we start again at 0. A partial
 * last line waits for its newline. */
#include "source.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

#define READ_CHUNK (256 * 1024)
#define LINE_MAX_BYTES (64 * 1024)      /* longer lines are cut: syslog lines are a few hundred */

struct position {
    uint64_t dev, ino, offset;
    uint32_t fp_len;
    uint8_t fp[FP_MAX];
};

static void meta_key(const char *path, char *key, size_t *len)
{
    *len = (size_t)snprintf(key, 4200, "source:%s", path);
}

static int load_position(struct feeder *f, const char *path, struct position *pos)
{
    char key[4200];
    size_t klen;
    MDB_txn *txn;
    meta_key(path, key, &klen);
    MDB_val k = { klen, key }, v;
    int found = 0;
    if (mdb_txn_begin(f->store.env, NULL, MDB_RDONLY, &txn) == 0) {
        if (mdb_get(txn, f->state.meta_dbi, &k, &v) == 0 && v.mv_size == sizeof *pos) {
            memcpy(pos, v.mv_data, sizeof *pos);
            found = 1;
        }
        mdb_txn_abort(txn);
    }
    return found;
}

/* Does the open file start with the fingerprint? */
static int fingerprint_matches(int fd, const uint8_t *fp, uint32_t len)
{
    uint8_t buf[FP_MAX];
    if (len > FP_MAX)
        return 0;
    return pread(fd, buf, len, 0) == (ssize_t)len && !memcmp(buf, fp, len);
}

static void take_fingerprint(struct file_source *s)
{
    ssize_t n = pread(s->fd, s->fp, FP_MAX, 0);
    s->fp_len = n > 0 ? (uint32_t)n : 0;
}

static int open_at(struct file_source *s, const char *path, uint64_t offset)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0)
        return -1;
    if (fstat(fd, &st) < 0 || lseek(fd, (off_t)offset, SEEK_SET) < 0) {
        close(fd);
        return -1;
    }
    if (s->fd >= 0)
        close(s->fd);
    s->fd = fd;
    s->dev = st.st_dev;
    s->ino = st.st_ino;
    s->consumed = offset;
    s->len = 0;
    take_fingerprint(s);
    return 0;
}

/* The rotated copy of the file we were reading, if it is still there. */
static int open_rotated(struct file_source *s, const struct position *pos)
{
    static const char *const suffixes[] = { ".1", ".0", "-old" };
    for (size_t i = 0; i < sizeof suffixes / sizeof *suffixes; i++) {
        char p[4200];
        struct stat st;
        snprintf(p, sizeof p, "%s%s", s->path, suffixes[i]);
        if (stat(p, &st) < 0 || (uint64_t)st.st_dev != pos->dev || (uint64_t)st.st_ino != pos->ino)
            continue;
        if ((uint64_t)st.st_size < pos->offset || open_at(s, p, pos->offset) < 0)
            continue;
        if (!fingerprint_matches(s->fd, pos->fp, pos->fp_len)) {
            close(s->fd);
            s->fd = -1;
            continue;
        }
        log_info("%s: finishing the rotated %s from offset %llu", s->path, p, (unsigned long long)pos->offset);
        s->draining = 1;
        return 0;
    }
    return -1;
}

int file_source_open(struct file_source *s, const char *path, struct feeder *f, char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    s->fd = -1;
    s->cap = READ_CHUNK + LINE_MAX_BYTES;
    if (!(s->buf = malloc(s->cap))) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (!strcmp(path, "-")) {
        s->is_stdin = 1;
        s->fd = 0;
        snprintf(s->path, sizeof s->path, "-");
        return 0;
    }
    if (strlen(path) >= sizeof s->path) {
        snprintf(err, errlen, "%s: path too long", path);
        return -1;
    }
    snprintf(s->path, sizeof s->path, "%s", path);
    struct position pos;
    int known = load_position(f, path, &pos);
    struct stat st;
    if (stat(path, &st) == 0 && known && (uint64_t)st.st_dev == pos.dev && (uint64_t)st.st_ino == pos.ino &&
        (uint64_t)st.st_size >= pos.offset && open_at(s, path, pos.offset) == 0) {
        if (fingerprint_matches(s->fd, pos.fp, pos.fp_len))
            return 0;
        log_warn("%s: same inode but different content: reading it from the start", path);
        return open_at(s, path, 0) < 0 ? -1 : 0;
    }
    if (known && open_rotated(s, &pos) == 0)
        return 0;
    if (open_at(s, path, 0) < 0 && errno != ENOENT) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (s->fd < 0)
        log_info("%s: does not exist yet; waiting for it", path);
    return 0;
}

void file_source_close(struct file_source *s)
{
    if (s->fd > 0)
        close(s->fd);
    s->fd = -1;
    free(s->buf);
    s->buf = NULL;
}

/* Feeds the complete lines in the buffer and keeps the partial one. */
static void feed_buffer(struct file_source *s, struct feeder *f)
{
    size_t start = 0;
    for (;;) {
        char *nl = memchr(s->buf + start, '\n', s->len - start);
        if (!nl)
            break;
        size_t end = (size_t)(nl - s->buf);
        feed_line(f, s->buf + start, end > start && s->buf[end - 1] == '\r' ? end - start - 1 : end - start);
        start = end + 1;
    }
    if (start == 0 && s->len >= LINE_MAX_BYTES) {  /* an endless line: cut it */
        feed_line(f, s->buf, s->len);
        start = s->len;
    }
    s->consumed += start;
    memmove(s->buf, s->buf + start, s->len - start);
    s->len -= start;
}

/* After reading to the end: has the path been rotated or truncated? */
static void check_rotation(struct file_source *s)
{
    struct stat st, cur;
    if (s->is_stdin)
        return;
    if (stat(s->path, &st) < 0) {
        if (s->fd < 0 || s->draining)
            return;
        return;     /* renamed away and not yet recreated: keep the old one until a new one appears */
    }
    if (s->fd < 0 || s->draining || (st.st_ino != s->ino || st.st_dev != s->dev)) {
        if (s->fd >= 0 && s->len)
            log_warn("%s: %zu bytes without a newline at the end of the rotated file, dropped", s->path, s->len);
        s->draining = 0;
        if (open_at(s, s->path, 0) == 0)
            log_info("%s: %s", s->path, s->consumed ? "reopened" : "following a new file");
        return;
    }
    if (fstat(s->fd, &cur) == 0 && (uint64_t)cur.st_size < s->consumed + s->len) {
        log_warn("%s: truncated (copytruncate?): reading again from the start", s->path);
        open_at(s, s->path, 0);
    }
}

long file_source_poll(struct file_source *s, struct feeder *f, size_t budget)
{
    size_t total = 0;
    if (s->fd < 0) {
        check_rotation(s);
        if (s->fd < 0)
            return 0;
    }
    while (total < budget) {
        ssize_t n = read(s->fd, s->buf + s->len, s->cap - s->len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN)
                break;
            log_err("%s: read: %s", s->path, strerror(errno));
            return -1;
        }
        if (n == 0) {
            if (s->is_stdin) {
                if (s->len)     /* the last line of a pipe needs no newline */
                    feed_line(f, s->buf, s->len), s->len = 0;
                return total ? (long)total : -2;
            }
            check_rotation(s);
            break;
        }
        s->len += (size_t)n;
        total += (size_t)n;
        feed_buffer(s, f);
        if (s->fp_len < FP_MAX && !s->is_stdin)
            take_fingerprint(s);
    }
    return (long)total;
}

int file_source_save(struct file_source *s, MDB_txn *txn, MDB_dbi meta)
{
    if (s->is_stdin || s->fd < 0)
        return 0;
    struct position pos;
    memset(&pos, 0, sizeof pos);
    pos.dev = s->dev;
    pos.ino = s->ino;
    pos.offset = s->consumed;
    pos.fp_len = s->fp_len;
    memcpy(pos.fp, s->fp, s->fp_len);
    char key[4200];
    size_t klen;
    meta_key(s->path, key, &klen);
    MDB_val k = { klen, key }, v = { sizeof pos, &pos };
    return mdb_put(txn, meta, &k, &v, 0) == 0 ? 0 : -1;
}
