/* store.h - the LMDB schema: the contract between the feeder, dnsblctl and dnsbl-server.
 *
 * One LMDB environment holds one sub-database per zone, named "zone:NAME". Inside it:
 *
 *   key 0x00 "meta"             zone_meta: SOA serial and which prefix lengths are present
 *   key 0x00 "map" c1 c2        the IPv4 /24 map, chunk c (below)
 *   key 0x00 "key" c1 c2        the key filter of IPv6 and domain keys, chunk c (below)
 *   key 0x04 a b c d plen       an IPv4 network (host bits zero); a /32 is a single address
 *   key 0x06 16 bytes plen      an IPv6 network
 *   key 'D' name                a domain (lower case, no trailing dot) or an account hash label
 *
 * A lookup of an address is one B-tree get per prefix length present in the zone (the meta record
 * says which, so a zone of single addresses costs exactly one get). A live allow entry at any
 * covering prefix length means "not listed"; otherwise the answer holds the live reasons of every
 * covering live listing, the most specific one's first (a manual /24 and a feeder /32 inside it: both
 * codes, both texts). A domain is covered by its own entry and by its parents' wildcards, the same
 * way. An entry is invisible once every reason in it has expired (an allow entry has one reason:
 * its expiry), whether or not anything has purged it yet: an expired allow entry shields nothing.
 *
 * The /24 map lets a server answer most "not listed" questions without searching the B-tree. Chunk
 * c (0..4095, the top 12 bits of an address) is 512 bytes: bit k of byte j set means some IPv4 entry
 * with a prefix length of 24..32 may exist in the /24 numbered c * 4096 + j * 8 + k. Every commit
 * keeps the map a superset of those entries (bits are set when entries are written, and only a
 * rebuild clears them); meta.v4_map_gen is the serial of the last commit that changed it, 0 when the
 * zone has no map (a server then searches the B-tree for every query).
 *
 * The key filter does the same for IPv6 and domain keys (and account hash labels): a bloom-like
 * bitmap of 2^24 bits in the same 4096 chunks of 512 bytes. Every such key sets the three bits
 * store_key_filter_bits names, all in one 64-bit word (one cache line per test); a clear bit means
 * the key is certainly absent, so a lookup skips its B-tree get. Maintained as the /24 map is: bits
 * set by every commit that writes keys, cleared only by a rebuild; meta.key_map_gen is the serial of
 * the last commit that changed it, 0 when the zone has none. The hash is part of the schema: a
 * change to it needs a new key prefix.
 *
 * The value is packed, little-endian:  flags u8, nreasons u8, since u32, then per reason
 * code u32 (the A record, network order), expires u32 (0 = never), text length u8, text.
 *
 * The change journal, for IXFR (RFC 1995), lives in the same sub-database under 0x00 keys, which every
 * reader of listings already skips:
 *
 *   key 0x00 "jnext"            u64 BE: the number the next journal entry gets
 *   key 0x00 'J' n (u64 BE)     journal entry n: key length u8, key, had-value u8, the value the key
 *                               had before the write (a before-image; absent when had-value is 0)
 *   key 0x00 'H' serial (u32 BE) the commit that made `serial`: old serial u32 LE (`serial` itself
 *                               when the journal was dropped there), commit time u32 LE, its entries
 *                               [first u64 LE, end u64 LE), the old serial's commit time u32 LE (0
 *                               unknown; for tools: readers use the old serial's own header)
 *
 * Account marks, in an account zone's sub-database under 0x00 keys as well (so no reader of listings,
 * no transfer and no expiry scan sees them; they are not DNS data, and writing one changes no serial):
 *
 *   key 0x00 'O' label          what an operator set for the account whose label (account_label) this
 *                               is: version u8 (1), flags u8 (ACCOUNT_DOMESTIC_ONLY), since u32 LE,
 *                               expires u32 LE (0 never), country 2 bytes (ISO 3166, upper case;
 *                               "\0\0": the zone's home-country), note length u8, note
 *
 * dnsblctl domestic writes them; dnsbl-server's policy endpoints read them (store_account_mark_get).
 *
 * The descendant index of domain keys, for empty non-terminals (RFC 8020: "spam.co" exists when
 * "a.spam.co" is listed, and a forward-ordered key cannot find its children):
 *
 *   key 0x00 'R' LABELS         for every 'D' key whose name has a parent (a dot): its labels in
 *                               reverse order, each followed by '.' ("a.spam.co": "co.spam.a."),
 *                               value empty. The names below N are the keys that start with N's.
 *
 * store_put and store_del keep it; a commit to a zone whose meta has no rindex_gen builds it.
 *
 * store_put and store_del note the key's before-image in the same transaction; a commit that records
 * expiries (store_mark_expired) notes every key with a reason that expired since meta.expired_upto.
 * The zone at an older serial S is then the current snapshot with, for every key changed after S, the
 * before-image of its first change after S (store_journal_changes), read as of S's commit time. The
 * writer trims the journal at each commit to an age and a number of entries (store_journal_limits);
 * a transaction that changes more entries than that, or clears the zone, drops the whole journal (a
 * secondary then transfers the zone in full). */
#ifndef DNSBL_STORE_H
#define DNSBL_STORE_H

#include <lmdb.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

#define LISTING_MAX_REASONS 8
#define REASON_TEXT_MAX 255
#define STORE_KEY_MAX (1 + DOMAIN_MAX)
#define STORE_VALUE_MAX (6 + LISTING_MAX_REASONS * (9 + REASON_TEXT_MAX))

enum listing_flag {
    LISTING_ALLOW = 1,      /* an exclusion: punches a hole in a wider listing */
    LISTING_MANUAL = 2,     /* made by an operator: the feeder never overwrites it */
    LISTING_WILDCARD = 4,   /* a domain entry that also answers for every subdomain */
    LISTING_SUBDOMAINS = 8, /* with WILDCARD: only the subdomains, not the name itself */
};

struct reason {
    uint32_t code;          /* A record address in host order: 127.0.0.2 is 0x7f000002 */
    uint32_t expires;       /* unix seconds, 0 = never */
    uint8_t text_len;
    const char *text;       /* not NUL-terminated; points into the store or the caller's memory */
};

struct listing {
    uint8_t flags;
    uint8_t nreasons;
    uint32_t since;
    struct reason reasons[LISTING_MAX_REASONS];
};

struct zone_meta {
    uint32_t serial;        /* bumped by every write that changes the zone */
    uint32_t expired_upto;  /* expiries up to this time are reflected in the serial (store_mark_expired) */
    uint64_t v4_plens;      /* bit n: some IPv4 key has prefix length n */
    uint64_t v6_plens[3];   /* bit n of the 129 */
    /* Last, so that a writer that does not know the map (and rewrites a shorter meta) drops it:
     * the map then counts as absent instead of silently incomplete. */
    uint32_t v4_map_gen;    /* the serial that last changed the /24 map; 0: no map */
    uint32_t reserved2;
    /* After it, for the same reason: a writer that knows only the /24 map drops the key filter. */
    uint32_t key_map_gen;   /* the serial that last changed the key filter; 0: no filter */
    uint32_t key_map_format;    /* STORE_KEY_MAP_FORMAT: the filter also holds domain keys' ancestors */
    /* After it, for the same reason: a writer that does not keep the descendant index drops this. */
    uint32_t rindex_gen;    /* nonzero: the domain keys' descendant index is complete */
    uint32_t reserved4;
};

#define STORE_V4MAP_CHUNKS 4096
#define STORE_V4MAP_CHUNK_BYTES 512

/* The key filter holds the keys store_key_filtered says (IPv6 networks, domains); other keys must
 * be searched in the B-tree. A key's bits: the three of store_key_filter_mask(h) in 64-bit word
 * store_key_filter_word(h) (bits word * 64 .. + 63 of the filter), h = store_key_hash(key). */
uint64_t store_key_hash(const uint8_t *key, size_t klen);
/* Format 1: besides each domain key, the filter holds 'P' NAME for every parent NAME of a domain key
 * ("a.spam.co": "Pspam.co", "Pco"): a clear bit says nothing is below NAME, no index walk needed. */
#define STORE_KEY_MAP_FORMAT 1
/* The filter key of "something is below this name": 'P' and the name; its length. */
static inline size_t store_key_parent(const char *name, size_t len, uint8_t *key)
{
    key[0] = 'P';
    for (size_t i = 0; i < len; i++)
        key[i + 1] = (uint8_t)name[i];
    return len + 1;
}
static inline int store_key_filtered(const uint8_t *key, size_t klen)
{
    return (key[0] == ADDR_V6 && klen == 18) || (key[0] == 'D' && klen > 1);
}
static inline uint32_t store_key_filter_word(uint64_t h) { return (uint32_t)(h >> 46); }
static inline uint64_t store_key_filter_mask(uint64_t h)
{
    return 1ULL << (h & 63) | 1ULL << (h >> 6 & 63) | 1ULL << (h >> 12 & 63);
}

struct store {
    MDB_env *env;
};

enum store_open_flag {
    STORE_READONLY = 1,
    STORE_NOMETASYNC = 2,   /* one fsync per commit: a system crash may undo the last commit, never corrupt */
};

int store_open(struct store *st, const char *dir, int flags, char *err, size_t errlen);
void store_close(struct store *st);
/* Bytes of the file in use (pages up to the last one written), and reader slots in use by any process. */
uint64_t store_used_bytes(struct store *st);
int store_readers(struct store *st);
/* Opens (creating it if needed) the sub-database of a zone. Not thread-safe against itself. */
int store_zone_dbi(struct store *st, const char *zone, MDB_dbi *dbi, char *err, size_t errlen);

/* Keys */
size_t store_key_net(const struct ipnet *net, uint8_t *key);
size_t store_key_domain(const char *name, size_t len, uint8_t *key);
/* Decodes a key back into a network or a domain; returns 'n', 'd', or 0 for meta/unknown keys. */
int store_key_decode(const uint8_t *key, size_t len, struct ipnet *net, char *domain, size_t cap);

/* Values */
int listing_encode(const struct listing *l, uint8_t *buf, size_t cap);
int listing_decode(const void *data, size_t len, struct listing *out);
int listing_live(const struct listing *l, uint32_t now);
/* A reason that answers: a code (not an allow entry) that has not expired. */
int reason_live(const struct reason *r, uint32_t now);
/* The distinct live codes, in the order of the reasons: what the A records of an answer hold. */
int listing_live_codes(const struct listing *l, uint32_t now, uint32_t codes[LISTING_MAX_REASONS]);
/* The latest expiry of the live reasons, 0 if one never expires. */
uint32_t listing_expires(const struct listing *l);
/* The earliest expiry of the live reasons, 0 if none expires: when an answer stops being true. */
uint32_t listing_next_expiry(const struct listing *l, uint32_t now);
/* Adds or replaces (same code) a reason; -1 when full. */
int listing_set_reason(struct listing *l, const struct reason *r);

/* Reading, inside a caller's read transaction. Results point into the map: valid until the
 * transaction ends. Return 1 listed, 0 not listed (or an allow entry), -1 on an LMDB error.
 * Listed: out holds the flags and since of the most specific live listing (matched, or the offset of
 * the matching name in `name`) and the live reasons of all covering listings, at most
 * LISTING_MAX_REASONS. Not listed because of a live allow entry: out is that entry (LISTING_ALLOW set)
 * and matched says where it is; not listed otherwise: out->flags and out->nreasons are 0. */
int store_read_meta(MDB_txn *txn, MDB_dbi dbi, struct zone_meta *meta);
int store_lookup_ip(MDB_txn *txn, MDB_dbi dbi, const struct zone_meta *meta,
                    const struct ipaddr *a, uint32_t now, struct listing *out, struct ipnet *matched);
/* Does any live listing lie inside or over the prefix (its names, or names below it, exist)? For
 * empty non-terminals (RFC 8020): 1 yes, 0 no, -1 on an LMDB error. */
int store_prefix_exists(MDB_txn *txn, MDB_dbi dbi, const struct zone_meta *meta, const struct ipnet *prefix,
                        uint32_t now);
/* Is some name below name (not name itself) listed, so that name exists as an empty non-terminal
 * (RFC 8020)? Decided by the descendant index, each descendant as store_lookup_domain answers it
 * (allow entries win); 0 when the zone has no index yet. 1, 0, or -1 on an LMDB error. */
int store_domain_has_listed_descendant(MDB_txn *txn, MDB_dbi dbi, const struct zone_meta *meta, const char *name,
                                       size_t len, uint32_t now);
/* Not listed, out->flags holds LISTING_SUBDOMAINS when the name itself carries a live "*.name"
 * listing: names below it are listed, so the name exists (an empty non-terminal, RFC 8020). */
int store_lookup_domain(MDB_txn *txn, MDB_dbi dbi, const char *name, size_t len, uint32_t now,
                        struct listing *out, size_t *matched_offset);
/* The same, but a key for which may_hold(arg, key, klen, &hash) says 0 is taken as absent without a
 * B-tree get: may_hold may say 1 for an absent key, never 0 for a present one (a key filter). It also
 * sets hash to store_key_hash(key, klen), which a caller that hashed the keys already has at hand. The
 * keys it passes are read from ix when it is not NULL (an index of the zone at txn's serial), else
 * from the B-tree. */
typedef int (*store_may_hold_fn)(const void *arg, const uint8_t *key, size_t klen, uint64_t *hash);
struct store_index;     /* store_index.h: every key of the snapshot, found without a B-tree search */
int store_lookup_domain_filtered(MDB_txn *txn, MDB_dbi dbi, const char *name, size_t len, uint32_t now,
                                 store_may_hold_fn may_hold, const void *arg, const struct store_index *ix,
                                 struct listing *out);
/* store_lookup_ip reading the entries from ix, an index of the same zone whose serial is meta's (NULL:
 * the B-tree), each key passed through may_hold (NULL: none) as store_lookup_domain_filtered does. */
int store_lookup_ip_indexed(MDB_txn *txn, MDB_dbi dbi, const struct store_index *ix, const struct zone_meta *meta,
                            const struct ipaddr *a, uint32_t now, store_may_hold_fn may_hold, const void *arg,
                            struct listing *out, struct ipnet *matched);
/* Would listing this key list something a live allow entry excludes? An allow entry at or above
 * the key's network (for a name: the name itself or a parent's wildcard), or, for a network, inside
 * it. 1 yes, 0 no, -1 on an LMDB error. The feeder asks this before it writes a listing. */
int store_allowed_key(MDB_txn *txn, MDB_dbi dbi, const uint8_t *key, size_t klen, uint32_t now);
/* Calls fn for every chunk of the /24 map in the snapshot; stops at a non-zero return. 0, or -1 on an
 * LMDB error or a malformed chunk. */
typedef int (*store_v4map_fn)(void *arg, unsigned chunk, const uint8_t *bits);
int store_v4map_each(MDB_txn *txn, MDB_dbi dbi, store_v4map_fn fn, void *arg);
/* The same for the key filter: chunk c holds bits c * 4096 .. + 4095 (store_key_filter_word). */
int store_keymap_each(MDB_txn *txn, MDB_dbi dbi, store_v4map_fn fn, void *arg);
/* The exact entry under key, live or not: 1 found, 0 absent, -1 error. */
int store_get(MDB_txn *txn, MDB_dbi dbi, const uint8_t *key, size_t klen, struct listing *out);

/* Writing: one transaction, any number of zones; the zones' meta records are brought up to date
 * once, at commit. */
#define STORE_TXN_ZONES 32
#define STORE_TXN_NEW24 64      /* /24s remembered per zone; beyond that the commit rescans the zone */
#define STORE_TXN_NEWKEYS 128   /* key filter hashes remembered per zone; beyond: the same */
struct store_txn_zone {                     /* what a transaction changed in one zone */
    MDB_dbi dbi;
    struct zone_meta add;                   /* prefix lengths written */
    uint32_t new24[STORE_TXN_NEW24];        /* /24s of the IPv4 entries (plen >= 24) written */
    int nnew24;                             /* > STORE_TXN_NEW24: too many, rebuild the map */
    uint64_t newkeys[STORE_TXN_NEWKEYS];    /* store_key_hash of the IPv6 and domain keys written */
    int nnewkeys;                           /* > STORE_TXN_NEWKEYS: too many, rebuild the filter */
    uint32_t expired_upto;                  /* non-zero: store it in the meta (store_mark_expired) */
    uint32_t old_serial, new_serial;        /* set by store_write_commit */
    uint64_t jfirst, jnext;                 /* journal entries this transaction wrote: [jfirst, jnext) */
    uint32_t jmax_age, jmax_size;           /* journal bounds (store_journal_limits); 0: the defaults */
    uint8_t jloaded;                        /* jfirst/jnext read from the store */
    uint8_t jover;                          /* too many changes, or a clear: drop the journal at commit */
};

struct store_txn {
    MDB_txn *txn;
    int nzones;
    struct store_txn_zone zones[STORE_TXN_ZONES];
};

int store_write_begin(struct store *st, struct store_txn *w);
/* mdb_flags: 0, or MDB_APPEND when the caller feeds sorted keys into an empty tail. */
int store_put(struct store_txn *w, MDB_dbi dbi, const uint8_t *key, size_t klen,
              const struct listing *l, unsigned mdb_flags);
/* 0 deleted, MDB_NOTFOUND, or another LMDB error. */
int store_del(struct store_txn *w, MDB_dbi dbi, const uint8_t *key, size_t klen);
/* Deletes every entry of a zone; its serial goes on from where it was. */
int store_clear_zone(struct store_txn *w, MDB_dbi dbi);
/* Marks a zone changed without writing an entry: its serial goes up at commit. dnsbl-server does
 * this when a listing expires, so that secondaries transfer the zone again. */
int store_touch(struct store_txn *w, MDB_dbi dbi);
/* Recomputes the zone's /24 map and key filter at commit from the entries then present (they
 * otherwise only gain bits). dnsblctl purge does this after deleting expired entries. */
int store_rebuild_v4map(struct store_txn *w, MDB_dbi dbi);
int store_write_commit(struct store_txn *w, uint32_t now);

/* Expiries. A listing expires without a write, so nothing would raise the zone's serial and
 * secondaries would keep serving it. A writer (the feeder; `dnsblctl expire` from a timer where no
 * feeder runs) records expiries: it scans for reasons that expired after meta.expired_upto and, if
 * there are any, raises the serial with store_mark_expired. dnsbl-server itself never writes.
 * store_expiry_scan: *due = some reason expired in (after, now]; *next = the earliest expiry after
 * now, 0 if none. 0, or an LMDB error. */
int store_expiry_scan(MDB_txn *txn, MDB_dbi dbi, uint32_t after, uint32_t now, int *due, uint32_t *next);
/* Raises the zone's serial at commit and records that expiries up to now are reflected in it. */
int store_mark_expired(struct store_txn *w, MDB_dbi dbi, uint32_t now);
/* What a writer knows of one zone's expiries, between passes. */
struct store_expiry {
    MDB_dbi dbi;
    uint8_t valid;
    uint32_t serial;        /* the serial `next` was computed at */
    uint32_t next;          /* the earliest expiry still ahead then, 0 none */
};
/* One pass over n zones: a zone is scanned unless it is known (valid), unchanged (same serial) and
 * its next expiry is still ahead; the serials of those with new expiries are raised in one commit.
 * *raised: how many. 0, or an LMDB error. */
int store_expire_pass(struct store *st, struct store_expiry *x, int n, uint32_t now, int *raised);
void store_write_abort(struct store_txn *w);

/* The change journal (schema above). Bounds of a zone's journal, applied by the commit that trims it:
 * entries older than max_age seconds or beyond the newest max_size entries go. 0 keeps the default. */
#define STORE_JOURNAL_AGE 86400
#define STORE_JOURNAL_SIZE 100000
int store_journal_limits(struct store_txn *w, MDB_dbi dbi, uint32_t max_age, uint32_t max_size);
/* Records a zone's bounds in the store (key 0x00 "jlimits": age u32 LE, size u32 LE; 0 the default),
 * for every writer's commits to apply; nothing to do on a read-only store. 0, or -1 with err. */
int store_journal_configure(struct store *st, MDB_dbi dbi, uint32_t max_age, uint32_t max_size, char *err,
                            size_t errlen);

/* One changed key between two serials, with its value at the older one. Pointers into the snapshot. */
struct store_change {
    const uint8_t *key;
    size_t klen;
    const void *old;            /* the value at the older serial; NULL: the key did not exist */
    size_t old_len;
    uint64_t n;                 /* journal entry number (the earliest change of the key) */
};
struct store_changes {
    struct store_change *c;     /* sorted by key, one per key */
    size_t n;
    uint32_t from_time;         /* commit time of the older serial: when its zone is read */
};
/* The keys changed from serial `from` to serial `to` (the snapshot's): 1 found, 0 the journal cannot
 * tell (from is older than the journal, or a link is missing: transfer the whole zone), -1 on an LMDB
 * error or no memory. Free with store_changes_free. */
int store_journal_changes(MDB_txn *txn, MDB_dbi dbi, uint32_t from, uint32_t to, struct store_changes *out);
void store_changes_free(struct store_changes *ch);
/* Lookups in the zone as it was: the snapshot with the changes' before-images in place (ch NULL: the
 * snapshot itself). As store_get / store_lookup_ip / store_lookup_domain. */
int store_get_at(MDB_txn *txn, MDB_dbi dbi, const struct store_changes *ch, const uint8_t *key, size_t klen,
                 struct listing *out);
int store_lookup_ip_at(MDB_txn *txn, MDB_dbi dbi, const struct store_changes *ch, const struct zone_meta *meta,
                       const struct ipaddr *a, uint32_t now, struct listing *out, struct ipnet *matched);
int store_lookup_domain_at(MDB_txn *txn, MDB_dbi dbi, const struct store_changes *ch, const char *name,
                           size_t len, uint32_t now, struct listing *out, size_t *matched_offset);
/* The change of a key, or NULL. */
const struct store_change *store_changes_find(const struct store_changes *ch, const uint8_t *key, size_t klen);

/* Account marks (schema above). */
enum account_mark_flag { ACCOUNT_DOMESTIC_ONLY = 1 };
#define ACCOUNT_MARK_KEY_LEN (2 + ACCOUNT_LABEL_LEN)
struct account_mark {
    uint8_t flags;
    uint32_t since, expires;        /* unix seconds; expires 0: never */
    char country[3];                /* "" for the zone's home-country */
    uint8_t note_len;
    const char *note;               /* not NUL-terminated; into the store or the caller's memory */
};
/* 1 and out filled when the account has a live mark (not expired at now), 0 when not, -1 on an LMDB
 * error or a malformed value. */
int store_account_mark_get(MDB_txn *txn, MDB_dbi dbi, const char label[ACCOUNT_LABEL_LEN], uint32_t now,
                           struct account_mark *out);
/* In a write transaction (store_write_begin's txn): 0, or an LMDB error; del: MDB_NOTFOUND if none. */
int store_account_mark_put(MDB_txn *txn, MDB_dbi dbi, const char label[ACCOUNT_LABEL_LEN],
                           const struct account_mark *m);
int store_account_mark_del(MDB_txn *txn, MDB_dbi dbi, const char label[ACCOUNT_LABEL_LEN]);

#endif
