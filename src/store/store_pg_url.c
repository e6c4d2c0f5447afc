/*
 * store_pg_url.c - store.url into libpq keywords, and redaction (see
 * store_pg_url.h). Follows libpq's URI syntax (RFC 3986 with libpq's query
 * keywords and host lists) except where a password would be misread.
 */
#include "store/store_pg_url.h"
#include "uri.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <glib.h>
#include <libpq-fe.h>

static const char *const pg_url_schemes[] = { "postgresql://", "postgres://" };

static int pg_url_fail(char *err, size_t err_len, const char *why)
{
    snprintf(err, err_len, "store.url: %s (value not shown: it may hold a password)", why);
    return -1;
}

/* Sets key to value (a later value replaces an earlier one, as in libpq). */
static int pg_url_set(pg_url *u, const char *key, const char *value)
{
    for (size_t i = 0; i < u->n; i++) {
        if (strcmp(u->keys[i], key) == 0) {
            g_free(u->values[i]);
            u->values[i] = g_strdup(value);
            return 0;
        }
    }
    if (u->n == PG_URL_MAX_KEYS) return -1;
    u->keys[u->n] = g_strdup(key);
    u->values[u->n] = g_strdup(value);
    u->n++;
    return 0;
}

static const char *pg_url_get(const pg_url *u, const char *key)
{
    for (size_t i = 0; i < u->n; i++)
        if (strcmp(u->keys[i], key) == 0) return u->values[i];
    return NULL;
}

static void pg_url_secret(pg_url *u, const char *secret)
{
    for (size_t i = 0; i < PG_URL_MAX_SECRETS; i++) {
        if (!u->secrets[i]) {
            u->secrets[i] = g_strdup(secret);
            return;
        }
    }
}

/* The percent-decoded text from s to end, or NULL when a "%" is not
 * followed by two hex digits or it decodes to a NUL. */
static char *pg_url_decode(const char *s, const char *end)
{
    char *raw = g_strndup(s, (size_t)(end - s));
    char *out = g_uri_unescape_string(raw, NULL);
    g_free(raw);
    return out;
}

/* Sets key to the decoded text from s to end, unless it is empty. */
static int pg_url_set_decoded(pg_url *u, const char *key, const char *s, const char *end, char *err,
                              size_t err_len)
{
    if (s == end) return 0;
    char *value = pg_url_decode(s, end);
    if (!value) return pg_url_fail(err, err_len, "a bad percent-encoding");
    int rc = pg_url_set(u, key, value);
    g_free(value);
    return rc < 0 ? pg_url_fail(err, err_len, "too many parameters") : 0;
}

/* "user:password", both percent-decoded. */
static int pg_url_userinfo(pg_url *u, const char *s, const char *end, char *err, size_t err_len)
{
    char *raw = g_strndup(s, (size_t)(end - s));
    pg_url_secret(u, raw);
    g_free(raw);
    const char *colon = memchr(s, ':', (size_t)(end - s));
    if (colon && colon + 1 < end) {
        char *spelt = g_strndup(colon + 1, (size_t)(end - colon - 1));
        pg_url_secret(u, spelt);
        g_free(spelt);
        char *password = pg_url_decode(colon + 1, end);
        if (!password) return pg_url_fail(err, err_len, "the password has a bad percent-encoding");
        pg_url_secret(u, password);
        int rc = pg_url_set(u, "password", password);
        g_free(password);
        if (rc < 0) return pg_url_fail(err, err_len, "too many parameters");
    }
    return pg_url_set_decoded(u, "user", s, colon ? colon : end, err, err_len);
}

/* "host[:port],[v6]:port,...": libpq takes comma lists of hosts and ports. */
static int pg_url_hosts(pg_url *u, const char *s, const char *end, char *err, size_t err_len)
{
    if (s == end) return 0;
    GString *hosts = g_string_new(NULL), *ports = g_string_new(NULL);
    bool any_port = false;
    int rc = 0;
    for (const char *item = s; item <= end && rc == 0;) {
        const char *comma = memchr(item, ',', (size_t)(end - item));
        const char *stop = comma ? comma : end;
        uri_span host, port;
        if (uri_host_port(item, stop, &host, &port) < 0) {
            rc = pg_url_fail(err, err_len, "an IPv6 host without its \"]\", or text after it");
            break;
        }
        for (const char *c = port.start; c && c < port.end && rc == 0; c++)
            if (!g_ascii_isdigit(*c)) rc = pg_url_fail(err, err_len, "a port that is not a number");
        char *name = pg_url_decode(host.start, host.end);
        if (!name && rc == 0) rc = pg_url_fail(err, err_len, "a host with a bad percent-encoding");
        g_string_append_printf(hosts, "%s%s", item == s ? "" : ",", name ? name : "");
        int port_len = port.start ? (int)(port.end - port.start) : 0;
        g_string_append_printf(ports, "%s%.*s", item == s ? "" : ",", port_len, port.start ? port.start : "");
        any_port |= port_len > 0;
        g_free(name);
        item = stop + 1;
    }
    if (rc == 0 && hosts->len > 0 && pg_url_set(u, "host", hosts->str) < 0) rc = -1;
    if (rc == 0 && any_port && pg_url_set(u, "port", ports->str) < 0) rc = -1;
    g_string_free(hosts, TRUE);
    g_string_free(ports, TRUE);
    return rc;
}

/* "key=value&key=value", each percent-decoded; a password among them is a
 * secret too. */
static int pg_url_query(pg_url *u, const char *s, char *err, size_t err_len)
{
    int rc = 0;
    char **pairs = g_strsplit(s, "&", -1);
    for (char **p = pairs; *p && rc == 0; p++) {
        if (!**p) continue;
        char *eq = strchr(*p, '=');
        if (!eq) {
            rc = pg_url_fail(err, err_len, "a query parameter without \"=\"");
            break;
        }
        char *key = pg_url_decode(*p, eq), *value = pg_url_decode(eq + 1, eq + strlen(eq));
        if (!key || !value)
            rc = pg_url_fail(err, err_len, "a query parameter with a bad percent-encoding");
        else if (pg_url_set(u, key, value) < 0)
            rc = pg_url_fail(err, err_len, "too many parameters");
        if (key && value && strcmp(key, "password") == 0) pg_url_secret(u, value);
        g_free(key);
        g_free(value);
    }
    g_strfreev(pairs);
    return rc;
}

static int pg_url_uri(pg_url *u, const char *url, char *err, size_t err_len)
{
    uri_parts p;
    uri_split(url, "?", &p);
    if (p.userinfo.start && pg_url_userinfo(u, p.userinfo.start, p.userinfo.end, err, err_len) < 0) return -1;
    if (pg_url_hosts(u, p.hosts.start, p.hosts.end, err, err_len) < 0) return -1;
    if (p.path.start && pg_url_set_decoded(u, "dbname", p.path.start, p.path.end, err, err_len) < 0)
        return -1;
    return p.query.start ? pg_url_query(u, p.query.start, err, err_len) : 0;
}

/* A key=value connection string, as libpq reads it. */
static int pg_url_conninfo(pg_url *u, const char *conninfo, char *err, size_t err_len)
{
    char *why = NULL;
    PQconninfoOption *opts = PQconninfoParse(conninfo, &why);
    PQfreemem(why);
    if (!opts) return pg_url_fail(err, err_len, "neither a postgresql:// URI nor a key=value string");
    int rc = 0;
    for (PQconninfoOption *o = opts; o->keyword && rc == 0; o++) {
        if (!o->val || !*o->val) continue;
        if (strcmp(o->keyword, "password") == 0) pg_url_secret(u, o->val);
        if (pg_url_set(u, o->keyword, o->val) < 0) rc = pg_url_fail(err, err_len, "too many parameters");
    }
    PQconninfoFree(opts);
    return rc;
}

int pg_url_parse(const char *url, const char *const defaults[][2], const char *server_options, pg_url *u,
                 char *err, size_t err_len)
{
    memset(u, 0, sizeof *u);
    for (size_t i = 0; defaults && defaults[i][0]; i++) pg_url_set(u, defaults[i][0], defaults[i][1]);
    int rc = -1;
    for (size_t i = 0; i < G_N_ELEMENTS(pg_url_schemes) && rc < 0; i++)
        if (g_str_has_prefix(url, pg_url_schemes[i]))
            rc = pg_url_uri(u, url, err, err_len) < 0 ? -2 : 0;
    if (rc == -2) return -1;
    if (rc < 0 && pg_url_conninfo(u, url, err, err_len) < 0) return -1;
    const char *theirs = pg_url_get(u, "options");
    char *options = g_strconcat(server_options, theirs ? " " : "", theirs, NULL);
    rc = pg_url_set(u, "client_encoding", "UTF8") < 0 || pg_url_set(u, "options", options) < 0 ? -1 : 0;
    g_free(options);
    return rc < 0 ? pg_url_fail(err, err_len, "too many parameters") : 0;
}

void pg_url_free(pg_url *u)
{
    for (size_t i = 0; i < u->n; i++) {
        g_free(u->keys[i]);
        g_free(u->values[i]);
    }
    for (size_t i = 0; i < PG_URL_MAX_SECRETS; i++) g_free(u->secrets[i]);
    memset(u, 0, sizeof *u);
}

char *pg_url_redact(const pg_url *u, const char *msg)
{
    GString *out = g_string_new(msg);
    /* Longest first, so that a part of one never leaves the rest showing. */
    const char *order[PG_URL_MAX_SECRETS];
    size_t n = 0;
    for (size_t i = 0; i < PG_URL_MAX_SECRETS; i++)
        if (u->secrets[i] && *u->secrets[i]) order[n++] = u->secrets[i];
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && strlen(order[j]) > strlen(order[j - 1]); j--) {
            const char *t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    for (size_t i = 0; i < n; i++) g_string_replace(out, order[i], "***", 0);
    /* One line for the log: libpq ends messages with a newline and puts
     * hints on lines of their own. */
    g_string_replace(out, "\n\t", "; ", 0);
    while (out->len && (out->str[out->len - 1] == '\n' || out->str[out->len - 1] == ' '))
        g_string_truncate(out, out->len - 1);
    g_string_replace(out, "\n", "; ", 0);
    return g_string_free(out, FALSE);
}
