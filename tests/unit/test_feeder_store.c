/* test_feeder_store.c - the feeder's stored records (lib/feeder_store.c): the bytes lib/feeder_store.h
 * documents (little-endian numbers, whatever the host), a record decoded back to what was encoded,
 * and damaged records refused. */
#include <criterion/criterion.h>
#include <string.h>

#include "feeder_store.h"

static size_t encode_example(uint8_t *out, size_t cap)
{
    static struct ring r;
    static struct offence off[RULE_KINDS];
    memset(&r, 0, sizeof r);
    memset(off, 0, sizeof off);
    r.last = 0x01020304;
    r.slot[0x04 % RING_MINUTES] = 0x0506;
    off[RULE_AUTH] = (struct offence){ .until = 0x11121314, .count = 1, .last = 0x21222324 };
    struct feeder_subject_view v = { .kind = SUBJ_IP, .offence = off, .last_unknown = 0x31323334,
                                     .seen = 0x41424344 };
    v.ring[M_AUTH_FAIL] = &r;
    return feeder_subject_encode(&v, out, cap);
}

Test(feeder_store, subject_record_bytes)
{
    uint8_t buf[FEEDER_SUBJECT_VALUE_MAX];
    size_t n = encode_example(buf, sizeof buf);
    const uint8_t want[] = {
        3, 1,                                       /* version, one ring */
        M_AUTH_FAIL, 0x04, 0x03, 0x02, 0x01, 1,     /* metric, last, one slot */
        0x04, 0x06, 0x05,                           /* slot 4, count 0x0506 */
        1, RULE_AUTH, 0x14, 0x13, 0x12, 0x11, 1, 0, 0, 0, 0x24, 0x23, 0x22, 0x21,
        0x34, 0x33, 0x32, 0x31,                     /* last unknown */
        FEEDER_EXTRA_NONE,
        0x44, 0x43, 0x42, 0x41,                     /* seen */
    };
    cr_assert_eq(n, sizeof want);
    cr_assert_arr_eq(buf, want, sizeof want);
    cr_assert_eq(encode_example(buf, sizeof want - 1), 0, "a record that does not fit is not written");
}

Test(feeder_store, subject_record_round_trip)
{
    uint8_t buf[FEEDER_SUBJECT_VALUE_MAX];
    size_t n = encode_example(buf, sizeof buf);
    static struct feeder_subject_rec rec;
    cr_assert_eq(feeder_subject_decode(SUBJ_IP, buf, n, &rec), 0);
    cr_assert_eq(rec.nrings, 1);
    cr_assert_eq(rec.ring[0].metric, M_AUTH_FAIL);
    cr_assert_eq(rec.ring[0].last, 0x01020304);
    cr_assert_eq(rec.ring[0].nz, 1);
    cr_assert_eq(rec.ring[0].count[0], 0x0506);
    cr_assert_eq(rec.noffences, 1);
    cr_assert_eq(rec.offence[RULE_AUTH].until, 0x11121314);
    cr_assert_eq(rec.offence[RULE_DHA].count, 0);
    cr_assert_eq(rec.last_unknown, 0x31323334);
    cr_assert_eq(rec.seen, 0x41424344);
}

Test(feeder_store, damaged_records_refused)
{
    uint8_t buf[FEEDER_SUBJECT_VALUE_MAX];
    size_t n = encode_example(buf, sizeof buf);
    static struct feeder_subject_rec rec;
    cr_assert_eq(feeder_subject_decode(SUBJ_IP, buf, n - 1, &rec), -1, "short");
    cr_assert_eq(feeder_subject_decode(SUBJ_IP, buf, n + 1, &rec), -1, "a byte too many");
    buf[8] = RING_MINUTES;      /* a slot past the ring */
    cr_assert_eq(feeder_subject_decode(SUBJ_IP, buf, n, &rec), -1, "slot");
    n = encode_example(buf, sizeof buf);
    buf[n - 5] = FEEDER_EXTRA_ACCOUNT;      /* an account's record on an address */
    cr_assert_eq(feeder_subject_decode(SUBJ_IP, buf, n, &rec), -1, "extra");
    buf[0] = 4;
    cr_assert_eq(feeder_subject_decode(SUBJ_IP, buf, n, &rec), -1, "a newer version");
}

/* A ring of more non-zero slots than it has (nz > RING_MINUTES) is damaged: refused before any pair is
 * read, never stored past the record's arrays (ASan sees such a write), even when every slot number in
 * it is valid. */
Test(feeder_store, ring_with_more_pairs_than_slots_refused)
{
    static uint8_t buf[FEEDER_SUBJECT_VALUE_MAX];
    static struct feeder_subject_rec rec;
    size_t n = 0;
    buf[n++] = 3;                                   /* version */
    buf[n++] = 1;                                   /* one ring */
    buf[n++] = M_AUTH_FAIL;
    memset(buf + n, 0, 4), n += 4;                  /* last */
    buf[n++] = 200;                                 /* 200 non-zero slots of 64 */
    for (int j = 0; j < 200; j++) {
        buf[n++] = (uint8_t)(j % RING_MINUTES);
        buf[n++] = 1;
        buf[n++] = 0;
    }
    buf[n++] = 0;                                   /* no offences */
    memset(buf + n, 0, 4), n += 4;                  /* last unknown */
    buf[n++] = FEEDER_EXTRA_NONE;
    memset(buf + n, 0, 4), n += 4;                  /* seen */
    cr_assert_eq(feeder_subject_decode(SUBJ_IP, buf, n, &rec), -1);
}

Test(feeder_store, queue_record_round_trip)
{
    uint8_t buf[600];
    struct feeder_queue_rec q = { .flags = FEEDER_Q_HAS_IP | FEEDER_Q_HAS_SENDER | FEEDER_Q_ACCOUNT,
                                  .ip = { .family = ADDR_V4, .bytes = { 192, 0, 2, 1 } }, .seen = 7, .removed = 0,
                                  .domain = "example.org", .domain_len = 11, .account = "alice",
                                  .account_len = 5, .nrcpt = 0x0102 }, back;
    size_t n = feeder_queue_encode(&q, buf, sizeof buf);
    cr_assert_eq(n, 1 + 17 + 4 + 4 + 1 + 11 + 1 + 5 + 2);
    cr_assert_eq(buf[n - 2], 0x02, "nrcpt little-endian");
    cr_assert_eq(feeder_queue_decode(buf, n, &back), 0);
    cr_assert_eq(back.flags, q.flags);
    cr_assert_eq(back.domain_len, 11);
    cr_assert(!memcmp(back.domain, "example.org", 11));
    cr_assert(!memcmp(back.account, "alice", 5));
    cr_assert_eq(back.nrcpt, 0x0102);
    cr_assert_eq(feeder_queue_decode(buf, n - 1, &back), -1);
}
