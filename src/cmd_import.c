/*
 * cmd_import.c - `import-original`: brings the original Python service's
 * data into our store at switch-over, so that nothing it knew is lost or
 * done twice. Its SQLite file has two tables, permanent_bounces and
 * temporary_bounces, whose columns changed between its versions; they are
 * read by name (PRAGMA table_info), each field from the first column of a
 * list of spellings (a table below), so that either version, and a site's
 * own additions, read alike. Its archive, <dir>/<2 chars>/<address>.gz, is
 * copied into ours, file by file, where we do not have the file yet.
 *
 * Permanent bounces come in suppressed, with no notification queued (the
 * platform was told by the original); soft counters come in with their
 * count, so that the next soft bounce continues from there. A row whose
 * (address, domain) we know already is left as we have it: a second run
 * changes nothing. Everything is one transaction.
 */
#include "cmd.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include <glib.h>
#include <glib/gstdio.h>
#include <sqlite3.h>

#include "log.h"
#include "policy/policy.h"

/* The fields the import needs, and the column names the original's versions
 * (and sites that extended them) gave each, in order of preference. */
typedef enum import_field {
    IMPORT_ADDRESS,
    IMPORT_DOMAIN,
    IMPORT_COUNT,
    IMPORT_FIRST,
    IMPORT_LAST,
    IMPORT_WHEN,
    IMPORT_ANSWER,
    IMPORT_FIELD_COUNT
} import_field;

static const char *const import_spellings[IMPORT_FIELD_COUNT][8] = {
    [IMPORT_ADDRESS] = { "bounced_address", "address", "email", "email_address", "mail", NULL },
    [IMPORT_DOMAIN] = { "domain", "platform", "plattform", "platform_domain", NULL },
    [IMPORT_COUNT] = { "counter", "count", "bounce_count", "bounces", "temporary_count", NULL },
    [IMPORT_FIRST] = { "first_bounce", "first_seen", "created_at", "created", "date", NULL },
    [IMPORT_LAST] = { "last_bounce", "last_seen", "updated_at", "updated", "date", "timestamp", NULL },
    [IMPORT_WHEN] = { "date", "bounced_at", "created_at", "created", "timestamp", "updated_at", NULL },
    [IMPORT_ANSWER] = { "response", "response_body", "platform_answer", "answer", NULL },
};

/* Which fields each table must have: without them a row means nothing. */
static const import_field import_soft_needs[] = { IMPORT_ADDRESS, IMPORT_COUNT };
static const import_field import_permanent_needs[] = { IMPORT_ADDRESS };

typedef struct import_table {
    const char *name;
    int column[IMPORT_FIELD_COUNT];  /* index in the SELECT, -1 when absent */
    char *select;                    /* the statement reading the fields found */
    char *columns;                   /* the table's columns, for errors */
} import_table;

typedef struct import_counts {
    long rows, added, known, skipped;
} import_counts;

typedef struct import_run {
    const config *cfg;
    store *st;
    sqlite3 *db;
    const char *db_path;
    const char *domain;       /* --domain: for tables without a domain column */
    bool dry_run;
    time_t now;
    import_counts soft, permanent;
    long copied, present, unreadable;
} import_run;

/* ---- reading the original's tables ---- */

/* The table's columns by name; 0 when found, 1 when there is no such table,
 * -1 on an error. */
static int import_describe(import_run *r, import_table *t)
{
    char *sql = g_strdup_printf("SELECT name FROM pragma_table_info('%s')", t->name);
    sqlite3_stmt *stmt;
    int rc = sqlite3_prepare_v2(r->db, sql, -1, &stmt, NULL);
    g_free(sql);
    if (rc != SQLITE_OK) {
        fprintf(stderr, "bouncedemails import-original: %s: %s\n", r->db_path, sqlite3_errmsg(r->db));
        return -1;
    }
    GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
        g_ptr_array_add(names, g_ascii_strdown((const char *)sqlite3_column_text(stmt, 0), -1));
    sqlite3_finalize(stmt);
    if (rc != SQLITE_DONE || names->len == 0) {
        g_ptr_array_free(names, TRUE);
        if (rc == SQLITE_DONE) return 1;
        fprintf(stderr, "bouncedemails import-original: %s: %s\n", r->db_path, sqlite3_errmsg(r->db));
        return -1;
    }
    GString *select = g_string_new("SELECT ");
    int n = 0;
    for (int f = 0; f < IMPORT_FIELD_COUNT; f++) {
        t->column[f] = -1;
        for (const char *const *s = import_spellings[f]; *s && t->column[f] < 0; s++)
            for (guint i = 0; i < names->len && t->column[f] < 0; i++)
                if (strcmp(g_ptr_array_index(names, i), *s) == 0) {
                    g_string_append_printf(select, "%s\"%s\"", n ? ", " : "", *s);
                    t->column[f] = n++;
                }
    }
    g_string_append_printf(select, " FROM \"%s\"", t->name);
    t->select = g_string_free(select, FALSE);
    g_ptr_array_add(names, NULL);
    t->columns = g_strjoinv(", ", (char **)names->pdata);
    g_ptr_array_free(names, TRUE);
    return 0;
}

static int import_require(const import_run *r, const import_table *t, const import_field *needs,
                          size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (t->column[needs[i]] >= 0) continue;
        char *tried = g_strjoinv(", ", (char **)import_spellings[needs[i]]);
        fprintf(stderr, "bouncedemails import-original: %s: table %s has no %s column"
                        " (its columns: %s; looked for: %s)\n",
                r->db_path, t->name, needs[i] == IMPORT_ADDRESS ? "address" : "count", t->columns,
                tried);
        g_free(tried);
        return -1;
    }
    if (t->column[IMPORT_DOMAIN] < 0 && !r->domain) {
        fprintf(stderr, "bouncedemails import-original: %s: table %s has no domain column"
                        " (its columns: %s): give the platform with --domain DOMAIN\n",
                r->db_path, t->name, t->columns);
        return -1;
    }
    return 0;
}

/* A time as the original stored it: Unix seconds (or milliseconds), or text
 * as Python's sqlite3 adapter writes a datetime ("2019-05-03 12:00:00.123456",
 * read as UTC), or ISO 8601. Absent or unreadable: fallback. */
static time_t import_time(sqlite3_stmt *stmt, int col, time_t fallback)
{
    if (col < 0) return fallback;
    switch (sqlite3_column_type(stmt, col)) {
    case SQLITE_INTEGER:
    case SQLITE_FLOAT: {
        double v = sqlite3_column_double(stmt, col);
        return v > 1e11 ? (time_t)(v / 1000) : v > 0 ? (time_t)v : fallback;
    }
    case SQLITE_TEXT: {
        char *text = g_strdup((const char *)sqlite3_column_text(stmt, col));
        if (strlen(text) > 10 && text[10] == ' ') text[10] = 'T';
        GTimeZone *utc = g_time_zone_new_utc();
        GDateTime *dt = g_date_time_new_from_iso8601(text, utc);
        if (!dt && strlen(text) == 10) {
            char *midnight = g_strconcat(text, "T00:00:00", NULL);
            dt = g_date_time_new_from_iso8601(midnight, utc);
            g_free(midnight);
        }
        time_t t = dt ? (time_t)g_date_time_to_unix(dt) : fallback;
        if (dt) g_date_time_unref(dt);
        g_time_zone_unref(utc);
        g_free(text);
        return t;
    }
    default:
        return fallback;
    }
}

static const char *import_text(sqlite3_stmt *stmt, int col)
{
    return col < 0 ? NULL : (const char *)sqlite3_column_text(stmt, col);
}

/* The configured domain a stored domain (or no-reply host) belongs to; the
 * value itself when none does (the data may outlive a domain's config). */
static const char *import_domain(const import_run *r, const import_table *t, sqlite3_stmt *stmt)
{
    const char *value = import_text(stmt, t->column[IMPORT_DOMAIN]);
    if (!value || !*value) value = r->domain;
    const config_domain *d = value ? config_find_domain(r->cfg, value) : NULL;
    return d ? d->name : value;
}

/* ---- one row ---- */

typedef int (*import_row_fn)(import_run *r, const import_table *t, sqlite3_stmt *stmt,
                             const char *address, const char *domain, int *added);

static int import_soft_row(import_run *r, const import_table *t, sqlite3_stmt *stmt,
                           const char *address, const char *domain, int *added)
{
    int count = sqlite3_column_int(stmt, t->column[IMPORT_COUNT]);
    if (count < 1) {
        *added = -1;   /* nothing counted: nothing to carry over */
        return 0;
    }
    time_t last = import_time(stmt, t->column[IMPORT_LAST], r->now);
    time_t first = import_time(stmt, t->column[IMPORT_FIRST], last);
    if (first > last) first = last;
    return store_import_soft(r->st, address, domain, count, first, last, added);
}

static int import_permanent_row(import_run *r, const import_table *t, sqlite3_stmt *stmt,
                                const char *address, const char *domain, int *added)
{
    const char *response = import_text(stmt, t->column[IMPORT_ANSWER]);
    char *answer = response && *response ? g_strdup_printf("imported from the original: %s", response)
                                         : g_strdup("imported from the original");
    store_permanent p = { address, domain, "imported", "",
                          import_time(stmt, t->column[IMPORT_WHEN], r->now) };
    int rc = store_import_permanent(r->st, &p, answer, added);
    g_free(answer);
    if (rc == 0 && *added == 1) {
        /* The audit trail says where the suppression came from. */
        store_event ev = { "import-original", address, domain, "permanent", "imported", "",
                           r->db_path, "import", r->now, NULL };
        rc = store_event_add(r->st, &ev);
    }
    return rc;
}

static int import_rows(import_run *r, const import_table *t, import_row_fn fn, import_counts *c)
{
    sqlite3_stmt *stmt;
    if (sqlite3_prepare_v2(r->db, t->select, -1, &stmt, NULL) != SQLITE_OK) {
        fprintf(stderr, "bouncedemails import-original: %s: %s\n", r->db_path, sqlite3_errmsg(r->db));
        return EX_DATAERR;
    }
    int rc, status = 0;
    while (status == 0 && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        const char *address = import_text(stmt, t->column[IMPORT_ADDRESS]);
        const char *domain = import_domain(r, t, stmt);
        int added = -1;
        c->rows++;
        if (!address || !strchr(address, '@') || !domain || !*domain) {
            c->skipped++;
            continue;
        }
        if (fn(r, t, stmt, address, domain, &added) != 0) {
            fprintf(stderr, "bouncedemails import-original: store: %s\n", store_errmsg(r->st));
            status = EX_TEMPFAIL;
        }
        if (added == 1) c->added++;
        else if (added == 0) c->known++;
        else c->skipped++;
    }
    if (status == 0 && rc != SQLITE_DONE) {
        fprintf(stderr, "bouncedemails import-original: %s: %s\n", r->db_path, sqlite3_errmsg(r->db));
        status = EX_DATAERR;
    }
    sqlite3_finalize(stmt);
    return status;
}

/* One of the original's tables; a table that is not there is reported and
 * passed over (an original that never saw a soft bounce). */
static int import_table_run(import_run *r, const char *name, const import_field *needs,
                            size_t n_needs, import_row_fn fn, import_counts *c)
{
    import_table t = { .name = name };
    int found = import_describe(r, &t);
    int status = found < 0 ? EX_DATAERR : 0;
    if (found == 1)
        printf("%s: no table %s\n", r->db_path, name);
    else if (found == 0 && import_require(r, &t, needs, n_needs) < 0)
        status = EX_DATAERR;
    else if (found == 0)
        status = import_rows(r, &t, fn, c);
    g_free(t.select);
    g_free(t.columns);
    return status;
}

/* ---- the archive ---- */

static void import_archive_file(import_run *r, const char *dir, const char *name)
{
    char *address = g_strndup(name, strlen(name) - 3);
    char *src = g_build_filename(dir, name, NULL);
    char *dest = policy_archive_path(r->cfg->handler.permanent_bounced_emails_path, address);
    gchar *data = NULL;
    gsize len = 0;
    if (!dest || g_file_test(dest, G_FILE_TEST_EXISTS)) {
        r->present++;
    } else if (r->dry_run) {
        r->copied++;
    } else {
        char *parent = g_path_get_dirname(dest);
        GError *err = NULL;
        if (g_mkdir_with_parents(parent, 0750) == 0 && g_file_get_contents(src, &data, &len, &err) &&
            g_file_set_contents_full(dest, data, (gssize)len, G_FILE_SET_CONTENTS_CONSISTENT, 0640, &err))
            r->copied++;
        else {
            log_warn("import-original: archive: %s: %s", src, err ? err->message : g_strerror(errno));
            r->unreadable++;
        }
        if (err) g_error_free(err);
        g_free(parent);
    }
    g_free(data);
    free(dest);
    g_free(src);
    g_free(address);
}

/* Copies <archive>/<2 chars>/<address>.gz into our archive where we have no
 * file for the address yet (the same folder is then all "already there"). */
static int import_archive(import_run *r, const char *archive)
{
    GError *err = NULL;
    GDir *top = g_dir_open(archive, 0, &err);
    if (!top) {
        fprintf(stderr, "bouncedemails import-original: --archive: %s\n", err->message);
        g_error_free(err);
        return EX_NOINPUT;
    }
    const char *sub;
    while ((sub = g_dir_read_name(top))) {
        char *dir = g_build_filename(archive, sub, NULL);
        GDir *d = g_file_test(dir, G_FILE_TEST_IS_DIR) ? g_dir_open(dir, 0, &err) : NULL;
        if (err) {
            /* Its files would be left behind unsaid: counted as unread. */
            log_warn("import-original: archive: %s", err->message);
            g_clear_error(&err);
            r->unreadable++;
        }
        const char *name;
        while (d && (name = g_dir_read_name(d)))
            if (g_str_has_suffix(name, ".gz") && strlen(name) > 3 && strchr(name, '@'))
                import_archive_file(r, dir, name);
        if (d) g_dir_close(d);
        g_free(dir);
    }
    g_dir_close(top);
    return 0;
}

/* ---- the command ---- */

static void import_print(const char *what, const import_counts *c, bool dry_run)
{
    printf("%s: %ld row(s), %ld %simported, %ld already known, %ld skipped (no address,"
           " domain or count)\n", what, c->rows, c->added, dry_run ? "would be " : "", c->known,
           c->skipped);
}

static int import_database(import_run *r)
{
    if (store_begin(r->st) != 0) {
        fprintf(stderr, "bouncedemails import-original: store: %s\n", store_errmsg(r->st));
        return EX_TEMPFAIL;
    }
    int status = import_table_run(r, "permanent_bounces", import_permanent_needs,
                                  G_N_ELEMENTS(import_permanent_needs), import_permanent_row,
                                  &r->permanent);
    if (status == 0)
        status = import_table_run(r, "temporary_bounces", import_soft_needs,
                                  G_N_ELEMENTS(import_soft_needs), import_soft_row, &r->soft);
    if (status != 0 || r->dry_run) {
        store_rollback(r->st);
        return status;
    }
    if (store_commit(r->st) != 0) {
        fprintf(stderr, "bouncedemails import-original: store: %s\n", store_errmsg(r->st));
        return EX_TEMPFAIL;
    }
    return 0;
}

static int import_usage(int status)
{
    fprintf(status ? stderr : stdout,
            "usage: bouncedemails [--config PATH] [--env NAME] import-original --db PATH\n"
            "                     [--archive DIR] [--domain DOMAIN] [--dry-run]\n"
            "\n"
            "Brings the original service's data into this store: its permanent bounces\n"
            "(suppressed here too; the platform is not told again) and its soft-bounce\n"
            "counters (the next soft bounce continues the count), read from its SQLite\n"
            "file whichever version wrote it; with --archive, its gzipped bounces\n"
            "(DIR/<2 chars>/<address>.gz) are copied into handler.permanent_bounced_emails_path.\n"
            "What this store knows already is kept: running it twice changes nothing.\n"
            "\n"
            "options:\n"
            "  --db PATH        the original's database (its handler.dbfile); read only\n"
            "  --archive DIR    the original's handler.permanent_bounced_emails_path\n"
            "  --domain DOMAIN  the platform of rows from a table without a domain column\n"
            "  --dry-run        count what would be imported, change nothing\n"
            "  --help           this help\n"
            "\n"
            "exit status: 0 done, 64 usage, 65 a table lacks an address or count column,\n"
            "66 the database or archive cannot be read, 74 an archive file could not be\n"
            "copied (the rest was; run it again), 75 the store failed (nothing of the\n"
            "database was imported), 78 config error.\n");
    return status;
}

static int import_open_db(import_run *r)
{
    /* Read only, so that the original may still be running while this
     * reads; the path as it is, not in a file: URI, where a "?", "#" or "%"
     * in it would be read as URI syntax. */
    int rc = g_file_test(r->db_path, G_FILE_TEST_IS_REGULAR)
                 ? sqlite3_open_v2(r->db_path, &r->db, SQLITE_OPEN_READONLY, NULL)
                 : SQLITE_CANTOPEN;
    if (rc == SQLITE_OK) {
        sqlite3_busy_timeout(r->db, 10000);
        return 0;
    }
    fprintf(stderr, "bouncedemails import-original: --db %s: %s\n", r->db_path,
            r->db ? sqlite3_errmsg(r->db) : "no such file");
    return EX_NOINPUT;
}

static int import_main(import_run *r, const char *archive)
{
    int status = import_open_db(r);
    if (status == 0) status = import_database(r);
    if (status == 0 && archive) status = import_archive(r, archive);
    if (status != 0) return status;
    import_print("permanent_bounces", &r->permanent, r->dry_run);
    import_print("temporary_bounces", &r->soft, r->dry_run);
    if (archive)
        printf("archive: %ld file(s) %scopied, %ld already there, %ld unreadable\n", r->copied,
               r->dry_run ? "would be " : "", r->present, r->unreadable);
    log_info("import-original%s: %ld permanent bounce(s) and %ld soft-bounce counter(s) imported"
             " from %s", r->dry_run ? " (dry run)" : "", r->permanent.added, r->soft.added, r->db_path);
    /* A file left behind is said in the status too, so that a script that
     * runs the switch-over does not go on as if the archive were whole. */
    return r->unreadable ? EX_IOERR : 0;
}

int cmd_import_original(const cmd_context *ctx, int argc, char **argv)
{
    static const struct option options[] = {
        { "db", required_argument, NULL, 'd' },
        { "archive", required_argument, NULL, 'a' },
        { "domain", required_argument, NULL, 'D' },
        { "dry-run", no_argument, NULL, 'n' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    import_run r = { .now = time(NULL) };
    const char *archive = NULL;
    int opt;

    cmd_normalize_options(argc, argv);
    optind = 1;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
        case 'd': r.db_path = optarg; break;
        case 'a': archive = optarg; break;
        case 'D': r.domain = optarg; break;
        case 'n': r.dry_run = true; break;
        case 'h': return import_usage(0);
        default: return import_usage(EX_USAGE);
        }
    }
    if (optind < argc || !r.db_path) return import_usage(EX_USAGE);
    config *cfg = NULL;
    int status = cmd_load_config(ctx, &cfg);
    if (status == 0) status = cmd_open_store(cfg, &r.st);
    r.cfg = cfg;
    if (status == 0) status = import_main(&r, archive);
    if (r.db) sqlite3_close(r.db);
    store_close(r.st);
    if (cfg) config_free(cfg);
    return status;
}
