/*
 * store_sqlite.c - the SQLite backend of the store: one database file shared
 * by every process of the service (WAL, so readers never wait for the writer;
 * BEGIN IMMEDIATE, so two writers never deadlock upgrading a read lock; a
 * busy timeout, so a writer waits its turn). Statements are prepared once per
 * handle and kept. The schema is a list of migrations; PRAGMA user_version
 * says how many of them the file has.
 */
#include "store/store_backend.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>
#include <sqlite3.h>

/* How long a writer waits for another process's transaction before the store
 * counts as unavailable (stdin then exits 75 and Postfix retries). */
#define STORE_SQLITE_BUSY_TIMEOUT_MS 10000

/* Checkpoints every 16000 pages (64 MiB of WAL) rather than SQLite's 1000:
 * the counters and fingerprints take random pages, and a longer WAL copies
 * each hot page back into the database fewer times. 4000 took a third less
 * CPU a message than 1000; 16000 wrote 13% fewer bytes a message than 4000
 * at a 100,000 backlog (docs/performance-history.md, eighth round).
 * sq_wal_hook runs it, in place of SQLite's own. */
#define STORE_SQLITE_AUTOCHECKPOINT_PAGES 16000
/* A process that opens the database when no other has it open reads the
 * whole WAL to rebuild its index: a handle closing with a WAL longer than
 * this (1 MiB) checkpoints it and cuts it to nothing, so that one `stdin`
 * a message does not get slower as the WAL grows. */
#define STORE_SQLITE_CLOSE_CHECKPOINT_PAGES 256

/* Per connection. synchronous NORMAL: in WAL mode a commit survives a crash
 * of the process, and only a power loss may take the last commits back.
 * Savepoint journals stay in memory; 4 MiB of page cache per connection.
 * No mmap: every page of the file that a lookup touched stayed mapped and
 * counted as the daemon's resident memory, which grew with the database
 * (49 MiB after a 100,000-message backlog; the target is 32 MiB). */
static const char store_sqlite_pragmas[] =
    "PRAGMA synchronous = NORMAL;"
    "PRAGMA temp_store = MEMORY;"
    "PRAGMA cache_size = -4096;";

/* The outbox item that ?1 to ?5 name (sq_bind_as_claimed), as its claim
 * returned it: not claimed again since (store_outbox_finish()). */
#define OUTBOX_AS_CLAIMED "id = ?1 AND address = ?2 AND domain = ?3 AND created = ?4 AND claims = ?5"

#define OUTBOX_COLUMNS \
    "id, address, domain, reason, status, diagnostic, created, next_attempt, attempts, state, " \
    "last_result"
/* What a store_outbox_item holds: the columns of migration 9's copy and
 * migration 10's claims. */
#define OUTBOX_ITEM_COLUMNS OUTBOX_COLUMNS ", claims"

/* The outbox table as migrations 1 and 9 create it, under a name and with
 * a check of the state. Its text must stay as it is, since a new file takes
 * every migration from the first: a change to the table is a migration of
 * its own. */
#define OUTBOX_TABLE(name, state_check) \
    "CREATE TABLE " name " (" \
    "  id           INTEGER PRIMARY KEY," \
    "  address      TEXT NOT NULL COLLATE NOCASE," \
    "  domain       TEXT NOT NULL COLLATE NOCASE," \
    "  reason       TEXT," \
    "  status       TEXT," \
    "  diagnostic   TEXT," \
    "  created      INTEGER NOT NULL," \
    "  next_attempt INTEGER NOT NULL," \
    "  attempts     INTEGER NOT NULL DEFAULT 0," \
    "  state        INTEGER NOT NULL DEFAULT 0 CHECK (" state_check ")," \
    "  last_result  TEXT" \
    ");"

/* Migration i brings the schema from version i to i + 1. Append only: a
 * database file carries every step it has taken. Addresses and domains
 * compare without ASCII case, so the unique keys hold however a bounce
 * spells them. */
static const char *const store_sqlite_migrations[] = {
    /* 1: the first schema. */
    "CREATE TABLE soft_bounce ("
    "  address    TEXT NOT NULL COLLATE NOCASE,"
    "  domain     TEXT NOT NULL COLLATE NOCASE,"
    "  count      INTEGER NOT NULL,"
    "  first_seen INTEGER NOT NULL,"
    "  last_seen  INTEGER NOT NULL,"
    "  PRIMARY KEY (address, domain)"
    ") WITHOUT ROWID;"

    "CREATE TABLE permanent_bounce ("
    "  address         TEXT NOT NULL COLLATE NOCASE,"
    "  domain          TEXT NOT NULL COLLATE NOCASE,"
    "  reason          TEXT,"
    "  status          TEXT,"
    "  bounced_at      INTEGER NOT NULL,"
    "  platform_answer TEXT,"
    "  PRIMARY KEY (address, domain)"
    ") WITHOUT ROWID;"
    "CREATE INDEX permanent_bounce_domain ON permanent_bounce (domain);"

    "CREATE TABLE event ("
    "  id         INTEGER PRIMARY KEY,"
    "  message_id TEXT NOT NULL,"
    "  address    TEXT COLLATE NOCASE,"
    "  domain     TEXT COLLATE NOCASE,"
    "  verdict    TEXT NOT NULL,"
    "  reason     TEXT,"
    "  status     TEXT,"
    "  diagnostic TEXT,"
    "  ingress    TEXT,"
    "  at         INTEGER NOT NULL"
    ");"
    "CREATE INDEX event_domain ON event (domain, verdict);"

    /* state: 0 pending, 1 done, 2 given up (store_outbox_state). */
    OUTBOX_TABLE("outbox", "state IN (0, 1, 2)")
    "CREATE UNIQUE INDEX outbox_open ON outbox (address, domain) WHERE state <> 1;"
    "CREATE INDEX outbox_due ON outbox (state, next_attempt);"
    "CREATE INDEX outbox_domain ON outbox (domain, state);"

    "CREATE TABLE message_seen ("
    "  fingerprint TEXT PRIMARY KEY,"
    "  seen_at     INTEGER NOT NULL"
    ") WITHOUT ROWID;"

    "CREATE TABLE quarantine ("
    "  id                 INTEGER PRIMARY KEY,"
    "  raw                BLOB NOT NULL,"
    "  reason             TEXT,"
    "  envelope_recipient TEXT,"
    "  ingress            TEXT,"
    "  at                 INTEGER NOT NULL"
    ");"
    "CREATE INDEX quarantine_at ON quarantine (at);",

    /* 2: history by address, and retention by age, without table scans. */
    "CREATE INDEX event_address ON event (address, domain);"
    "CREATE INDEX event_at ON event (at);"
    "CREATE INDEX message_seen_at ON message_seen (seen_at);"
    "CREATE INDEX outbox_address ON outbox (address, domain, created);",

    /* 3: messages that are no bounce are kept beside the quarantine for a
     * few days (retention.notbounce_days), marked so that nothing counts or
     * replays them as quarantined. */
    "ALTER TABLE quarantine ADD COLUMN kind TEXT NOT NULL DEFAULT 'quarantine';",

    /* 4: the due items' index holds only pending items (state 0), the only
     * ones a claim or the next-due query looks for: a finished item leaves
     * it instead of staying in it for ever, so that every notification no
     * longer writes pages of an index of the whole outbox history. */
    ("DROP INDEX outbox_due;"
     "CREATE INDEX outbox_pending ON outbox (next_attempt) WHERE state = 0;"),

    /* 5: where a forwarded recipient's mail failed (the DSN's
     * Final-Recipient) beside the address the platform mailed. */
    "ALTER TABLE event ADD COLUMN final TEXT;",

    /* 6: fewer pages written a message. A message's SHA-256 fingerprint is
     * kept as its 32 bytes, not as
     * 64 hex digits: every message adds a key at a random place of this
     * index, and half the key's size is a smaller tree and fewer pages
     * written a commit (sq_fingerprint_key; a key that is no SHA-256 in hex
     * stays text, which never equals a blob). */
    ("CREATE TABLE message_seen_bytes ("
     "  fingerprint BLOB PRIMARY KEY,"
     "  seen_at     INTEGER NOT NULL"
     ") WITHOUT ROWID;"
     "INSERT INTO message_seen_bytes SELECT bouncedemails_fingerprint_key(fingerprint), seen_at"
     " FROM message_seen;"
     "DROP TABLE message_seen;"
     "ALTER TABLE message_seen_bytes RENAME TO message_seen;"
     "CREATE INDEX message_seen_at ON message_seen (seen_at);"
     /* ... and permanent bounces are no longer indexed by domain, which
      * only `stats` read: each suspension wrote a page of it at a random
      * place; `stats` counts them by domain in one pass instead. */
     "DROP INDEX permanent_bounce_domain;"),

    /* 7: the per-domain index of the outbox holds only open items (pending
     * or given up), the only ones `stats` and the metrics' gauges count: a
     * notification that is done leaves it instead of moving to the done
     * part of an index of the whole outbox history (an entry written less
     * per notification, and a gauges scrape no longer reads the history). */
    ("DROP INDEX outbox_domain;"
     "CREATE INDEX outbox_domain ON outbox (domain, state) WHERE state <> 1;"),

    /* 8: the key column named for what it now holds. A daemon of an
     * earlier version still running when a newer process upgraded the file
     * prepares its statements again after the schema change: with the old
     * name it would keep recording hex text, which this version never
     * matches, and a message it handled would be handled again when
     * delivered again. Under the new name its statements fail, and what it
     * takes is retried until it is restarted. */
    "ALTER TABLE message_seen RENAME COLUMN fingerprint TO digest;",

    /* 9: the outbox's state checked by three comparisons, not by IN. SQLite
     * codes the IN list of a CHECK as a temporary table that every insert,
     * and every update that sets the state, opens, fills and frees again:
     * about 1.7 us of each queued and each finished notification
     * (measured). A CHECK cannot be altered, so the table is copied, ids
     * and all. PostgreSQL's outbox keeps its IN, which it compares as an
     * array. */
    (OUTBOX_TABLE("outbox_checked", "state = 0 OR state = 1 OR state = 2")
     "INSERT INTO outbox_checked (" OUTBOX_COLUMNS ") SELECT " OUTBOX_COLUMNS " FROM outbox;"
     "DROP TABLE outbox;"
     "ALTER TABLE outbox_checked RENAME TO outbox;"
     "CREATE UNIQUE INDEX outbox_open ON outbox (address, domain) WHERE state <> 1;"
     "CREATE INDEX outbox_address ON outbox (address, domain, created);"
     "CREATE INDEX outbox_pending ON outbox (next_attempt) WHERE state = 0;"
     "CREATE INDEX outbox_domain ON outbox (domain, state) WHERE state <> 1;"),

    /* 10: each claim of a notification numbered, so that an outcome lands
     * only on the claim it belongs to: a request that outlived its lease
     * must not overwrite what the process that claimed the notification
     * after it recorded (store_outbox_finish()). */
    "ALTER TABLE outbox ADD COLUMN claims INTEGER NOT NULL DEFAULT 0;",
};

#define STORE_SQLITE_SCHEMA_VERSION ((int)G_N_ELEMENTS(store_sqlite_migrations))

/* Every statement the backend runs, prepared on first use and kept. */
#define STORE_SQLITE_STATEMENTS(X) \
    X(BEGIN, "BEGIN IMMEDIATE") \
    X(COMMIT, "COMMIT") \
    X(ROLLBACK, "ROLLBACK") \
    X(SAVEPOINT, "SAVEPOINT store_sp") \
    X(RELEASE, "RELEASE store_sp") \
    X(ROLLBACK_TO, "ROLLBACK TO store_sp") \
    X(SEEN, \
      "INSERT INTO message_seen (digest, seen_at) VALUES (?1, ?2) ON CONFLICT DO NOTHING") \
    X(SOFT_INCREMENT, \
      "INSERT INTO soft_bounce (address, domain, count, first_seen, last_seen)" \
      " VALUES (?1, ?2, 1, ?3, ?3)" \
      " ON CONFLICT (address, domain) DO UPDATE SET" \
      "  count = CASE WHEN last_seen < ?4 THEN 1 ELSE count + 1 END," \
      "  first_seen = CASE WHEN last_seen < ?4 THEN ?3 ELSE first_seen END," \
      "  last_seen = max(last_seen, ?3)" \
      " RETURNING count") \
    X(SOFT_RESET, "DELETE FROM soft_bounce WHERE address = ?1 AND (?2 IS NULL OR domain = ?2)") \
    X(PERMANENT_ADD, \
      "INSERT INTO permanent_bounce (address, domain, reason, status, bounced_at)" \
      " VALUES (?1, ?2, ?3, ?4, ?5)" \
      " ON CONFLICT (address, domain) DO UPDATE SET" \
      "  reason = excluded.reason, status = excluded.status, bounced_at = excluded.bounced_at") \
    X(PERMANENT_REMOVE, \
      "DELETE FROM permanent_bounce WHERE address = ?1 AND (?2 IS NULL OR domain = ?2)") \
    X(PERMANENT_ANSWER, \
      "UPDATE permanent_bounce SET platform_answer = ?6 WHERE address = ?2 AND domain = ?3" \
      " AND EXISTS (SELECT 1 FROM outbox WHERE " OUTBOX_AS_CLAIMED ")") \
    X(EVENT_ADD, \
      "INSERT INTO event (message_id, address, domain, verdict, reason, status, diagnostic," \
      " ingress, at, final) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)") \
    X(OUTBOX_ADD, \
      "INSERT INTO outbox (address, domain, reason, status, diagnostic, created, next_attempt)" \
      " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)" \
      " ON CONFLICT (address, domain) WHERE state <> 1 DO UPDATE SET" \
      "  reason = excluded.reason, status = excluded.status," \
      "  diagnostic = excluded.diagnostic, next_attempt = excluded.next_attempt," \
      "  attempts = 0, state = 0" \
      " WHERE state = 2") \
    X(OUTBOX_DUE, \
      "SELECT " OUTBOX_ITEM_COLUMNS " FROM outbox WHERE state = 0 AND next_attempt <= ?1" \
      " ORDER BY next_attempt, id LIMIT ?2") \
    X(OUTBOX_CLAIM, \
      "UPDATE outbox SET next_attempt = ?3, claims = claims + 1 WHERE id IN (SELECT id FROM outbox" \
      "  WHERE state = 0 AND next_attempt <= ?1 ORDER BY next_attempt, id LIMIT ?2)" \
      " RETURNING " OUTBOX_ITEM_COLUMNS) \
    X(OUTBOX_CLAIM_ADDRESS, \
      "UPDATE outbox SET next_attempt = ?4, claims = claims + 1 WHERE address = ?1 AND domain = ?2" \
      " AND state <> 1 AND state = 0 AND next_attempt <= ?3 RETURNING " OUTBOX_ITEM_COLUMNS) \
    X(OUTBOX_LIST, "SELECT " OUTBOX_ITEM_COLUMNS " FROM outbox WHERE state IN (0, 2) ORDER BY state, id") \
    X(OUTBOX_FINISH, \
      "UPDATE outbox SET state = ?6, next_attempt = ?7, last_result = ?8," \
      " attempts = attempts + 1 WHERE " OUTBOX_AS_CLAIMED) \
    X(OUTBOX_RETRY, "UPDATE outbox SET state = 0, next_attempt = ?1, attempts = 0 WHERE state = 2") \
    X(OUTBOX_DEFER_DOMAIN, \
      "UPDATE outbox SET next_attempt = ?2 WHERE domain = ?1 AND state = 0 AND next_attempt < ?2") \
    X(OUTBOX_CANCEL, \
      "DELETE FROM outbox WHERE state <> 1 AND address = ?1 AND (?2 IS NULL OR domain = ?2)") \
    X(OUTBOX_NEXT_DUE, "SELECT min(next_attempt) FROM outbox WHERE state = 0") \
    X(QUARANTINE_ADD, \
      "INSERT INTO quarantine (raw, envelope_recipient, ingress, reason, at)" \
      " VALUES (?1, ?2, ?3, ?4, ?5)") \
    X(NOTBOUNCE_ADD, \
      "INSERT INTO quarantine (raw, envelope_recipient, ingress, reason, at, kind)" \
      " VALUES (?1, ?2, ?3, ?4, ?5, 'notbounce')") \
    X(QUARANTINE_LIST, \
      "SELECT id, reason, envelope_recipient, ingress, at, length(raw)," \
      " CASE WHEN ?1 THEN raw END FROM quarantine WHERE kind = 'quarantine' ORDER BY at, id") \
    X(QUARANTINE_REMOVE, "DELETE FROM quarantine WHERE id = ?1 AND kind = 'quarantine'") \
    X(QUARANTINE_COUNT, "SELECT count(*) FROM quarantine WHERE kind = 'quarantine'") \
    X(FIND_ADDRESS, \
      "SELECT d.domain, s.count, s.first_seen, s.last_seen, p.address IS NOT NULL," \
      " p.reason, p.status, p.bounced_at, p.platform_answer" \
      " FROM (SELECT domain FROM soft_bounce WHERE address = ?1" \
      "       UNION SELECT domain FROM permanent_bounce WHERE address = ?1) AS d" \
      " LEFT JOIN soft_bounce AS s ON s.address = ?1 AND s.domain = d.domain" \
      " LEFT JOIN permanent_bounce AS p ON p.address = ?1 AND p.domain = d.domain" \
      " ORDER BY d.domain") \
    /* "o.state <> 1" repeats outbox_domain's condition, see       \
     * sq_outbox_claim_address. */                                   \
    X(STATS, \
      "WITH p (domain, n) AS MATERIALIZED (SELECT domain, count(*) FROM permanent_bounce GROUP BY domain)," \
      " d (domain) AS (SELECT domain FROM soft_bounce" \
      "  UNION SELECT domain FROM p" \
      "  UNION SELECT domain FROM event WHERE domain IS NOT NULL" \
      "  UNION SELECT domain FROM outbox)" \
      " SELECT d.domain," \
      "  (SELECT count(*) FROM soft_bounce AS s WHERE s.domain = d.domain AND s.last_seen >= ?1)," \
      "  coalesce((SELECT p.n FROM p WHERE p.domain = d.domain), 0)," \
      "  (SELECT count(*) FROM event AS e WHERE e.domain = d.domain AND e.verdict = 'complaint')," \
      "  (SELECT count(*) FROM event AS e WHERE e.domain = d.domain)," \
      "  (SELECT count(*) FROM outbox AS o WHERE o.domain = d.domain AND o.state = 0 AND o.state <> 1)," \
      "  (SELECT count(*) FROM outbox AS o WHERE o.domain = d.domain AND o.state = 2 AND o.state <> 1)" \
      " FROM d ORDER BY d.domain") \
    X(OUTBOX_GAUGES, \
      "SELECT domain, sum(state = 0), sum(state = 2), min(CASE WHEN state = 0 THEN created END)" \
      " FROM outbox WHERE state <> 1 GROUP BY domain ORDER BY domain") \
    X(QUARANTINE_SIZE, \
      "SELECT count(*), coalesce(sum(length(raw)), 0) FROM quarantine WHERE kind = 'quarantine'") \
    X(MATCH_ADDRESSES, \
      "SELECT address FROM (SELECT address FROM soft_bounce UNION SELECT address FROM permanent_bounce)" \
      " WHERE instr(lower(address), lower(?1)) > 0 ORDER BY address LIMIT ?2") \
    X(IMPORT_SOFT, \
      "INSERT INTO soft_bounce (address, domain, count, first_seen, last_seen)" \
      " VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING") \
    X(IMPORT_PERMANENT, \
      "INSERT INTO permanent_bounce (address, domain, reason, status, bounced_at, platform_answer)" \
      " VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING") \
    X(QUARANTINE_GET, \
      "SELECT id, reason, envelope_recipient, ingress, at, length(raw), raw FROM quarantine" \
      " WHERE id = ?1 AND kind = 'quarantine'") \
    X(HISTORY, \
      "SELECT e.at, e.domain, e.verdict, e.reason, e.status, e.diagnostic, e.ingress, e.message_id," \
      " o.state, o.attempts, o.last_result, e.address, e.final" \
      " FROM event AS e LEFT JOIN outbox AS o" \
      "  ON e.verdict IN ('permanent', 'escalated', 'complaint') AND o.id = (SELECT o2.id" \
      "   FROM outbox AS o2 WHERE o2.address = e.address AND o2.domain = e.domain" \
      "   AND o2.created <= e.at ORDER BY o2.created DESC, o2.id DESC LIMIT 1)" \
      " WHERE e.address = ?1 AND (?2 IS NULL OR e.domain = ?2) ORDER BY e.at, e.id")

typedef enum store_sqlite_stmt {
#define STORE_SQLITE_STMT_ENUM(id, sql) STMT_##id,
    STORE_SQLITE_STATEMENTS(STORE_SQLITE_STMT_ENUM)
#undef STORE_SQLITE_STMT_ENUM
    STMT_COUNT
} store_sqlite_stmt;

static const char *const store_sqlite_sql[STMT_COUNT] = {
#define STORE_SQLITE_STMT_SQL(id, sql) [STMT_##id] = sql,
    STORE_SQLITE_STATEMENTS(STORE_SQLITE_STMT_SQL)
#undef STORE_SQLITE_STMT_SQL
};

typedef struct store_sqlite {
    store base;
    sqlite3 *db;
    char *path;
    sqlite3_stmt *stmts[STMT_COUNT];
    struct timespec busy_since;   /* when the current wait for the lock began */
    int wal_pages;                /* pages in the WAL after this handle's last commit, 0: none */
} store_sqlite;

static store_sqlite *sq(store *st) { return (store_sqlite *)st; }

/* The data itself was refused: a retry would be refused the same way. */
static bool sq_code_permanent(int code)
{
    return code == SQLITE_CONSTRAINT || code == SQLITE_TOOBIG || code == SQLITE_MISMATCH;
}

static int sq_fail(store *st, const char *what)
{
    int code = sqlite3_errcode(sq(st)->db) & 0xff;
    store_fail(st, "%s: %s (%s)", what, sqlite3_errmsg(sq(st)->db), sq(st)->path);
    st->error_permanent = sq_code_permanent(code);
    return -1;
}

/* The cached statement, ready to bind; NULL (with the error set) when it
 * cannot be prepared, which only a damaged or foreign database causes. */
static sqlite3_stmt *sq_stmt(store *st, store_sqlite_stmt id)
{
    store_sqlite *s = sq(st);
    if (!s->stmts[id] &&
        sqlite3_prepare_v3(s->db, store_sqlite_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
                           &s->stmts[id], NULL) != SQLITE_OK) {
        sq_fail(st, "preparing a statement");
        return NULL;
    }
    return s->stmts[id];
}

/* Runs a statement that returns no rows, then resets it. */
static int sq_exec(store *st, sqlite3_stmt *stmt, const char *what)
{
    int rc = sqlite3_step(stmt);
    int ret = rc == SQLITE_DONE ? 0 : sq_fail(st, what);
    sqlite3_reset(stmt);
    return ret;
}

/* Runs a statement that takes no parameters. */
static int sq_exec_id(store *st, store_sqlite_stmt id, const char *what)
{
    sqlite3_stmt *stmt = sq_stmt(st, id);
    return stmt ? sq_exec(st, stmt, what) : -1;
}

static void sq_bind_text(sqlite3_stmt *stmt, int i, const char *v)
{
    sqlite3_bind_text(stmt, i, v, -1, SQLITE_STATIC);
}

static char *sq_column_strdup(sqlite3_stmt *stmt, int i)
{
    return g_strdup((const char *)sqlite3_column_text(stmt, i));
}

static int sq_changes(store *st) { return sqlite3_changes(sq(st)->db); }

/* sq_exec(), and the rows it changed in *count (when count is not NULL). */
static int sq_exec_count(store *st, sqlite3_stmt *stmt, const char *what, int *count)
{
    if (sq_exec(st, stmt, what) < 0) return -1;
    if (count) *count = sq_changes(st);
    return 0;
}

/* ---- transactions ---- */

/* The daemon's threads each have a handle on the same file. A thread that
 * finds the write lock taken waits on this condition (sq_busy) and the
 * thread that ends its transaction wakes it, so that the lock passes from
 * thread to thread at once rather than after a sleep. */
static pthread_mutex_t sq_writer_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t sq_writer_done = PTHREAD_COND_INITIALIZER;
static unsigned long sq_writer_generation;

static void sq_writer_finished(void)
{
    pthread_mutex_lock(&sq_writer_lock);
    sq_writer_generation++;
    pthread_cond_broadcast(&sq_writer_done);
    pthread_mutex_unlock(&sq_writer_lock);
}

static int sq_begin(store *st) { return sq_exec_id(st, STMT_BEGIN, "begin"); }

static int sq_commit(store *st)
{
    int rc = sq_exec_id(st, STMT_COMMIT, "commit");
    sq_writer_finished();
    return rc;
}

static int sq_rollback(store *st)
{
    /* SQLite may have rolled back already (after SQLITE_FULL, IOERR, ...). */
    int rc = sqlite3_get_autocommit(sq(st)->db) ? 0 : sq_exec_id(st, STMT_ROLLBACK, "rollback");
    sq_writer_finished();
    return rc;
}

static int sq_savepoint(store *st)
{
    /* Outside BEGIN IMMEDIATE, a savepoint would open a deferred transaction
     * that can deadlock against another process's writer. */
    if (sqlite3_get_autocommit(sq(st)->db))
        return store_fail(st, "savepoint outside a transaction");
    return sq_exec_id(st, STMT_SAVEPOINT, "savepoint");
}

static int sq_savepoint_release(store *st)
{
    return sq_exec_id(st, STMT_RELEASE, "release savepoint");
}

static int sq_savepoint_rollback(store *st)
{
    if (sq_exec_id(st, STMT_ROLLBACK_TO, "rollback to savepoint") < 0) return -1;
    return sq_savepoint_release(st);
}

/* ---- fingerprints and counters ---- */

/* The key of a fingerprint in message_seen: the 32 bytes of a SHA-256 in
 * lower-case hex (what the policy computes), else NULL (it is kept as the
 * text it is). */
#define SQ_FINGERPRINT_BYTES 32

static const unsigned char *sq_fingerprint_key(const char *fingerprint, size_t len,
                                               unsigned char out[SQ_FINGERPRINT_BYTES])
{
    static const char digits[] = "0123456789abcdef";
    if (len != 2 * SQ_FINGERPRINT_BYTES) return NULL;
    for (size_t i = 0; i < SQ_FINGERPRINT_BYTES; i++) {
        const char *hi = memchr(digits, fingerprint[2 * i], 16);
        const char *lo = memchr(digits, fingerprint[2 * i + 1], 16);
        if (!hi || !lo) return NULL;
        out[i] = (unsigned char)((hi - digits) << 4 | (lo - digits));
    }
    return out;
}

/* bouncedemails_fingerprint_key(text): sq_fingerprint_key() in SQL, for the
 * migration that turned the stored fingerprints into bytes. */
static void sq_fingerprint_key_sql(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    unsigned char key[SQ_FINGERPRINT_BYTES];
    const char *text = sqlite3_value_type(argv[0]) == SQLITE_TEXT
        ? (const char *)sqlite3_value_text(argv[0]) : NULL;
    if (text && sq_fingerprint_key(text, (size_t)sqlite3_value_bytes(argv[0]), key))
        sqlite3_result_blob(ctx, key, sizeof key, SQLITE_TRANSIENT);
    else
        sqlite3_result_value(ctx, argv[0]);
}

static int sq_message_seen(store *st, const char *fingerprint, time_t now, int *seen)
{
    sqlite3_stmt *stmt = sq_stmt(st, STMT_SEEN);
    if (!stmt) return -1;
    unsigned char key[SQ_FINGERPRINT_BYTES];
    if (sq_fingerprint_key(fingerprint, strlen(fingerprint), key))
        sqlite3_bind_blob(stmt, 1, key, sizeof key, SQLITE_STATIC);
    else
        sq_bind_text(stmt, 1, fingerprint);
    sqlite3_bind_int64(stmt, 2, now);
    if (sq_exec(st, stmt, "recording a message fingerprint") < 0) return -1;
    *seen = sq_changes(st) == 0;
    return 0;
}

static int sq_soft_increment(store *st, const char *address, const char *domain, time_t now,
                             long window_s, int *count)
{
    sqlite3_stmt *stmt = sq_stmt(st, STMT_SOFT_INCREMENT);
    if (!stmt) return -1;
    sq_bind_text(stmt, 1, address);
    sq_bind_text(stmt, 2, domain);
    sqlite3_bind_int64(stmt, 3, now);
    sqlite3_bind_int64(stmt, 4, window_s > 0 ? (sqlite3_int64)now - window_s : INT64_MIN);
    int ret = 0;
    if (sqlite3_step(stmt) == SQLITE_ROW)
        *count = sqlite3_column_int(stmt, 0);
    else
        ret = sq_fail(st, "counting a soft bounce");
    sqlite3_reset(stmt);
    return ret;
}

static int sq_soft_reset(store *st, const char *address, const char *domain)
{
    sqlite3_stmt *stmt = sq_stmt(st, STMT_SOFT_RESET);
    if (!stmt) return -1;
    sq_bind_text(stmt, 1, address);
    sq_bind_text(stmt, 2, domain);
    return sq_exec(st, stmt, "resetting a soft-bounce counter");
}

/* ---- permanent bounces and the event log ---- */

static int sq_permanent_add(store *st, const store_permanent *p)
{
    sqlite3_stmt *stmt = sq_stmt(st, STMT_PERMANENT_ADD);
    if (!stmt) return -1;
    sq_bind_text(stmt, 1, p->address);
    sq_bind_text(stmt, 2, p->domain);
    sq_bind_text(stmt, 3, p->reason);
    sq_bind_text(stmt, 4, p->status);
    sqlite3_bind_int64(stmt, 5, p->when);
    return sq_exec(st, stmt, "recording a permanent bounce");
}

static int sq_permanent_remove(store *st, const char *address, const char *domain, int *removed)
{
    sqlite3_stmt *stmt = sq_stmt(st, STMT_PERMANENT_REMOVE);
    if (!stmt) return -1;
    sq_bind_text(stmt, 1, address);
    sq_bind_text(stmt, 2, domain);
    return sq_exec_count(st, stmt, "lifting a suppression", removed);
}

/* Binds OUTBOX_AS_CLAIMED's parameters. */
static void sq_bind_as_claimed(sqlite3_stmt *stmt, const store_outbox_item *item)
{
    sqlite3_bind_int64(stmt, 1, item->id);
    sq_bind_text(stmt, 2, item->address);
    sq_bind_text(stmt, 3, item->domain);
    sqlite3_bind_int64(stmt, 4, item->created);
    sqlite3_bind_int64(stmt, 5, item->claims);
}

static int sq_permanent_set_answer(store *st, const store_outbox_item *item, const char *answer)
{
    sqlite3_stmt *stmt = sq_stmt(st, STMT_PERMANENT_ANSWER);
    if (!stmt) return -1;
    sq_bind_as_claimed(stmt, item);
    sq_bind_text(stmt, 6, answer);
    return sq_exec(st, stmt, "recording the platform's answer");
}

static int sq_event_add(store *st, const store_event *ev)
{
    sqlite3_stmt *stmt = sq_stmt(st, STMT_EVENT_ADD);
    if (!stmt) return -1;
    sq_bind_text(stmt, 1, ev->message_id);
    sq_bind_text(stmt, 2, ev->address);
    sq_bind_text(stmt, 3, ev->domain);
    sq_bind_text(stmt, 4, ev->verdict);
    sq_bind_text(stmt, 5, ev->reason);
    sq_bind_text(stmt, 6, ev->status);
    sq_bind_text(stmt, 7, ev->diagnostic);
    sq_bind_text(stmt, 8, ev->ingress);
    sqlite3_bind_int64(stmt, 9, ev->when);
    sq_bind_text(stmt, 10, ev->final);
    return sq_exec(st, stmt, "writing the event log");
}

/* ---- outbox ---- */

static int sq_outbox_add(store *st, const char *address, const char *domain, const char *reason,
                         const char *status, const char *diagnostic, time_t now)
{
    sqlite3_stmt *stmt = sq_stmt(st, STMT_OUTBOX_ADD);
    if (!stmt) return -1;
    sq_bind_text(stmt, 1, address);
    sq_bind_text(stmt, 2, domain);
    sq_bind_text(stmt, 3, reason);
    sq_bind_text(stmt, 4, status);
    sq_bind_text(stmt, 5, diagnostic);
    sqlite3_bind_int64(stmt, 6, now);
    return sq_exec(st, stmt, "queueing a notification");
}

static void sq_outbox_row(sqlite3_stmt *stmt, store_outbox_item *it)
{
    it->id = sqlite3_column_int64(stmt, 0);
    it->address = sq_column_strdup(stmt, 1);
    it->domain = sq_column_strdup(stmt, 2);
    it->reason = sq_column_strdup(stmt, 3);
    it->status = sq_column_strdup(stmt, 4);
    it->diagnostic = sq_column_strdup(stmt, 5);
    it->created = (time_t)sqlite3_column_int64(stmt, 6);
    it->next_attempt = (time_t)sqlite3_column_int64(stmt, 7);
    it->attempts = sqlite3_column_int(stmt, 8);
    it->state = (store_outbox_state)sqlite3_column_int(stmt, 9);
    it->last_result = sq_column_strdup(stmt, 10);
    it->claims = sqlite3_column_int64(stmt, 11);
}

/* Steps a bound statement to its end, collecting outbox rows. */
static int sq_outbox_rows(store *st, sqlite3_stmt *stmt, const char *what,
                          store_outbox_item **items, size_t *n)
{
    GArray *rows = g_array_new(FALSE, TRUE, sizeof(store_outbox_item));
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        store_outbox_item it;
        sq_outbox_row(stmt, &it);
        g_array_append_val(rows, it);
    }
    int ret = rc == SQLITE_DONE ? 0 : sq_fail(st, what);
    sqlite3_reset(stmt);
    if (ret < 0) {
        store_outbox_free((store_outbox_item *)(void *)rows->data, rows->len);
        g_array_free(rows, FALSE);
        *items = NULL;
        *n = 0;
        return -1;
    }
    *n = rows->len;
    *items = (store_outbox_item *)(void *)g_array_free(rows, FALSE);
    return 0;
}

static sqlite3_int64 sq_limit(size_t max)
{
    return max > (size_t)INT64_MAX ? INT64_MAX : (sqlite3_int64)max;
}

static int sq_outbox_due(store *st, time_t now, size_t max, store_outbox_item **items, size_t *n)
{
    sqlite3_stmt *stmt = sq_stmt(st, STMT_OUTBOX_DUE);
    if (!stmt) return -1;
    sqlite3_bind_int64(stmt, 1, now);
    sqlite3_bind_int64(stmt, 2, sq_limit(max));
    return sq_outbox_rows(st, stmt, "reading the due notifications", items, n);
}

static int sq_outbox_cmp_id(const void *a, const void *b)
{
    int64_t x = ((const store_outbox_item *)a)->id, y = ((const store_outbox_item *)b)->id;
    return (x > y) - (x < y);
}

static int sq_outbox_claim(store *st, time_t now, long lease_s, size_t max,
                           store_outbox_item **items, size_t *n)
{
    sqlite3_stmt *stmt = sq_stmt(st, STMT_OUTBOX_CLAIM);
    if (!stmt) return -1;
    sqlite3_bind_int64(stmt, 1, now);
    sqlite3_bind_int64(stmt, 2, sq_limit(max));
    sqlite3_bind_int64(stmt, 3, (sqlite3_int64)now + (lease_s > 0 ? lease_s : 0));
    if (sq_outbox_rows(st, stmt, "claiming the due notifications", items, n) < 0) return -1;
    /* RETURNING gives rows in no promised order. */
    if (*n > 1) qsort(*items, *n, sizeof **items, sq_outbox_cmp_id);
    return 0;
}

/* Its statement repeats "state <> 1", the condition of the partial index
 * outbox_open: SQLite uses a partial index only when the query states its
 * condition word for word, and would otherwise scan outbox_pending. */
static int sq_outbox_claim_address(store *st, const char *address, const char *domain, time_t now,
                                   long lease_s, GArray *items)
{
    sqlite3_stmt *stmt = sq_stmt(st, STMT_OUTBOX_CLAIM_ADDRESS);
    if (!stmt) return -1;
    sq_bind_text(stmt, 1, address);
    sq_bind_text(stmt, 2, domain);
    sqlite3_bind_int64(stmt, 3, now);
    sqlite3_bind_int64(stmt, 4, (sqlite3_int64)now + (lease_s > 0 ? lease_s : 0));
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        store_outbox_item it;
        sq_outbox_row(stmt, &it);
        g_array_append_val(items, it);
    }
    int ret = rc == SQLITE_DONE ? 0 : sq_fail(st, "claiming a notification");
    sqlite3_reset(stmt);
    return ret;
}

static int sq_outbox_list(store *st, store_outbox_item **items, size_t *n)
{
    sqlite3_stmt *stmt = sq_stmt(st, STMT_OUTBOX_LIST);
    if (!stmt) return -1;
    return sq_outbox_rows(st, stmt, "listing the outbox", items, n);
}

static int sq_outbox_finish(store *st, const store_outbox_item *item, store_outbox_state state,
                            time_t next_attempt, const char *result)
{
    if (state != STORE_OUTBOX_PENDING && state != STORE_OUTBOX_DONE &&
        state != STORE_OUTBOX_GIVEN_UP)
        return store_fail(st, "outbox item %lld: unknown state %d", (long long)item->id, (int)state);
    sqlite3_stmt *stmt = sq_stmt(st, STMT_OUTBOX_FINISH);
    if (!stmt) return -1;
    sq_bind_as_claimed(stmt, item);
    sqlite3_bind_int(stmt, 6, (int)state);
    sqlite3_bind_int64(stmt, 7, next_attempt);
    sq_bind_text(stmt, 8, result);
    int changed;
    if (sq_exec_count(st, stmt, "recording a notification's outcome", &changed) < 0) return -1;
    if (changed == 0) return store_fail(st, STORE_OUTBOX_NOT_AS_CLAIMED, (long long)item->id, item->address);
    return 0;
}

static int sq_outbox_retry_given_up(store *st, time_t now, int *count)
{
    sqlite3_stmt *stmt = sq_stmt(st, STMT_OUTBOX_RETRY);
    if (!stmt) return -1;
    sqlite3_bind_int64(stmt, 1, now);
    return sq_exec_count(st, stmt, "queueing given-up notifications again", count);
}

static int sq_outbox_cancel(store *st, const char *address, const char *domain, int *count)
{
    sqlite3_stmt *stmt = sq_stmt(st, STMT_OUTBOX_CANCEL);
    if (!stmt) return -1;
    sq_bind_text(stmt, 1, address);
    sq_bind_text(stmt, 2, domain);
    return sq_exec_count(st, stmt, "cancelling notifications", count);
}

static int sq_outbox_defer_domain(store *st, const char *domain, time_t until, int *count)
{
    sqlite3_stmt *stmt = sq_stmt(st, STMT_OUTBOX_DEFER_DOMAIN);
    if (!stmt) return -1;
    sq_bind_text(stmt, 1, domain);
    sqlite3_bind_int64(stmt, 2, until);
    return sq_exec_count(st, stmt, "deferring a platform's notifications", count);
}

static int sq_outbox_next_due(store *st, time_t *when, int *any)
{
    sqlite3_stmt *stmt = sq_stmt(st, STMT_OUTBOX_NEXT_DUE);
    if (!stmt) return -1;
    int ret = 0;
    if (sqlite3_step(stmt) == SQLITE_ROW) {
        *any = sqlite3_column_type(stmt, 0) != SQLITE_NULL;
        *when = *any ? (time_t)sqlite3_column_int64(stmt, 0) : 0;
    } else {
        ret = sq_fail(st, "reading the outbox");
    }
    sqlite3_reset(stmt);
    return ret;
}

/* ---- quarantine ---- */

/* A row of the quarantine table, by the statement that sets its kind. */
static int sq_quarantine_insert(store *st, store_sqlite_stmt which, const char *raw, size_t raw_len,
                                const char *envelope_recipient, const char *ingress,
                                const char *reason, time_t now)
{
    if (raw_len > INT_MAX) return store_fail(st, "quarantine: message of %zu bytes", raw_len);
    sqlite3_stmt *stmt = sq_stmt(st, which);
    if (!stmt) return -1;
    /* A non-NULL pointer, so that an empty message is an empty blob, not NULL. */
    sqlite3_bind_blob(stmt, 1, raw ? raw : "", (int)raw_len, SQLITE_STATIC);
    sq_bind_text(stmt, 2, envelope_recipient);
    sq_bind_text(stmt, 3, ingress);
    sq_bind_text(stmt, 4, reason);
    sqlite3_bind_int64(stmt, 5, now);
    return sq_exec(st, stmt, "quarantining a message");
}

static int sq_quarantine_add(store *st, const char *raw, size_t raw_len,
                             const char *envelope_recipient, const char *ingress,
                             const char *reason, time_t now)
{
    return sq_quarantine_insert(st, STMT_QUARANTINE_ADD, raw, raw_len, envelope_recipient, ingress, reason, now);
}

static int sq_notbounce_add(store *st, const char *raw, size_t raw_len,
                            const char *envelope_recipient, const char *ingress, time_t now)
{
    return sq_quarantine_insert(st, STMT_NOTBOUNCE_ADD, raw, raw_len, envelope_recipient, ingress,
                                "not a bounce", now);
}

static void sq_quarantine_row(sqlite3_stmt *stmt, int with_raw, store_quarantine_item *it)
{
    it->id = sqlite3_column_int64(stmt, 0);
    it->reason = sq_column_strdup(stmt, 1);
    it->envelope_recipient = sq_column_strdup(stmt, 2);
    it->ingress = sq_column_strdup(stmt, 3);
    it->when = (time_t)sqlite3_column_int64(stmt, 4);
    it->raw_len = (size_t)sqlite3_column_int64(stmt, 5);
    it->raw = NULL;
    if (with_raw) {
        const void *blob = sqlite3_column_blob(stmt, 6);
        it->raw_len = (size_t)sqlite3_column_bytes(stmt, 6);
        it->raw = g_malloc(it->raw_len + 1);
        if (it->raw_len) memcpy(it->raw, blob, it->raw_len);
        it->raw[it->raw_len] = '\0';
    }
}

static int sq_quarantine_list(store *st, int with_raw, store_quarantine_item **items, size_t *n)
{
    sqlite3_stmt *stmt = sq_stmt(st, STMT_QUARANTINE_LIST);
    if (!stmt) return -1;
    sqlite3_bind_int(stmt, 1, with_raw != 0);
    GArray *rows = g_array_new(FALSE, TRUE, sizeof(store_quarantine_item));
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        store_quarantine_item it;
        sq_quarantine_row(stmt, with_raw, &it);
        g_array_append_val(rows, it);
    }
    int ret = rc == SQLITE_DONE ? 0 : sq_fail(st, "listing the quarantine");
    sqlite3_reset(stmt);
    *n = ret < 0 ? 0 : rows->len;
    if (ret < 0) store_quarantine_free((store_quarantine_item *)(void *)rows->data, rows->len);
    *items = (store_quarantine_item *)(void *)g_array_free(rows, FALSE);
    if (ret < 0) *items = NULL;
    return ret;
}

static int sq_quarantine_remove(store *st, int64_t id)
{
    sqlite3_stmt *stmt = sq_stmt(st, STMT_QUARANTINE_REMOVE);
    if (!stmt) return -1;
    sqlite3_bind_int64(stmt, 1, id);
    if (sq_exec(st, stmt, "removing a quarantined message") < 0) return -1;
    if (sq_changes(st) == 0) return store_fail(st, "no quarantined message %lld", (long long)id);
    return 0;
}

/* ---- admin ---- */

static void sq_address_row(sqlite3_stmt *stmt, store_address_info *in)
{
    in->domain = sq_column_strdup(stmt, 0);
    in->soft_count = sqlite3_column_int(stmt, 1);
    in->soft_first = (time_t)sqlite3_column_int64(stmt, 2);
    in->soft_last = (time_t)sqlite3_column_int64(stmt, 3);
    in->permanent = sqlite3_column_int(stmt, 4);
    in->permanent_reason = sq_column_strdup(stmt, 5);
    in->permanent_status = sq_column_strdup(stmt, 6);
    in->permanent_when = (time_t)sqlite3_column_int64(stmt, 7);
    in->platform_answer = sq_column_strdup(stmt, 8);
}

static int sq_find_address(store *st, const char *address, store_address_info **info, size_t *n)
{
    sqlite3_stmt *stmt = sq_stmt(st, STMT_FIND_ADDRESS);
    if (!stmt) return -1;
    sq_bind_text(stmt, 1, address);
    GArray *rows = g_array_new(FALSE, TRUE, sizeof(store_address_info));
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        store_address_info in;
        sq_address_row(stmt, &in);
        g_array_append_val(rows, in);
    }
    int ret = rc == SQLITE_DONE ? 0 : sq_fail(st, "looking up an address");
    sqlite3_reset(stmt);
    *n = ret < 0 ? 0 : rows->len;
    if (ret < 0) store_address_info_free((store_address_info *)(void *)rows->data, rows->len);
    *info = (store_address_info *)(void *)g_array_free(rows, FALSE);
    if (ret < 0) *info = NULL;
    return ret;
}

static int sq_quarantine_count(store *st, long *count)
{
    sqlite3_stmt *stmt = sq_stmt(st, STMT_QUARANTINE_COUNT);
    if (!stmt) return -1;
    int ret = 0;
    if (sqlite3_step(stmt) == SQLITE_ROW)
        *count = (long)sqlite3_column_int64(stmt, 0);
    else
        ret = sq_fail(st, "counting the quarantine");
    sqlite3_reset(stmt);
    return ret;
}

static void sq_stats_row(sqlite3_stmt *stmt, store_domain_stats *ds)
{
    ds->domain = sq_column_strdup(stmt, 0);
    ds->soft_addresses = (long)sqlite3_column_int64(stmt, 1);
    ds->permanent = (long)sqlite3_column_int64(stmt, 2);
    ds->complaints = (long)sqlite3_column_int64(stmt, 3);
    ds->events = (long)sqlite3_column_int64(stmt, 4);
    ds->outbox_pending = (long)sqlite3_column_int64(stmt, 5);
    ds->outbox_given_up = (long)sqlite3_column_int64(stmt, 6);
}

static int sq_stats(store *st, time_t now, long window_s, store_domain_stats **stats, size_t *n,
                    long *quarantined)
{
    *stats = NULL;
    *n = 0;
    if (sq_quarantine_count(st, quarantined) < 0) return -1;
    sqlite3_stmt *stmt = sq_stmt(st, STMT_STATS);
    if (!stmt) return -1;
    sqlite3_bind_int64(stmt, 1, window_s > 0 ? (sqlite3_int64)now - window_s : INT64_MIN);
    GArray *rows = g_array_new(FALSE, TRUE, sizeof(store_domain_stats));
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        store_domain_stats ds;
        sq_stats_row(stmt, &ds);
        g_array_append_val(rows, ds);
    }
    int ret = rc == SQLITE_DONE ? 0 : sq_fail(st, "counting per domain");
    sqlite3_reset(stmt);
    if (ret < 0) {
        store_stats_free((store_domain_stats *)(void *)rows->data, rows->len);
        g_array_free(rows, FALSE);
        return -1;
    }
    *n = rows->len;
    *stats = (store_domain_stats *)(void *)g_array_free(rows, FALSE);
    return 0;
}

/* ---- gauges ---- */

static int sq_outbox_gauges(store *st, store_outbox_gauge **gauges, size_t *n)
{
    *gauges = NULL;
    *n = 0;
    sqlite3_stmt *stmt = sq_stmt(st, STMT_OUTBOX_GAUGES);
    if (!stmt) return -1;
    GArray *rows = g_array_new(FALSE, TRUE, sizeof(store_outbox_gauge));
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        store_outbox_gauge g = {
            .domain = sq_column_strdup(stmt, 0),
            .pending = (long)sqlite3_column_int64(stmt, 1),
            .given_up = (long)sqlite3_column_int64(stmt, 2),
            .oldest_pending = (time_t)sqlite3_column_int64(stmt, 3),
        };
        g_array_append_val(rows, g);
    }
    int ret = rc == SQLITE_DONE ? 0 : sq_fail(st, "counting the outbox");
    sqlite3_reset(stmt);
    if (ret < 0) {
        store_outbox_gauges_free((store_outbox_gauge *)(void *)rows->data, rows->len);
        g_array_free(rows, FALSE);
        return -1;
    }
    *n = rows->len;
    *gauges = (store_outbox_gauge *)(void *)g_array_free(rows, FALSE);
    return 0;
}

static int sq_quarantine_size(store *st, store_quarantine_size *size)
{
    sqlite3_stmt *stmt = sq_stmt(st, STMT_QUARANTINE_SIZE);
    if (!stmt) return -1;
    int ret = 0;
    if (sqlite3_step(stmt) == SQLITE_ROW) {
        size->messages = (long)sqlite3_column_int64(stmt, 0);
        size->bytes = (long long)sqlite3_column_int64(stmt, 1);
    } else {
        ret = sq_fail(st, "measuring the quarantine");
    }
    sqlite3_reset(stmt);
    return ret;
}

/* ---- switch-over and operations ---- */

static int sq_match_addresses(store *st, const char *part, size_t max, char ***addresses, size_t *n)
{
    sqlite3_stmt *stmt = sq_stmt(st, STMT_MATCH_ADDRESSES);
    if (!stmt) return -1;
    sq_bind_text(stmt, 1, part);
    sqlite3_bind_int64(stmt, 2, max > INT64_MAX ? INT64_MAX : (sqlite3_int64)max);
    GPtrArray *rows = g_ptr_array_new();
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
        g_ptr_array_add(rows, sq_column_strdup(stmt, 0));
    int ret = rc == SQLITE_DONE ? 0 : sq_fail(st, "matching addresses");
    sqlite3_reset(stmt);
    *n = rows->len;
    *addresses = (char **)g_ptr_array_free(rows, FALSE);
    if (ret < 0) {
        store_strings_free(*addresses, *n);
        *addresses = NULL;
        *n = 0;
    }
    return ret;
}

static int sq_import_soft(store *st, const char *address, const char *domain, int count,
                          time_t first, time_t last, int *added)
{
    sqlite3_stmt *stmt = sq_stmt(st, STMT_IMPORT_SOFT);
    if (!stmt) return -1;
    sq_bind_text(stmt, 1, address);
    sq_bind_text(stmt, 2, domain);
    sqlite3_bind_int(stmt, 3, count);
    sqlite3_bind_int64(stmt, 4, first);
    sqlite3_bind_int64(stmt, 5, last);
    if (sq_exec(st, stmt, "importing a soft-bounce counter") < 0) return -1;
    *added = sq_changes(st) > 0;
    return 0;
}

static int sq_import_permanent(store *st, const store_permanent *p, const char *answer, int *added)
{
    sqlite3_stmt *stmt = sq_stmt(st, STMT_IMPORT_PERMANENT);
    if (!stmt) return -1;
    sq_bind_text(stmt, 1, p->address);
    sq_bind_text(stmt, 2, p->domain);
    sq_bind_text(stmt, 3, p->reason);
    sq_bind_text(stmt, 4, p->status);
    sqlite3_bind_int64(stmt, 5, p->when);
    sq_bind_text(stmt, 6, answer);
    if (sq_exec(st, stmt, "importing a permanent bounce") < 0) return -1;
    *added = sq_changes(st) > 0;
    return 0;
}

static int sq_quarantine_get(store *st, int64_t id, store_quarantine_item **item, int *found)
{
    sqlite3_stmt *stmt = sq_stmt(st, STMT_QUARANTINE_GET);
    if (!stmt) return -1;
    sqlite3_bind_int64(stmt, 1, id);
    int rc = sqlite3_step(stmt), ret = 0;
    if (rc == SQLITE_ROW) {
        *item = g_new0(store_quarantine_item, 1);
        sq_quarantine_row(stmt, 1, *item);
        *found = 1;
    } else if (rc != SQLITE_DONE) {
        ret = sq_fail(st, "reading a quarantined message");
    }
    sqlite3_reset(stmt);
    return ret;
}

static void sq_history_row(sqlite3_stmt *stmt, store_history_item *it)
{
    it->when = (time_t)sqlite3_column_int64(stmt, 0);
    it->domain = sq_column_strdup(stmt, 1);
    it->verdict = sq_column_strdup(stmt, 2);
    it->reason = sq_column_strdup(stmt, 3);
    it->status = sq_column_strdup(stmt, 4);
    it->diagnostic = sq_column_strdup(stmt, 5);
    it->ingress = sq_column_strdup(stmt, 6);
    it->message_id = sq_column_strdup(stmt, 7);
    it->notify_state = sqlite3_column_type(stmt, 8) == SQLITE_NULL ? -1 : sqlite3_column_int(stmt, 8);
    it->notify_attempts = sqlite3_column_int(stmt, 9);
    it->notify_result = sq_column_strdup(stmt, 10);
    it->address = sq_column_strdup(stmt, 11);
    it->final = sq_column_strdup(stmt, 12);
}

static int sq_history(store *st, const char *address, const char *domain, store_history_item **items,
                      size_t *n)
{
    sqlite3_stmt *stmt = sq_stmt(st, STMT_HISTORY);
    if (!stmt) return -1;
    sq_bind_text(stmt, 1, address);
    sq_bind_text(stmt, 2, domain);
    GArray *rows = g_array_new(FALSE, TRUE, sizeof(store_history_item));
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        store_history_item it;
        sq_history_row(stmt, &it);
        g_array_append_val(rows, it);
    }
    int ret = rc == SQLITE_DONE ? 0 : sq_fail(st, "reading the event log");
    sqlite3_reset(stmt);
    *n = rows->len;
    *items = (store_history_item *)(void *)g_array_free(rows, FALSE);
    if (ret < 0) {
        store_history_free(*items, *n);
        *items = NULL;
        *n = 0;
    }
    return ret;
}

/* What each kind of row is, for retention: its table, key and time
 * columns, and which of the table's rows it is. */
static const struct {
    const char *table, *key, *at, *which;
} sq_purge_kinds[STORE_PURGE_KIND_COUNT] = {
    [STORE_PURGE_FINGERPRINTS] = { "message_seen", "digest", "seen_at", "" },
    [STORE_PURGE_EVENTS] = { "event", "id", "at", "" },
    [STORE_PURGE_QUARANTINE] = { "quarantine", "id", "at", " AND kind = 'quarantine'" },
    [STORE_PURGE_NOTBOUNCES] = { "quarantine", "id", "at", " AND kind = 'notbounce'" },
};

static int sq_purge(store *st, store_purge_kind kind, time_t before, long batch, int dry_run,
                    long *count)
{
    char *sql = dry_run
        ? g_strdup_printf("SELECT count(*) FROM %s WHERE %s < ?1%s", sq_purge_kinds[kind].table,
                          sq_purge_kinds[kind].at, sq_purge_kinds[kind].which)
        : g_strdup_printf("DELETE FROM %s WHERE %s IN (SELECT %s FROM %s WHERE %s < ?1%s LIMIT ?2)",
                          sq_purge_kinds[kind].table, sq_purge_kinds[kind].key,
                          sq_purge_kinds[kind].key, sq_purge_kinds[kind].table,
                          sq_purge_kinds[kind].at, sq_purge_kinds[kind].which);
    sqlite3_stmt *stmt;
    int rc = sqlite3_prepare_v2(sq(st)->db, sql, -1, &stmt, NULL);
    g_free(sql);
    if (rc != SQLITE_OK) return sq_fail(st, "preparing a purge");
    sqlite3_bind_int64(stmt, 1, before);
    if (!dry_run) sqlite3_bind_int64(stmt, 2, batch);
    rc = sqlite3_step(stmt);
    int ret = rc == (dry_run ? SQLITE_ROW : SQLITE_DONE) ? 0 : sq_fail(st, "purging");
    if (ret == 0) *count = dry_run ? (long)sqlite3_column_int64(stmt, 0) : sq_changes(st);
    sqlite3_finalize(stmt);
    return ret;
}

/* ---- opening, schema, closing ---- */

/* After every commit: SQLite's automatic checkpoint, and the WAL's length
 * for sq_close. */
static int sq_wal_hook(void *arg, sqlite3 *db, const char *name, int pages)
{
    store_sqlite *s = arg;
    s->wal_pages = pages;
    if (pages >= STORE_SQLITE_AUTOCHECKPOINT_PAGES)
        sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    return SQLITE_OK;
}

static void sq_close(store *st)
{
    store_sqlite *s = sq(st);
    for (int i = 0; i < STMT_COUNT; i++) sqlite3_finalize(s->stmts[i]);
    /* Best effort, never waiting for another process's write lock: a long
     * WAL checkpointed and cut. A handle that only read (`stats`, `find`)
     * writes nothing. No PRAGMA optimize: it ran ANALYZE of the outbox at
     * every close (its partial indexes, empty once every notification is
     * done, never count as analysed), a read of the whole table that made
     * each `stdin` run slower than the last. Without statistics every
     * statement gets the plan it gets with them (docs/performance-history.md,
     * seventh round). */
    if (s->db && s->wal_pages >= STORE_SQLITE_CLOSE_CHECKPOINT_PAGES) {
        sqlite3_busy_timeout(s->db, 0);
        sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
    }
    if (s->db)
        sqlite3_close_v2(s->db);
    g_free(s->path);
    g_free(s);
}

static int sq_user_version(store *st, int *version)
{
    sqlite3_stmt *stmt;
    if (sqlite3_prepare_v2(sq(st)->db, "PRAGMA user_version", -1, &stmt, NULL) != SQLITE_OK)
        return sq_fail(st, "reading the schema version");
    int ret = 0;
    if (sqlite3_step(stmt) == SQLITE_ROW)
        *version = sqlite3_column_int(stmt, 0);
    else
        ret = sq_fail(st, "reading the schema version");
    sqlite3_finalize(stmt);
    return ret;
}

static int sq_exec_sql(store *st, const char *sql, const char *what)
{
    return sqlite3_exec(sq(st)->db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : sq_fail(st, what);
}

/* Applies the migrations the file lacks, all in one transaction, so that a
 * crash leaves the old schema, and two processes starting at once migrate it
 * once (the second sees the new version after waiting for the lock). */
static int sq_migrate(store *st)
{
    int version;
    if (sq_user_version(st, &version) < 0) return -1;
    if (version == STORE_SQLITE_SCHEMA_VERSION) return 0;
    if (sq_begin(st) < 0) return -1;
    if (sq_user_version(st, &version) < 0) goto fail;
    if (version > STORE_SQLITE_SCHEMA_VERSION) {
        store_fail(st, "%s: schema version %d is newer than this program's (%d)", sq(st)->path,
                   version, STORE_SQLITE_SCHEMA_VERSION);
        goto fail;
    }
    for (; version < STORE_SQLITE_SCHEMA_VERSION; version++) {
        char what[64];
        snprintf(what, sizeof what, "migrating the schema to version %d", version + 1);
        if (sq_exec_sql(st, store_sqlite_migrations[version], what) < 0) goto fail;
    }
    char pragma[64];
    snprintf(pragma, sizeof pragma, "PRAGMA user_version = %d", STORE_SQLITE_SCHEMA_VERSION);
    if (sq_exec_sql(st, pragma, "setting the schema version") < 0) goto fail;
    if (sq_commit(st) < 0) goto fail;
    return 0;
fail:
    sq_rollback(st);
    return -1;
}

/* Statistics that earlier versions' PRAGMA optimize left (see sq_close)
 * would stay as they were while the tables grow, and statistics of a small
 * outbox make the planner scan its whole history for the gauges: they go,
 * and every statement takes its index by the planner's rules alone. They
 * are dropped by a second connection: a connection's own DROP leaves the
 * statistics it has loaded in its memory, while another's schema change
 * makes it read the schema again at its next statement. Best effort: a
 * store busy for more than a second drops them at a later open. */
static void sq_drop_statistics(store *st)
{
    store_sqlite *s = sq(st);
    if (sqlite3_table_column_metadata(s->db, "main", "sqlite_stat1", NULL, NULL, NULL, NULL, NULL,
                                      NULL) != SQLITE_OK)
        return;
    sqlite3 *other = NULL;
    if (sqlite3_open_v2(s->path, &other, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) == SQLITE_OK) {
        sqlite3_busy_timeout(other, 1000);
        sqlite3_exec(other, "DROP TABLE IF EXISTS sqlite_stat1", NULL, NULL, NULL);
    }
    sqlite3_close(other);
}

/* Waits for another writer in short steps. sqlite3_busy_timeout's handler
 * sleeps 1, 2, 5, ... 100 ms, far longer than a transaction of this service
 * holds the lock (well under a millisecond): with the notifier and an
 * ingress writing at once it slept ~80 ms at a time, and throughput fell
 * to a few hundred messages a second. A writer in this process wakes the
 * wait when it ends its transaction; one in another process (stdin) is
 * polled in steps of 50 us doubling to 1 ms; up to the same overall timeout. */
static int sq_busy(void *arg, int attempt)
{
    store_sqlite *s = arg;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (attempt == 0) s->busy_since = now;
    long waited_ms = (now.tv_sec - s->busy_since.tv_sec) * 1000L + (now.tv_nsec - s->busy_since.tv_nsec) / 1000000L;
    if (waited_ms >= STORE_SQLITE_BUSY_TIMEOUT_MS) return 0;
    long step_ns = (attempt < 5 ? 50L << attempt : 1000L) * 1000L;
    struct timespec until = { now.tv_sec, now.tv_nsec + step_ns };
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&sq_writer_lock);
    unsigned long seen = sq_writer_generation;
    while (sq_writer_generation == seen &&
           pthread_cond_clockwait(&sq_writer_done, &sq_writer_lock, CLOCK_MONOTONIC, &until) == 0)
        ;
    pthread_mutex_unlock(&sq_writer_lock);
    return 1;
}

static int sq_configure(store *st)
{
    store_sqlite *s = sq(st);
    sqlite3_busy_timeout(s->db, STORE_SQLITE_BUSY_TIMEOUT_MS);
    sqlite3_stmt *stmt;
    if (sqlite3_prepare_v2(s->db, "PRAGMA journal_mode = WAL", -1, &stmt, NULL) != SQLITE_OK)
        return sq_fail(st, "opening");
    /* Processes opening a new file at once race to switch it to WAL, and
     * SQLite answers the loser SQLITE_BUSY at once, without its busy
     * handler: it tries again, within the same timeout. */
    int rc;
    for (int waited_ms = 0;
         (rc = sqlite3_step(stmt)) == SQLITE_BUSY && waited_ms < STORE_SQLITE_BUSY_TIMEOUT_MS; waited_ms += 2) {
        sqlite3_reset(stmt);
        g_usleep(2000);
    }
    const char *mode = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(stmt, 0) : NULL;
    int ret = 0;
    if (!mode)
        ret = sq_fail(st, "switching to WAL");
    else if (g_ascii_strcasecmp(mode, "wal") != 0)
        ret = store_fail(st, "%s: the journal mode stays \"%s\", WAL is needed", s->path, mode);
    sqlite3_finalize(stmt);
    if (ret < 0) return -1;
    if (sqlite3_create_function_v2(s->db, "bouncedemails_fingerprint_key", 1,
                                   SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_DIRECTONLY, NULL,
                                   sq_fingerprint_key_sql, NULL, NULL, NULL) != SQLITE_OK)
        return sq_fail(st, "configuring the connection");
    return sq_exec_sql(st, store_sqlite_pragmas, "configuring the connection");
}

static int sq_make_folder(const char *path, char *err, size_t err_len)
{
    char *dir = g_path_get_dirname(path);
    int ret = 0;
    if (g_mkdir_with_parents(dir, 0750) != 0) {
        snprintf(err, err_len, "cannot create the folder %s for handler.dbfile: %s", dir,
                 g_strerror(errno));
        ret = -1;
    }
    g_free(dir);
    return ret;
}

/* The database holds the addresses of every bounced user: readable by the
 * service's group (for backups and operators), not by every local user.
 * SQLite gives its -wal and -shm files the database file's mode, but creates
 * the database itself 0644 less the umask; an empty file is an empty
 * database. */
static int sq_create_file(const char *path, char *err, size_t err_len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    if (fd >= 0) return close(fd);
    if (errno == EEXIST) return 0;
    snprintf(err, err_len, "cannot create handler.dbfile %s: %s", path, g_strerror(errno));
    return -1;
}

static const store_backend store_sqlite_backend = {
    .name = "sqlite",
    .close = sq_close,
    .begin = sq_begin,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .savepoint = sq_savepoint,
    .savepoint_release = sq_savepoint_release,
    .savepoint_rollback = sq_savepoint_rollback,
    .message_seen = sq_message_seen,
    .soft_increment = sq_soft_increment,
    .soft_reset = sq_soft_reset,
    .permanent_add = sq_permanent_add,
    .permanent_remove = sq_permanent_remove,
    .permanent_set_answer = sq_permanent_set_answer,
    .event_add = sq_event_add,
    .outbox_add = sq_outbox_add,
    .outbox_due = sq_outbox_due,
    .outbox_claim = sq_outbox_claim,
    .outbox_list = sq_outbox_list,
    .outbox_finish = sq_outbox_finish,
    .outbox_retry_given_up = sq_outbox_retry_given_up,
    .outbox_cancel = sq_outbox_cancel,
    .outbox_defer_domain = sq_outbox_defer_domain,
    .outbox_next_due = sq_outbox_next_due,
    .outbox_claim_address = sq_outbox_claim_address,
    .quarantine_add = sq_quarantine_add,
    .notbounce_add = sq_notbounce_add,
    .quarantine_list = sq_quarantine_list,
    .quarantine_remove = sq_quarantine_remove,
    .find_address = sq_find_address,
    .stats = sq_stats,
    .outbox_gauges = sq_outbox_gauges,
    .quarantine_size = sq_quarantine_size,
    .match_addresses = sq_match_addresses,
    .import_soft = sq_import_soft,
    .import_permanent = sq_import_permanent,
    .quarantine_get = sq_quarantine_get,
    .history = sq_history,
    .purge = sq_purge,
};

store *store_sqlite_open(const config *cfg, char *err, size_t err_len)
{
    const char *path = cfg->handler.dbfile;
    if (!path || !*path) {
        snprintf(err, err_len, "handler.dbfile is not set");
        return NULL;
    }
    if (sq_make_folder(path, err, err_len) < 0 || sq_create_file(path, err, err_len) < 0) return NULL;

    store_sqlite *s = g_new0(store_sqlite, 1);
    s->base.backend = &store_sqlite_backend;
    s->path = g_strdup(path);
    store *st = &s->base;
    /* NOMUTEX: a handle belongs to one thread at a time (store.h). */
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    if (sqlite3_open_v2(path, &s->db, flags, NULL) != SQLITE_OK) {
        snprintf(err, err_len, "cannot open %s: %s", path,
                 s->db ? sqlite3_errmsg(s->db) : "out of memory");
        sq_close(st);
        return NULL;
    }
    sqlite3_extended_result_codes(s->db, 1);
    if (sq_configure(st) < 0 || sq_migrate(st) < 0) {
        snprintf(err, err_len, "%s", store_errmsg(st));
        sq_close(st);
        return NULL;
    }
    /* The last connection to close would checkpoint the whole WAL into the
     * database, with two fsyncs, and delete it: for `stdin`, one process
     * per message, that was every message. The WAL stays instead, and the
     * automatic checkpoint (wal_autocheckpoint) copies it back in bulk. */
    sqlite3_db_config(s->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
    sqlite3_busy_handler(s->db, sq_busy, s);
    sqlite3_wal_hook(s->db, sq_wal_hook, s);
    sq_drop_statistics(st);
    return st;
}
