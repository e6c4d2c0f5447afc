/*
 * store_pg.c - the PostgreSQL backend of the store (libpq), so that several
 * bouncedemails processes on several machines share one database. Same
 * semantics as store_sqlite.c; where PostgreSQL differs, this file makes up
 * for it:
 *  - several writers run at once (READ COMMITTED), so every read-modify-write
 *    is one statement: counters are INSERT ... ON CONFLICT DO UPDATE ...
 *    RETURNING, fingerprints INSERT ... ON CONFLICT DO NOTHING, and the outbox
 *    claim locks with FOR UPDATE SKIP LOCKED. A deadlock or serialization
 *    failure is an error like any other: the caller rolls back and retries;
 *  - a failed statement aborts the whole transaction (until a rollback to a
 *    savepoint), and COMMIT of an aborted transaction is a silent ROLLBACK:
 *    commit reports that as an error;
 *  - BEGIN inside a transaction is only a warning: begin refuses it itself;
 *  - text must be valid UTF-8: bounce text that is not (8-bit headers,
 *    Latin-1 diagnostics) is stored with U+FFFD for the bad bytes rather than
 *    refused, so that a message never fails on its diagnostic;
 *  - addresses and domains compare without ASCII case through generated key
 *    columns (lower() under the "C" collation folds ASCII only, as
 *    g_ascii_strdown does), and rows keep the spelling they came with.
 * Statements are prepared once per connection, on first use; a connection
 * that broke is reset at the next statement outside a transaction. The
 * schema is a list of migrations, applied under an advisory lock so that
 * processes starting at once migrate it once; table bouncedemails_meta holds
 * the version.
 */
#include "store/store_backend.h"

#include "build_config.h"
#include "dynlib.h"
#include "store/store_pg_url.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <libpq-fe.h>

/* Server settings of every session, given when connecting (so that a
 * reconnection keeps them, at no extra round trip); options in store.url come
 * after them and win (store_pg_url.c). lock_timeout is like SQLite's busy timeout: how long a
 * statement waits for another process's row lock before the store counts as
 * unavailable for now. Notices (IF NOT EXISTS, cascades) would go to stderr,
 * into our logs. */
#define STORE_PG_OPTIONS "-c lock_timeout=10s -c client_min_messages=warning"
#define STORE_PG_CONNECT_TIMEOUT "10"

/* pg_advisory_xact_lock key for migrations: "bdschema" in ASCII. */
#define STORE_PG_MIGRATION_LOCK "7089066706839512429"

/* Key columns: the ASCII case folded, compared bytewise. */
#define KEY(col) col "_key text COLLATE \"C\" GENERATED ALWAYS AS (lower(" col " COLLATE \"C\")) STORED"

/* The key of a fingerprint in message_seen: the bytes of a SHA-256 in
 * lower-case hex (what the policy computes), else the text's own bytes. */
#define FINGERPRINT_KEY(v) \
    "(CASE WHEN " v " ~ '^[0-9a-f]{64}$' THEN decode(" v ", 'hex') ELSE convert_to(" v ", 'UTF8') END)"

/* Migration i brings the schema from version i to i + 1. Append only. */
static const char *const store_pg_migrations[] = {
    /* 1: the first schema, as store_sqlite.c's. */
    "CREATE TABLE soft_bounce ("
    "  address    text NOT NULL,"
    "  domain     text NOT NULL,"
    "  " KEY("address") ","
    "  " KEY("domain") ","
    "  count      integer NOT NULL,"
    "  first_seen bigint NOT NULL,"
    "  last_seen  bigint NOT NULL,"
    "  PRIMARY KEY (address_key, domain_key)"
    ");"

    "CREATE TABLE permanent_bounce ("
    "  address         text NOT NULL,"
    "  domain          text NOT NULL,"
    "  " KEY("address") ","
    "  " KEY("domain") ","
    "  reason          text,"
    "  status          text,"
    "  bounced_at      bigint NOT NULL,"
    "  platform_answer text,"
    "  PRIMARY KEY (address_key, domain_key)"
    ");"
    "CREATE INDEX permanent_bounce_domain ON permanent_bounce (domain_key);"

    "CREATE TABLE event ("
    "  id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
    "  message_id text NOT NULL,"
    "  address    text,"
    "  domain     text,"
    "  " KEY("domain") ","
    "  verdict    text NOT NULL,"
    "  reason     text,"
    "  status     text,"
    "  diagnostic text,"
    "  ingress    text,"
    "  at         bigint NOT NULL"
    ");"
    "CREATE INDEX event_domain ON event (domain_key, verdict);"

    /* state: 0 pending, 1 done, 2 given up (store_outbox_state). */
    "CREATE TABLE outbox ("
    "  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
    "  address      text NOT NULL,"
    "  domain       text NOT NULL,"
    "  " KEY("address") ","
    "  " KEY("domain") ","
    "  reason       text,"
    "  status       text,"
    "  diagnostic   text,"
    "  created      bigint NOT NULL,"
    "  next_attempt bigint NOT NULL,"
    "  attempts     integer NOT NULL DEFAULT 0,"
    "  state        smallint NOT NULL DEFAULT 0 CHECK (state IN (0, 1, 2)),"
    "  last_result  text"
    ");"
    "CREATE UNIQUE INDEX outbox_open ON outbox (address_key, domain_key) WHERE state <> 1;"
    "CREATE INDEX outbox_due ON outbox (state, next_attempt);"
    "CREATE INDEX outbox_domain ON outbox (domain_key, state);"

    "CREATE TABLE message_seen ("
    "  fingerprint text COLLATE \"C\" PRIMARY KEY,"
    "  seen_at     bigint NOT NULL"
    ");"

    "CREATE TABLE quarantine ("
    "  id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
    "  raw                bytea NOT NULL,"
    "  reason             text,"
    "  envelope_recipient text,"
    "  ingress            text,"
    "  at                 bigint NOT NULL"
    ");"
    "CREATE INDEX quarantine_at ON quarantine (at);",

    /* 2: history by address, and retention by age, without table scans. */
    "ALTER TABLE event ADD COLUMN " KEY("address") ";"
    "CREATE INDEX event_address ON event (address_key, domain_key);"
    "CREATE INDEX event_at ON event (at);"
    "CREATE INDEX message_seen_at ON message_seen (seen_at);"
    "CREATE INDEX outbox_address ON outbox (address_key, domain_key, created);",

    /* 3: messages that are no bounce are kept beside the quarantine for a
     * few days (retention.notbounce_days), marked so that nothing counts or
     * replays them as quarantined. */
    "ALTER TABLE quarantine ADD COLUMN kind text NOT NULL DEFAULT 'quarantine';",

    /* 4: the due items' index holds only pending items (state 0), the only
     * ones a claim or the next-due query looks for: a finished item leaves
     * it instead of staying in it for ever, so that every notification no
     * longer writes pages of an index of the whole outbox history. */
    ("DROP INDEX outbox_due;"
     "CREATE INDEX outbox_pending ON outbox (next_attempt) WHERE state = 0;"),

    /* 5: as store_sqlite.c's: where a forwarded recipient's mail failed. */
    "ALTER TABLE event ADD COLUMN final text;",

    /* 6: as store_sqlite.c's: a SHA-256 fingerprint kept as its 32 bytes
     * (FINGERPRINT_KEY), not as 64 hex digits, and no index of permanent
     * bounces by domain. */
    ("ALTER TABLE message_seen ALTER COLUMN fingerprint TYPE bytea USING " FINGERPRINT_KEY("fingerprint") ";"
     "DROP INDEX permanent_bounce_domain;"),

    /* 7: as store_sqlite.c's: the per-domain index holds only open items. */
    ("DROP INDEX outbox_domain;"
     "CREATE INDEX outbox_domain ON outbox (domain_key, state) WHERE state <> 1;"),

    /* 8: as store_sqlite.c's: the key column named for what it now holds,
     * so that a process of an earlier version still running on another
     * machine fails on it rather than record its hex text as a bytea key
     * (which it would when it prepares its statement after the upgrade, on
     * a new connection) that this version never matches. */
    "ALTER TABLE message_seen RENAME COLUMN fingerprint TO digest;",

    /* 9: as store_sqlite.c's 10: each claim of a notification numbered (IF NOT
     * EXISTS: a schema put back to an earlier version by hand keeps it). */
    "ALTER TABLE outbox ADD COLUMN IF NOT EXISTS claims bigint NOT NULL DEFAULT 0;",
};

#define STORE_PG_SCHEMA_VERSION ((int)G_N_ELEMENTS(store_pg_migrations))

#define OUTBOX_COLUMNS \
    "id, address, domain, reason, status, diagnostic, created, next_attempt, attempts, state, " \
    "last_result, claims"

/* The outbox item that $1 to $5 name (pg_as_claimed), as its claim
 * returned it: not claimed again since (store_outbox_finish()). */
#define OUTBOX_AS_CLAIMED "id = $1 AND address = $2 AND domain = $3 AND created = $4 AND claims = $5"

/* Every statement with parameters or results, prepared on first use per
 * connection. Parameters named *_key are folded by the caller
 * (g_ascii_strdown), so that they meet the key columns' index. */
#define STORE_PG_STATEMENTS(X) \
    X(SEEN, \
      "INSERT INTO message_seen (digest, seen_at) VALUES (" FINGERPRINT_KEY("$1::text") ", $2)" \
      " ON CONFLICT DO NOTHING") \
    X(SOFT_INCREMENT, \
      "INSERT INTO soft_bounce AS s (address, domain, count, first_seen, last_seen)" \
      " VALUES ($1, $2, 1, $3, $3)" \
      " ON CONFLICT (address_key, domain_key) DO UPDATE SET" \
      "  count = CASE WHEN s.last_seen < $4 THEN 1 ELSE s.count + 1 END," \
      "  first_seen = CASE WHEN s.last_seen < $4 THEN $3 ELSE s.first_seen END," \
      "  last_seen = greatest(s.last_seen, $3)" \
      " RETURNING count") \
    X(SOFT_RESET, \
      "DELETE FROM soft_bounce WHERE address_key = $1 AND ($2::text IS NULL OR domain_key = $2)") \
    X(PERMANENT_ADD, \
      "INSERT INTO permanent_bounce (address, domain, reason, status, bounced_at)" \
      " VALUES ($1, $2, $3, $4, $5)" \
      " ON CONFLICT (address_key, domain_key) DO UPDATE SET" \
      "  reason = excluded.reason, status = excluded.status, bounced_at = excluded.bounced_at") \
    X(PERMANENT_REMOVE, \
      "DELETE FROM permanent_bounce" \
      " WHERE address_key = $1 AND ($2::text IS NULL OR domain_key = $2)") \
    X(PERMANENT_ANSWER, \
      "UPDATE permanent_bounce SET platform_answer = $6 WHERE address_key = $7 AND domain_key = $8" \
      " AND EXISTS (SELECT 1 FROM outbox WHERE " OUTBOX_AS_CLAIMED ")") \
    X(EVENT_ADD, \
      "INSERT INTO event (message_id, address, domain, verdict, reason, status, diagnostic," \
      " ingress, at, final) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)") \
    X(OUTBOX_ADD, \
      "INSERT INTO outbox AS o (address, domain, reason, status, diagnostic, created, next_attempt)" \
      " VALUES ($1, $2, $3, $4, $5, $6, $6)" \
      " ON CONFLICT (address_key, domain_key) WHERE state <> 1 DO UPDATE SET" \
      "  reason = excluded.reason, status = excluded.status," \
      "  diagnostic = excluded.diagnostic, next_attempt = excluded.next_attempt," \
      "  attempts = 0, state = 0" \
      " WHERE o.state = 2") \
    X(OUTBOX_DUE, \
      "SELECT " OUTBOX_COLUMNS " FROM outbox WHERE state = 0 AND next_attempt <= $1" \
      " ORDER BY next_attempt, id LIMIT $2") \
    X(OUTBOX_CLAIM, \
      "WITH claimed AS (UPDATE outbox SET next_attempt = $3, claims = claims + 1 WHERE id IN (SELECT id FROM outbox" \
      "  WHERE state = 0 AND next_attempt <= $1 ORDER BY next_attempt, id LIMIT $2" \
      "  FOR UPDATE SKIP LOCKED)" \
      " RETURNING " OUTBOX_COLUMNS ")" \
      " SELECT " OUTBOX_COLUMNS " FROM claimed ORDER BY id") \
    X(OUTBOX_LIST, \
      "SELECT " OUTBOX_COLUMNS " FROM outbox WHERE state IN (0, 2) ORDER BY state, id") \
    X(OUTBOX_CLAIM_ADDRESS, \
      "UPDATE outbox SET next_attempt = $4, claims = claims + 1 WHERE address_key = $1 AND domain_key = $2" \
      " AND state <> 1 AND state = 0 AND next_attempt <= $3 RETURNING " OUTBOX_COLUMNS) \
    X(OUTBOX_FINISH, \
      "UPDATE outbox SET state = $6, next_attempt = $7, last_result = $8," \
      " attempts = attempts + 1 WHERE " OUTBOX_AS_CLAIMED) \
    X(OUTBOX_RETRY, "UPDATE outbox SET state = 0, next_attempt = $1, attempts = 0 WHERE state = 2") \
    X(OUTBOX_DEFER_DOMAIN, \
      "UPDATE outbox SET next_attempt = $2 WHERE domain_key = $1 AND state = 0 AND next_attempt < $2") \
    X(OUTBOX_CANCEL, \
      "DELETE FROM outbox" \
      " WHERE state <> 1 AND address_key = $1 AND ($2::text IS NULL OR domain_key = $2)") \
    X(OUTBOX_NEXT_DUE, "SELECT min(next_attempt) FROM outbox WHERE state = 0") \
    X(QUARANTINE_ADD, \
      "INSERT INTO quarantine (raw, envelope_recipient, ingress, reason, at)" \
      " VALUES ($1, $2, $3, $4, $5)") \
    X(NOTBOUNCE_ADD, \
      "INSERT INTO quarantine (raw, envelope_recipient, ingress, reason, at, kind)" \
      " VALUES ($1, $2, $3, $4, $5, 'notbounce')") \
    X(QUARANTINE_LIST, \
      "SELECT id, reason, envelope_recipient, ingress, at, octet_length(raw)," \
      " CASE WHEN $1::boolean THEN raw END FROM quarantine WHERE kind = 'quarantine' ORDER BY at, id") \
    X(QUARANTINE_REMOVE, "DELETE FROM quarantine WHERE id = $1 AND kind = 'quarantine'") \
    X(QUARANTINE_COUNT, "SELECT count(*) FROM quarantine WHERE kind = 'quarantine'") \
    X(FIND_ADDRESS, \
      "SELECT coalesce(s.domain, p.domain), s.count, s.first_seen, s.last_seen," \
      " p.address IS NOT NULL, p.reason, p.status, p.bounced_at, p.platform_answer" \
      " FROM (SELECT domain_key FROM soft_bounce WHERE address_key = $1" \
      "       UNION SELECT domain_key FROM permanent_bounce WHERE address_key = $1) AS d" \
      " LEFT JOIN soft_bounce AS s ON s.address_key = $1 AND s.domain_key = d.domain_key" \
      " LEFT JOIN permanent_bounce AS p ON p.address_key = $1 AND p.domain_key = d.domain_key" \
      " ORDER BY d.domain_key") \
    X(STATS, \
      "WITH p (domain_key, n) AS MATERIALIZED (SELECT domain_key, count(*) FROM permanent_bounce" \
      "  GROUP BY domain_key)," \
      " d (domain_key) AS (SELECT domain_key FROM soft_bounce" \
      "  UNION SELECT domain_key FROM p" \
      "  UNION SELECT domain_key FROM event WHERE domain_key IS NOT NULL" \
      "  UNION SELECT domain_key FROM outbox)" \
      " SELECT d.domain_key," \
      "  (SELECT count(*) FROM soft_bounce AS s" \
      "    WHERE s.domain_key = d.domain_key AND s.last_seen >= $1)," \
      "  coalesce((SELECT p.n FROM p WHERE p.domain_key = d.domain_key), 0)," \
      "  (SELECT count(*) FROM event AS e" \
      "    WHERE e.domain_key = d.domain_key AND e.verdict = 'complaint')," \
      "  (SELECT count(*) FROM event AS e WHERE e.domain_key = d.domain_key)," \
      "  (SELECT count(*) FROM outbox AS o WHERE o.domain_key = d.domain_key AND o.state = 0)," \
      "  (SELECT count(*) FROM outbox AS o WHERE o.domain_key = d.domain_key AND o.state = 2)" \
      " FROM d ORDER BY d.domain_key") \
    X(OUTBOX_GAUGES, \
      "SELECT domain_key, count(*) FILTER (WHERE state = 0), count(*) FILTER (WHERE state = 2)," \
      " coalesce(min(created) FILTER (WHERE state = 0), 0)" \
      " FROM outbox WHERE state <> 1 GROUP BY domain_key ORDER BY domain_key") \
    X(QUARANTINE_SIZE, \
      "SELECT count(*), coalesce(sum(octet_length(raw)), 0) FROM quarantine WHERE kind = 'quarantine'") \
    X(MATCH_ADDRESSES, \
      "SELECT min(address) FROM (SELECT address, address_key FROM soft_bounce" \
      "  UNION ALL SELECT address, address_key FROM permanent_bounce) AS a" \
      " WHERE strpos(address_key, $1) > 0 GROUP BY address_key ORDER BY address_key LIMIT $2") \
    X(IMPORT_SOFT, \
      "INSERT INTO soft_bounce (address, domain, count, first_seen, last_seen)" \
      " VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING") \
    X(IMPORT_PERMANENT, \
      "INSERT INTO permanent_bounce (address, domain, reason, status, bounced_at, platform_answer)" \
      " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING") \
    X(QUARANTINE_GET, \
      "SELECT id, reason, envelope_recipient, ingress, at, octet_length(raw), raw FROM quarantine" \
      " WHERE id = $1 AND kind = 'quarantine'") \
    X(HISTORY, \
      "SELECT e.at, e.domain, e.verdict, e.reason, e.status, e.diagnostic, e.ingress, e.message_id," \
      " o.state, o.attempts, o.last_result, e.address, e.final" \
      " FROM event AS e LEFT JOIN LATERAL (SELECT state, attempts, last_result FROM outbox AS o2" \
      "   WHERE o2.address_key = e.address_key AND o2.domain_key = e.domain_key AND o2.created <= e.at" \
      "   ORDER BY o2.created DESC, o2.id DESC LIMIT 1) AS o" \
      "  ON e.verdict IN ('permanent', 'escalated', 'complaint')" \
      " WHERE e.address_key = $1 AND ($2::text IS NULL OR e.domain_key = $2) ORDER BY e.at, e.id")

typedef enum store_pg_stmt {
#define STORE_PG_STMT_ENUM(id, sql) PG_##id,
    STORE_PG_STATEMENTS(STORE_PG_STMT_ENUM)
#undef STORE_PG_STMT_ENUM
    PG_COUNT
} store_pg_stmt;

static const char *const store_pg_sql[PG_COUNT] = {
#define STORE_PG_STMT_SQL(id, sql) [PG_##id] = sql,
    STORE_PG_STATEMENTS(STORE_PG_STMT_SQL)
#undef STORE_PG_STMT_SQL
};

typedef struct store_pg {
    store base;
    PGconn *conn;
    char *where;              /* "host:port/database" for messages, no credentials */
    pg_url url;               /* store.url taken apart; its secrets are never shown */
    int in_tx;                /* between our BEGIN and COMMIT/ROLLBACK */
    unsigned char prepared[PG_COUNT];
} store_pg;

static store_pg *pg(store *st) { return (store_pg *)st; }

/* ---- errors ---- */

static int pg_fail_msg(store *st, const char *what, const char *msg)
{
    store_pg *s = pg(st);
    char *clean = pg_url_redact(&s->url, msg);
    if (s->where)
        store_fail(st, "%s: %s (%s)", what, clean, s->where);
    else
        store_fail(st, "%s: %s", what, clean);
    g_free(clean);
    return -1;
}

static int pg_fail(store *st, const char *what)
{
    return pg_fail_msg(st, what, PQerrorMessage(pg(st)->conn));
}

/* A failed result's message; libpq returns no result at all when out of
 * memory or when the connection is gone, and then says why on the connection. */
static int pg_fail_result(store *st, const char *what, const PGresult *res)
{
    if (!res) return pg_fail(st, what);
    pg_fail_msg(st, what, PQresultErrorMessage(res));
    /* SQLSTATE classes a retry cannot fix: 22 data exception, 23 integrity
     * constraint violation, 54 program limit exceeded (an index row too
     * large). A unique or exclusion violation (23505, 23P01) can be a race
     * between writers that the next attempt wins; connection (08), lock and
     * deadlock (55P03, 40) and resource (53) errors pass too. */
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    bool race = state && (strcmp(state, "23505") == 0 || strcmp(state, "23P01") == 0);
    st->error_permanent = state && !race &&
                          (strncmp(state, "22", 2) == 0 || strncmp(state, "23", 2) == 0 ||
                           strncmp(state, "54", 2) == 0);
    return -1;
}

/* ---- parameters ---- */

#define PG_MAX_PARAMS 10

/* Bound parameters: text, except the quarantine's bytes. Owns the strings it
 * had to make (numbers, repaired UTF-8, folded keys). */
typedef struct pg_params {
    int n;
    const char *values[PG_MAX_PARAMS];
    int lengths[PG_MAX_PARAMS];
    int formats[PG_MAX_PARAMS];
    char *owned[PG_MAX_PARAMS];
} pg_params;

static void pg_params_free(pg_params *p)
{
    for (int i = 0; i < p->n; i++) g_free(p->owned[i]);
    p->n = 0;
}

static void pg_param_owned(pg_params *p, char *v)
{
    g_assert(p->n < PG_MAX_PARAMS);
    p->owned[p->n] = v;
    p->values[p->n] = v;
    p->lengths[p->n] = 0;
    p->formats[p->n] = 0;
    p->n++;
}

/* Text as given, or repaired when it is not valid UTF-8; NULL is SQL NULL. */
static void pg_text(pg_params *p, const char *v)
{
    if (v && !g_utf8_validate(v, -1, NULL)) {
        pg_param_owned(p, g_utf8_make_valid(v, -1));
        return;
    }
    pg_param_owned(p, NULL);
    p->values[p->n - 1] = v;
}

/* A key column's value: the ASCII case folded; NULL stays NULL. */
static void pg_key(pg_params *p, const char *v)
{
    if (!v) {
        pg_param_owned(p, NULL);
        return;
    }
    char *valid = g_utf8_validate(v, -1, NULL) ? NULL : g_utf8_make_valid(v, -1);
    pg_param_owned(p, g_ascii_strdown(valid ? valid : v, -1));
    g_free(valid);
}

static void pg_int(pg_params *p, int64_t v)
{
    pg_param_owned(p, g_strdup_printf("%" G_GINT64_FORMAT, (gint64)v));
}

static void pg_bytes(pg_params *p, const char *data, size_t len)
{
    pg_param_owned(p, NULL);
    /* Not NULL, so that an empty message is empty bytes, not SQL NULL. */
    p->values[p->n - 1] = data ? data : "";
    p->lengths[p->n - 1] = (int)len;
    p->formats[p->n - 1] = 1;
}

/* ---- running statements ---- */

static void pg_forget_prepared(store_pg *s) { memset(s->prepared, 0, sizeof s->prepared); }

/* A connection that broke is reset, but never in the middle of a transaction:
 * the statements after it would run outside the transaction they belong to. */
static int pg_ready(store *st)
{
    store_pg *s = pg(st);
    if (PQstatus(s->conn) == CONNECTION_OK) return 0;
    if (s->in_tx)
        return pg_fail(st, "the connection broke during a transaction");
    PQreset(s->conn);
    pg_forget_prepared(s);
    if (PQstatus(s->conn) != CONNECTION_OK) return pg_fail(st, "reconnecting");
    return 0;
}

#define PG_STMT_NAME_MAX 16

static const char *pg_stmt_name(store_pg_stmt id, char name[PG_STMT_NAME_MAX])
{
    snprintf(name, PG_STMT_NAME_MAX, "bd_%d", (int)id);
    return name;
}

static int pg_prepare(store *st, store_pg_stmt id)
{
    store_pg *s = pg(st);
    if (s->prepared[id]) return 0;
    char name[PG_STMT_NAME_MAX];
    PGresult *res = PQprepare(s->conn, pg_stmt_name(id, name), store_pg_sql[id], 0, NULL);
    int ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    if (!ok) pg_fail_result(st, "preparing a statement", res);
    PQclear(res);
    if (!ok) return -1;
    s->prepared[id] = 1;
    return 0;
}

/* Runs statement id with p (then freed); the result, or NULL with the error
 * set. Results come as text. */
static PGresult *pg_run(store *st, store_pg_stmt id, pg_params *p, const char *what)
{
    store_pg *s = pg(st);
    PGresult *res = NULL;
    if (pg_ready(st) == 0 && pg_prepare(st, id) == 0) {
        char name[PG_STMT_NAME_MAX];
        res = PQexecPrepared(s->conn, pg_stmt_name(id, name), p->n, p->values, p->lengths,
                             p->formats, 0);
        ExecStatusType rc = PQresultStatus(res);
        if (rc != PGRES_COMMAND_OK && rc != PGRES_TUPLES_OK) {
            pg_fail_result(st, what, res);
            PQclear(res);
            res = NULL;
        }
    }
    pg_params_free(p);
    return res;
}

/* Runs a statement for its effect; *changed (when not NULL): rows affected. */
static int pg_exec(store *st, store_pg_stmt id, pg_params *p, const char *what, int *changed)
{
    PGresult *res = pg_run(st, id, p, what);
    if (!res) return -1;
    if (changed) *changed = atoi(PQcmdTuples(res));
    PQclear(res);
    return 0;
}

/* Statements without parameters, by the simple protocol (transactions, the
 * schema); their rows, if any, are not needed. */
static int pg_simple(store *st, const char *sql, const char *what)
{
    PGresult *res = PQexec(pg(st)->conn, sql);
    ExecStatusType rc = PQresultStatus(res);
    int ok = rc == PGRES_COMMAND_OK || rc == PGRES_TUPLES_OK;
    if (!ok) pg_fail_result(st, what, res);
    PQclear(res);
    return ok ? 0 : -1;
}

static int64_t pg_int_at(const PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col) ? 0 : g_ascii_strtoll(PQgetvalue(res, row, col), NULL, 10);
}

static char *pg_str_at(const PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col) ? NULL : g_strdup(PQgetvalue(res, row, col));
}

static int pg_bool_at(const PGresult *res, int row, int col)
{
    return !PQgetisnull(res, row, col) && PQgetvalue(res, row, col)[0] == 't';
}

/* ---- transactions ---- */

static int pg_begin(store *st)
{
    store_pg *s = pg(st);
    if (s->in_tx) return store_fail(st, "begin: already in a transaction");
    if (pg_ready(st) < 0) return -1;
    if (pg_simple(st, "BEGIN", "begin") < 0) return -1;
    s->in_tx = 1;
    return 0;
}

static int pg_commit(store *st)
{
    store_pg *s = pg(st);
    if (!s->in_tx) return store_fail(st, "commit outside a transaction");
    s->in_tx = 0;
    if (PQtransactionStatus(s->conn) == PQTRANS_INERROR) {
        /* COMMIT would answer ROLLBACK without an error. */
        pg_simple(st, "ROLLBACK", "rollback");
        return store_fail(st, "commit: a statement of the transaction failed, it was rolled back");
    }
    return pg_simple(st, "COMMIT", "commit");
}

static int pg_rollback(store *st)
{
    store_pg *s = pg(st);
    if (!s->in_tx) return 0;
    s->in_tx = 0;
    /* A broken connection took the transaction with it. */
    if (PQstatus(s->conn) != CONNECTION_OK) return 0;
    return pg_simple(st, "ROLLBACK", "rollback");
}

static int pg_savepoint(store *st)
{
    if (!pg(st)->in_tx) return store_fail(st, "savepoint outside a transaction");
    return pg_simple(st, "SAVEPOINT store_sp", "savepoint");
}

/* The innermost savepoint of that name, as in SQLite. */
static int pg_savepoint_release(store *st)
{
    return pg_simple(st, "RELEASE SAVEPOINT store_sp", "release savepoint");
}

static int pg_savepoint_rollback(store *st)
{
    if (pg_simple(st, "ROLLBACK TO SAVEPOINT store_sp", "rollback to savepoint") < 0) return -1;
    return pg_savepoint_release(st);
}

/* ---- fingerprints and counters ---- */

/* The oldest last_seen still inside the window; none is too old without one. */
static int64_t pg_window_start(time_t now, long window_s)
{
    return window_s > 0 ? (int64_t)now - window_s : INT64_MIN;
}

static int pg_message_seen(store *st, const char *fingerprint, time_t now, int *seen)
{
    pg_params p = { 0 };
    pg_text(&p, fingerprint);
    pg_int(&p, now);
    int inserted;
    if (pg_exec(st, PG_SEEN, &p, "recording a message fingerprint", &inserted) < 0) return -1;
    *seen = inserted == 0;
    return 0;
}

static int pg_soft_increment(store *st, const char *address, const char *domain, time_t now,
                             long window_s, int *count)
{
    pg_params p = { 0 };
    pg_text(&p, address);
    pg_text(&p, domain);
    pg_int(&p, now);
    pg_int(&p, pg_window_start(now, window_s));
    PGresult *res = pg_run(st, PG_SOFT_INCREMENT, &p, "counting a soft bounce");
    if (!res) return -1;
    *count = (int)pg_int_at(res, 0, 0);
    PQclear(res);
    return 0;
}

/* The statements that remove the rows of address in domain, or in every
 * domain when domain is NULL; *count (when not NULL): rows removed. */
static int pg_remove_pair(store *st, store_pg_stmt id, const char *address, const char *domain,
                          const char *what, int *count)
{
    pg_params p = { 0 };
    pg_key(&p, address);
    pg_key(&p, domain);
    return pg_exec(st, id, &p, what, count);
}

static int pg_soft_reset(store *st, const char *address, const char *domain)
{
    return pg_remove_pair(st, PG_SOFT_RESET, address, domain, "resetting a soft-bounce counter",
                          NULL);
}

/* ---- permanent bounces and the event log ---- */

static int pg_permanent_add(store *st, const store_permanent *perm)
{
    pg_params p = { 0 };
    pg_text(&p, perm->address);
    pg_text(&p, perm->domain);
    pg_text(&p, perm->reason);
    pg_text(&p, perm->status);
    pg_int(&p, perm->when);
    return pg_exec(st, PG_PERMANENT_ADD, &p, "recording a permanent bounce", NULL);
}

static int pg_permanent_remove(store *st, const char *address, const char *domain, int *removed)
{
    return pg_remove_pair(st, PG_PERMANENT_REMOVE, address, domain, "lifting a suppression",
                          removed);
}

/* OUTBOX_AS_CLAIMED's parameters, the first of p. */
static void pg_as_claimed(pg_params *p, const store_outbox_item *item)
{
    pg_int(p, item->id);
    pg_text(p, item->address);
    pg_text(p, item->domain);
    pg_int(p, item->created);
    pg_int(p, item->claims);
}

/* Under READ COMMITTED the EXISTS sees the outbox as the statement began,
 * and an UPDATE that waits for another transaction's lock on its row
 * re-checks only that row: enough, since a process that took the item over
 * committed its claim, which numbers the item anew, before it sent the
 * request whose answer it writes. */
static int pg_permanent_set_answer(store *st, const store_outbox_item *item, const char *answer)
{
    pg_params p = { 0 };
    pg_as_claimed(&p, item);
    pg_text(&p, answer);
    pg_key(&p, item->address);
    pg_key(&p, item->domain);
    return pg_exec(st, PG_PERMANENT_ANSWER, &p, "recording the platform's answer", NULL);
}

static int pg_event_add(store *st, const store_event *ev)
{
    pg_params p = { 0 };
    pg_text(&p, ev->message_id);
    pg_text(&p, ev->address);
    pg_text(&p, ev->domain);
    pg_text(&p, ev->verdict);
    pg_text(&p, ev->reason);
    pg_text(&p, ev->status);
    pg_text(&p, ev->diagnostic);
    pg_text(&p, ev->ingress);
    pg_int(&p, ev->when);
    pg_text(&p, ev->final);
    return pg_exec(st, PG_EVENT_ADD, &p, "writing the event log", NULL);
}

/* ---- outbox ---- */

static int pg_outbox_add(store *st, const char *address, const char *domain, const char *reason,
                         const char *status, const char *diagnostic, time_t now)
{
    pg_params p = { 0 };
    pg_text(&p, address);
    pg_text(&p, domain);
    pg_text(&p, reason);
    pg_text(&p, status);
    pg_text(&p, diagnostic);
    pg_int(&p, now);
    return pg_exec(st, PG_OUTBOX_ADD, &p, "queueing a notification", NULL);
}

/* Outbox rows of a result (OUTBOX_COLUMNS order), which it clears. */
static void pg_outbox_rows(PGresult *res, store_outbox_item **items, size_t *n)
{
    int rows = PQntuples(res);
    store_outbox_item *out = g_new0(store_outbox_item, rows > 0 ? rows : 1);
    for (int r = 0; r < rows; r++) {
        store_outbox_item *it = &out[r];
        it->id = pg_int_at(res, r, 0);
        it->address = pg_str_at(res, r, 1);
        it->domain = pg_str_at(res, r, 2);
        it->reason = pg_str_at(res, r, 3);
        it->status = pg_str_at(res, r, 4);
        it->diagnostic = pg_str_at(res, r, 5);
        it->created = (time_t)pg_int_at(res, r, 6);
        it->next_attempt = (time_t)pg_int_at(res, r, 7);
        it->attempts = (int)pg_int_at(res, r, 8);
        it->state = (store_outbox_state)pg_int_at(res, r, 9);
        it->last_result = pg_str_at(res, r, 10);
        it->claims = pg_int_at(res, r, 11);
    }
    PQclear(res);
    *items = out;
    *n = (size_t)rows;
}

static int pg_outbox_query(store *st, store_pg_stmt id, pg_params *p, const char *what,
                           store_outbox_item **items, size_t *n)
{
    *items = NULL;
    *n = 0;
    PGresult *res = pg_run(st, id, p, what);
    if (!res) return -1;
    pg_outbox_rows(res, items, n);
    return 0;
}

static int64_t pg_limit(size_t max)
{
    return max > (size_t)INT64_MAX ? INT64_MAX : (int64_t)max;
}

static int pg_outbox_due(store *st, time_t now, size_t max, store_outbox_item **items, size_t *n)
{
    pg_params p = { 0 };
    pg_int(&p, now);
    pg_int(&p, pg_limit(max));
    return pg_outbox_query(st, PG_OUTBOX_DUE, &p, "reading the due notifications", items, n);
}

static int pg_outbox_claim(store *st, time_t now, long lease_s, size_t max,
                           store_outbox_item **items, size_t *n)
{
    pg_params p = { 0 };
    pg_int(&p, now);
    pg_int(&p, pg_limit(max));
    pg_int(&p, (int64_t)now + (lease_s > 0 ? lease_s : 0));
    return pg_outbox_query(st, PG_OUTBOX_CLAIM, &p, "claiming the due notifications", items, n);
}

static int pg_outbox_claim_address(store *st, const char *address, const char *domain, time_t now,
                                   long lease_s, GArray *items)
{
    pg_params p = { 0 };
    pg_key(&p, address);
    pg_key(&p, domain);
    pg_int(&p, now);
    pg_int(&p, (int64_t)now + (lease_s > 0 ? lease_s : 0));
    store_outbox_item *rows;
    size_t n;
    if (pg_outbox_query(st, PG_OUTBOX_CLAIM_ADDRESS, &p, "claiming a notification", &rows, &n) < 0) return -1;
    g_array_append_vals(items, rows, (guint)n);
    g_free(rows);
    return 0;
}

static int pg_outbox_list(store *st, store_outbox_item **items, size_t *n)
{
    pg_params p = { 0 };
    return pg_outbox_query(st, PG_OUTBOX_LIST, &p, "listing the outbox", items, n);
}

static int pg_outbox_finish(store *st, const store_outbox_item *item, store_outbox_state state,
                            time_t next_attempt, const char *result)
{
    if (state != STORE_OUTBOX_PENDING && state != STORE_OUTBOX_DONE &&
        state != STORE_OUTBOX_GIVEN_UP)
        return store_fail(st, "outbox item %lld: unknown state %d", (long long)item->id, (int)state);
    pg_params p = { 0 };
    pg_as_claimed(&p, item);
    pg_int(&p, (int)state);
    pg_int(&p, next_attempt);
    pg_text(&p, result);
    int changed;
    if (pg_exec(st, PG_OUTBOX_FINISH, &p, "recording a notification's outcome", &changed) < 0)
        return -1;
    if (changed == 0) return store_fail(st, STORE_OUTBOX_NOT_AS_CLAIMED, (long long)item->id, item->address);
    return 0;
}

static int pg_outbox_retry_given_up(store *st, time_t now, int *count)
{
    pg_params p = { 0 };
    pg_int(&p, now);
    return pg_exec(st, PG_OUTBOX_RETRY, &p, "queueing given-up notifications again", count);
}

static int pg_outbox_cancel(store *st, const char *address, const char *domain, int *count)
{
    return pg_remove_pair(st, PG_OUTBOX_CANCEL, address, domain, "cancelling notifications",
                          count);
}

static int pg_outbox_defer_domain(store *st, const char *domain, time_t until, int *count)
{
    pg_params p = { 0 };
    pg_key(&p, domain);
    pg_int(&p, until);
    return pg_exec(st, PG_OUTBOX_DEFER_DOMAIN, &p, "deferring a platform's notifications", count);
}

static int pg_outbox_next_due(store *st, time_t *when, int *any)
{
    pg_params p = { 0 };
    PGresult *res = pg_run(st, PG_OUTBOX_NEXT_DUE, &p, "reading the outbox");
    if (!res) return -1;
    *any = !PQgetisnull(res, 0, 0);
    *when = *any ? (time_t)pg_int_at(res, 0, 0) : 0;
    PQclear(res);
    return 0;
}

/* ---- quarantine ---- */

/* A row of the quarantine table, by the statement that sets its kind. */
static int pg_quarantine_insert(store *st, store_pg_stmt which, const char *raw, size_t raw_len,
                                const char *envelope_recipient, const char *ingress,
                                const char *reason, time_t now)
{
    if (raw_len > INT_MAX) return store_fail(st, "quarantine: message of %zu bytes", raw_len);
    pg_params p = { 0 };
    pg_bytes(&p, raw, raw_len);
    pg_text(&p, envelope_recipient);
    pg_text(&p, ingress);
    pg_text(&p, reason);
    pg_int(&p, now);
    return pg_exec(st, which, &p, "quarantining a message", NULL);
}

static int pg_quarantine_add(store *st, const char *raw, size_t raw_len,
                             const char *envelope_recipient, const char *ingress,
                             const char *reason, time_t now)
{
    return pg_quarantine_insert(st, PG_QUARANTINE_ADD, raw, raw_len, envelope_recipient, ingress, reason, now);
}

static int pg_notbounce_add(store *st, const char *raw, size_t raw_len,
                            const char *envelope_recipient, const char *ingress, time_t now)
{
    return pg_quarantine_insert(st, PG_NOTBOUNCE_ADD, raw, raw_len, envelope_recipient, ingress,
                                "not a bounce", now);
}

/* The message's bytes from bytea's text form, NUL-terminated. */
static int pg_quarantine_raw(store *st, const PGresult *res, int row, store_quarantine_item *it)
{
    size_t len = 0;
    unsigned char *bytes = PQunescapeBytea((const unsigned char *)PQgetvalue(res, row, 6), &len);
    if (!bytes) return store_fail(st, "listing the quarantine: out of memory");
    it->raw = g_malloc(len + 1);
    if (len) memcpy(it->raw, bytes, len);
    it->raw[len] = '\0';
    it->raw_len = len;
    PQfreemem(bytes);
    return 0;
}

static int pg_quarantine_list(store *st, int with_raw, store_quarantine_item **items, size_t *n)
{
    *items = NULL;
    *n = 0;
    pg_params p = { 0 };
    pg_text(&p, with_raw ? "true" : "false");
    PGresult *res = pg_run(st, PG_QUARANTINE_LIST, &p, "listing the quarantine");
    if (!res) return -1;
    int rows = PQntuples(res);
    store_quarantine_item *out = g_new0(store_quarantine_item, rows > 0 ? rows : 1);
    int ret = 0;
    for (int r = 0; r < rows && ret == 0; r++) {
        store_quarantine_item *it = &out[r];
        it->id = pg_int_at(res, r, 0);
        it->reason = pg_str_at(res, r, 1);
        it->envelope_recipient = pg_str_at(res, r, 2);
        it->ingress = pg_str_at(res, r, 3);
        it->when = (time_t)pg_int_at(res, r, 4);
        it->raw_len = (size_t)pg_int_at(res, r, 5);
        if (with_raw) ret = pg_quarantine_raw(st, res, r, it);
    }
    PQclear(res);
    if (ret < 0) {
        store_quarantine_free(out, (size_t)rows);
        return -1;
    }
    *items = out;
    *n = (size_t)rows;
    return 0;
}

static int pg_quarantine_remove(store *st, int64_t id)
{
    pg_params p = { 0 };
    pg_int(&p, id);
    int changed;
    if (pg_exec(st, PG_QUARANTINE_REMOVE, &p, "removing a quarantined message", &changed) < 0)
        return -1;
    if (changed == 0) return store_fail(st, "no quarantined message %lld", (long long)id);
    return 0;
}

/* ---- admin ---- */

static int pg_find_address(store *st, const char *address, store_address_info **info, size_t *n)
{
    *info = NULL;
    *n = 0;
    pg_params p = { 0 };
    pg_key(&p, address);
    PGresult *res = pg_run(st, PG_FIND_ADDRESS, &p, "looking up an address");
    if (!res) return -1;
    int rows = PQntuples(res);
    store_address_info *out = g_new0(store_address_info, rows > 0 ? rows : 1);
    for (int r = 0; r < rows; r++) {
        store_address_info *in = &out[r];
        in->domain = pg_str_at(res, r, 0);
        in->soft_count = (int)pg_int_at(res, r, 1);
        in->soft_first = (time_t)pg_int_at(res, r, 2);
        in->soft_last = (time_t)pg_int_at(res, r, 3);
        in->permanent = pg_bool_at(res, r, 4);
        in->permanent_reason = pg_str_at(res, r, 5);
        in->permanent_status = pg_str_at(res, r, 6);
        in->permanent_when = (time_t)pg_int_at(res, r, 7);
        in->platform_answer = pg_str_at(res, r, 8);
    }
    PQclear(res);
    *info = out;
    *n = (size_t)rows;
    return 0;
}

static int pg_stats(store *st, time_t now, long window_s, store_domain_stats **stats, size_t *n,
                    long *quarantined)
{
    *stats = NULL;
    *n = 0;
    pg_params p = { 0 };
    PGresult *res = pg_run(st, PG_QUARANTINE_COUNT, &p, "counting the quarantine");
    if (!res) return -1;
    *quarantined = (long)pg_int_at(res, 0, 0);
    PQclear(res);

    pg_int(&p, pg_window_start(now, window_s));
    res = pg_run(st, PG_STATS, &p, "counting per domain");
    if (!res) return -1;
    int rows = PQntuples(res);
    store_domain_stats *out = g_new0(store_domain_stats, rows > 0 ? rows : 1);
    for (int r = 0; r < rows; r++) {
        store_domain_stats *ds = &out[r];
        ds->domain = pg_str_at(res, r, 0);
        ds->soft_addresses = (long)pg_int_at(res, r, 1);
        ds->permanent = (long)pg_int_at(res, r, 2);
        ds->complaints = (long)pg_int_at(res, r, 3);
        ds->events = (long)pg_int_at(res, r, 4);
        ds->outbox_pending = (long)pg_int_at(res, r, 5);
        ds->outbox_given_up = (long)pg_int_at(res, r, 6);
    }
    PQclear(res);
    *stats = out;
    *n = (size_t)rows;
    return 0;
}

/* ---- gauges ---- */

static int pg_outbox_gauges(store *st, store_outbox_gauge **gauges, size_t *n)
{
    *gauges = NULL;
    *n = 0;
    pg_params p = { 0 };
    PGresult *res = pg_run(st, PG_OUTBOX_GAUGES, &p, "counting the outbox");
    if (!res) return -1;
    int rows = PQntuples(res);
    store_outbox_gauge *out = g_new0(store_outbox_gauge, rows > 0 ? rows : 1);
    for (int r = 0; r < rows; r++) {
        out[r].domain = pg_str_at(res, r, 0);
        out[r].pending = (long)pg_int_at(res, r, 1);
        out[r].given_up = (long)pg_int_at(res, r, 2);
        out[r].oldest_pending = (time_t)pg_int_at(res, r, 3);
    }
    PQclear(res);
    *gauges = out;
    *n = (size_t)rows;
    return 0;
}

static int pg_quarantine_size(store *st, store_quarantine_size *size)
{
    pg_params p = { 0 };
    PGresult *res = pg_run(st, PG_QUARANTINE_SIZE, &p, "measuring the quarantine");
    if (!res) return -1;
    size->messages = (long)pg_int_at(res, 0, 0);
    size->bytes = (long long)pg_int_at(res, 0, 1);
    PQclear(res);
    return 0;
}

/* ---- opening, schema, closing ---- */

static void pg_close(store *st)
{
    store_pg *s = pg(st);
    PQfinish(s->conn);
    g_free(s->where);
    pg_url_free(&s->url);
    g_free(s);
}

/* The version recorded in the meta table: -1, with the error set, when there
 * is none to read. */
static int pg_schema_read(store *st, int *version)
{
    PGresult *res = PQexec(pg(st)->conn,
                           "SELECT value FROM bouncedemails_meta WHERE name = 'schema_version'");
    int ok = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1;
    if (ok)
        *version = (int)pg_int_at(res, 0, 0);
    else if (PQresultStatus(res) == PGRES_TUPLES_OK)
        store_fail(st, "reading the schema version: no schema_version row");
    else
        pg_fail_result(st, "reading the schema version", res);
    PQclear(res);
    return ok ? 0 : -1;
}

/* The version the database is at; the meta table is made when missing. Runs
 * inside the migration's transaction, after the lock. */
static int pg_schema_version(store *st, int *version)
{
    if (pg_simple(st,
                  "CREATE TABLE IF NOT EXISTS bouncedemails_meta ("
                  "  name text PRIMARY KEY, value bigint NOT NULL);"
                  "INSERT INTO bouncedemails_meta VALUES ('schema_version', 0)"
                  " ON CONFLICT DO NOTHING",
                  "creating the schema version table") < 0)
        return -1;
    return pg_schema_read(st, version);
}

static int pg_set_schema_version(store *st, int version)
{
    char value[16];
    snprintf(value, sizeof value, "%d", version);
    const char *values[1] = { value };
    PGresult *res = PQexecParams(pg(st)->conn,
                                 "UPDATE bouncedemails_meta SET value = $1"
                                 " WHERE name = 'schema_version'",
                                 1, NULL, values, NULL, NULL, 0);
    int ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    if (!ok) pg_fail_msg(st, "setting the schema version", PQresultErrorMessage(res));
    PQclear(res);
    return ok ? 0 : -1;
}

/* Whether the schema is at this program's version already: the usual case,
 * read without a transaction or a lock, since every `bouncedemails stdin`
 * opens the store. A missing table is an error here, and simply "no". */
static int pg_schema_is_current(store *st)
{
    int version;
    return pg_schema_read(st, &version) == 0 && version == STORE_PG_SCHEMA_VERSION;
}

/* Applies the migrations the database lacks, in one transaction under an
 * advisory lock: a crash leaves the old schema, and of several processes
 * starting at once the first migrates and the others then find it done. */
static int pg_migrate(store *st)
{
    int version;
    if (pg_schema_is_current(st)) return 0;
    if (pg_begin(st) < 0) return -1;
    if (pg_simple(st, "SELECT pg_advisory_xact_lock(" STORE_PG_MIGRATION_LOCK ")",
                  "waiting for the schema lock") < 0)
        goto fail;
    if (pg_schema_version(st, &version) < 0) goto fail;
    if (version > STORE_PG_SCHEMA_VERSION) {
        store_fail(st, "%s: schema version %d is newer than this program's (%d)", pg(st)->where,
                   version, STORE_PG_SCHEMA_VERSION);
        goto fail;
    }
    for (; version < STORE_PG_SCHEMA_VERSION; version++) {
        char what[64];
        snprintf(what, sizeof what, "migrating the schema to version %d", version + 1);
        if (pg_simple(st, store_pg_migrations[version], what) < 0) goto fail;
    }
    if (pg_set_schema_version(st, STORE_PG_SCHEMA_VERSION) < 0) goto fail;
    return pg_commit(st);
fail:
    pg_rollback(st);
    return -1;
}

/* ---- switch-over and operations ---- */

static int pg_match_addresses(store *st, const char *part, size_t max, char ***addresses, size_t *n)
{
    pg_params p = { 0 };
    pg_key(&p, part);
    pg_int(&p, pg_limit(max));
    PGresult *res = pg_run(st, PG_MATCH_ADDRESSES, &p, "matching addresses");
    if (!res) return -1;
    int rows = PQntuples(res);
    char **out = g_new0(char *, rows > 0 ? rows : 1);
    for (int r = 0; r < rows; r++) out[r] = pg_str_at(res, r, 0);
    PQclear(res);
    *addresses = out;
    *n = (size_t)rows;
    return 0;
}

static int pg_import_soft(store *st, const char *address, const char *domain, int count,
                          time_t first, time_t last, int *added)
{
    pg_params p = { 0 };
    pg_text(&p, address);
    pg_text(&p, domain);
    pg_int(&p, count);
    pg_int(&p, first);
    pg_int(&p, last);
    int changed = 0;
    if (pg_exec(st, PG_IMPORT_SOFT, &p, "importing a soft-bounce counter", &changed) < 0) return -1;
    *added = changed > 0;
    return 0;
}

static int pg_import_permanent(store *st, const store_permanent *perm, const char *answer, int *added)
{
    pg_params p = { 0 };
    pg_text(&p, perm->address);
    pg_text(&p, perm->domain);
    pg_text(&p, perm->reason);
    pg_text(&p, perm->status);
    pg_int(&p, perm->when);
    pg_text(&p, answer);
    int changed = 0;
    if (pg_exec(st, PG_IMPORT_PERMANENT, &p, "importing a permanent bounce", &changed) < 0) return -1;
    *added = changed > 0;
    return 0;
}

static int pg_quarantine_get(store *st, int64_t id, store_quarantine_item **item, int *found)
{
    pg_params p = { 0 };
    pg_int(&p, id);
    PGresult *res = pg_run(st, PG_QUARANTINE_GET, &p, "reading a quarantined message");
    if (!res) return -1;
    int ret = 0;
    if (PQntuples(res) == 1) {
        store_quarantine_item *it = g_new0(store_quarantine_item, 1);
        it->id = pg_int_at(res, 0, 0);
        it->reason = pg_str_at(res, 0, 1);
        it->envelope_recipient = pg_str_at(res, 0, 2);
        it->ingress = pg_str_at(res, 0, 3);
        it->when = (time_t)pg_int_at(res, 0, 4);
        ret = pg_quarantine_raw(st, res, 0, it);
        if (ret < 0) {
            store_quarantine_free(it, 1);
        } else {
            *item = it;
            *found = 1;
        }
    }
    PQclear(res);
    return ret;
}

static int pg_history(store *st, const char *address, const char *domain, store_history_item **items,
                      size_t *n)
{
    pg_params p = { 0 };
    pg_key(&p, address);
    pg_key(&p, domain);
    PGresult *res = pg_run(st, PG_HISTORY, &p, "reading the event log");
    if (!res) return -1;
    int rows = PQntuples(res);
    store_history_item *out = g_new0(store_history_item, rows > 0 ? rows : 1);
    for (int r = 0; r < rows; r++) {
        store_history_item *it = &out[r];
        it->when = (time_t)pg_int_at(res, r, 0);
        it->domain = pg_str_at(res, r, 1);
        it->verdict = pg_str_at(res, r, 2);
        it->reason = pg_str_at(res, r, 3);
        it->status = pg_str_at(res, r, 4);
        it->diagnostic = pg_str_at(res, r, 5);
        it->ingress = pg_str_at(res, r, 6);
        it->message_id = pg_str_at(res, r, 7);
        it->notify_state = PQgetisnull(res, r, 8) ? -1 : (int)pg_int_at(res, r, 8);
        it->notify_attempts = (int)pg_int_at(res, r, 9);
        it->notify_result = pg_str_at(res, r, 10);
        it->address = pg_str_at(res, r, 11);
        it->final = pg_str_at(res, r, 12);
    }
    PQclear(res);
    *items = out;
    *n = (size_t)rows;
    return 0;
}

/* As sq_purge_kinds in store_sqlite.c. */
static const struct {
    const char *table, *key, *at, *which;
} pg_purge_kinds[STORE_PURGE_KIND_COUNT] = {
    [STORE_PURGE_FINGERPRINTS] = { "message_seen", "digest", "seen_at", "" },
    [STORE_PURGE_EVENTS] = { "event", "id", "at", "" },
    [STORE_PURGE_QUARANTINE] = { "quarantine", "id", "at", " AND kind = 'quarantine'" },
    [STORE_PURGE_NOTBOUNCES] = { "quarantine", "id", "at", " AND kind = 'notbounce'" },
};

static int pg_purge(store *st, store_purge_kind kind, time_t before, long batch, int dry_run,
                    long *count)
{
    if (pg_ready(st) < 0) return -1;
    char *sql = dry_run
        ? g_strdup_printf("SELECT count(*) FROM %s WHERE %s < $1%s", pg_purge_kinds[kind].table,
                          pg_purge_kinds[kind].at, pg_purge_kinds[kind].which)
        : g_strdup_printf("DELETE FROM %s WHERE %s IN (SELECT %s FROM %s WHERE %s < $1%s LIMIT $2)",
                          pg_purge_kinds[kind].table, pg_purge_kinds[kind].key,
                          pg_purge_kinds[kind].key, pg_purge_kinds[kind].table,
                          pg_purge_kinds[kind].at, pg_purge_kinds[kind].which);
    pg_params p = { 0 };
    pg_int(&p, before);
    if (!dry_run) pg_int(&p, batch);
    PGresult *res = PQexecParams(pg(st)->conn, sql, p.n, NULL, p.values, p.lengths, p.formats, 0);
    g_free(sql);
    pg_params_free(&p);
    ExecStatusType rc = PQresultStatus(res);
    int ok = rc == (dry_run ? PGRES_TUPLES_OK : PGRES_COMMAND_OK);
    if (!ok) pg_fail_result(st, "purging", res);
    else *count = dry_run ? (long)pg_int_at(res, 0, 0) : atol(PQcmdTuples(res));
    PQclear(res);
    return ok ? 0 : -1;
}

static const store_backend store_pg_backend = {
    .name = "postgresql",
    .close = pg_close,
    .begin = pg_begin,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .savepoint = pg_savepoint,
    .savepoint_release = pg_savepoint_release,
    .savepoint_rollback = pg_savepoint_rollback,
    .message_seen = pg_message_seen,
    .soft_increment = pg_soft_increment,
    .soft_reset = pg_soft_reset,
    .permanent_add = pg_permanent_add,
    .permanent_remove = pg_permanent_remove,
    .permanent_set_answer = pg_permanent_set_answer,
    .event_add = pg_event_add,
    .outbox_add = pg_outbox_add,
    .outbox_due = pg_outbox_due,
    .outbox_claim = pg_outbox_claim,
    .outbox_list = pg_outbox_list,
    .outbox_finish = pg_outbox_finish,
    .outbox_retry_given_up = pg_outbox_retry_given_up,
    .outbox_cancel = pg_outbox_cancel,
    .outbox_defer_domain = pg_outbox_defer_domain,
    .outbox_next_due = pg_outbox_next_due,
    .outbox_claim_address = pg_outbox_claim_address,
    .quarantine_add = pg_quarantine_add,
    .notbounce_add = pg_notbounce_add,
    .quarantine_list = pg_quarantine_list,
    .quarantine_remove = pg_quarantine_remove,
    .find_address = pg_find_address,
    .stats = pg_stats,
    .outbox_gauges = pg_outbox_gauges,
    .quarantine_size = pg_quarantine_size,
    .match_addresses = pg_match_addresses,
    .import_soft = pg_import_soft,
    .import_permanent = pg_import_permanent,
    .quarantine_get = pg_quarantine_get,
    .history = pg_history,
    .purge = pg_purge,
};

static store *pg_open_failed(store *st, char *err, size_t err_len)
{
    snprintf(err, err_len, "%s", store_errmsg(st));
    pg_close(st);
    return NULL;
}

DYNLIB_MODULE_ABI;

__attribute__((visibility("default"))) store *store_pg_open(const config *cfg, char *err, size_t err_len)
{
    const char *url = cfg->store.url;
    if (!url || !*url) {
        snprintf(err, err_len, "store.url is not set (a postgresql:// connection URI)");
        return NULL;
    }
    store_pg *s = g_new0(store_pg, 1);
    s->base.backend = &store_pg_backend;
    store *st = &s->base;
    /* Defaults the URL may change; libpq's own reading of a URI would take a
     * password holding "/" or ":" for a host or port, and quote it back. */
    static const char *const defaults[][2] = {
        { "application_name", "bouncedemails" }, { "connect_timeout", STORE_PG_CONNECT_TIMEOUT }, { NULL, NULL },
    };
    if (pg_url_parse(url, defaults, STORE_PG_OPTIONS, &s->url, err, err_len) < 0) {
        pg_close(st);
        return NULL;
    }
    s->conn = PQconnectdbParams((const char *const *)s->url.keys, (const char *const *)s->url.values, 0);
    if (!s->conn) {
        store_fail(st, "connecting to postgresql: out of memory");
        return pg_open_failed(st, err, err_len);
    }
    if (PQstatus(s->conn) != CONNECTION_OK) {
        pg_fail(st, "connecting to postgresql");
        return pg_open_failed(st, err, err_len);
    }
    s->where = g_strdup_printf("%s:%s/%s", PQhost(s->conn), PQport(s->conn), PQdb(s->conn));
    if (pg_migrate(st) < 0) return pg_open_failed(st, err, err_len);
    return st;
}
