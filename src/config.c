/*
 * config.c - reads config.yml (libyaml's document API) into struct config.
 *
 * The schema is data: one table of keys per section, each naming its parser,
 * its field, its range and its default written as text. Defaults are parsed
 * by the same code as the file's values, so a default can never say what the
 * file could not. Every error names the file, the line and the dotted key;
 * values are quoted back only for keys that cannot hold a secret.
 *
 * The file: one top-level mapping per environment; YAML merge keys (<<) work
 * as in the original's PyYAML; ${VAR} and ${VAR:-default} in any value come
 * from the environment, $$ is a literal $. Keys may be written with dashes or
 * underscores.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>
#include <libpsl.h>
#include <yaml.h>

#include "config.h"
#include "uri.h"

#define CONFIG_SYSTEM_PATH "/etc/bouncedemails/config.yml"
#define CONFIG_LOCAL_PATH  "config.yml"
#define CONFIG_WHY_MAX 256

/* Messages a transaction: every bounce lands at random places of the
 * address and fingerprint indexes, so a commit writes about four pages a
 * message until messages start to share pages. At a 100,000 backlog, 250
 * wrote 13.5 KiB a message where 100 wrote 18.2, and the process's CPU a
 * message fell by 7%; 400 saved little more for more memory. */
#define CONFIG_AMQP_BATCH 250

typedef struct config_loader {
    const char *path;
    yaml_document_t doc;
    config *cfg;
    GHashTable *lines;          /* dotted key -> line the file set it on */
    size_t section_line;
    bool amqp_enabled_set;
    char *err;
    size_t err_len;
    bool failed;
} config_loader;

typedef struct config_key config_key;

/* Parses text into field; on failure writes why (without the value). */
typedef int (*config_scalar_fn)(const char *text, void *field, const config_key *key,
                                char *why, size_t why_len);
/* Parses a mapping or sequence node into (base + key->offset). */
typedef int (*config_node_fn)(config_loader *ld, yaml_node_t *node, const char *path,
                              void *base, const config_key *key);

struct config_key {
    const char *name;
    config_scalar_fn scalar;    /* a single value, or */
    config_node_fn node;        /* a mapping or list */
    size_t offset;              /* of the field in the base struct */
    long long min, max;         /* value range, or string length range */
    const char *def;            /* default as text, NULL for none */
    bool secret;                /* never quote the value back */
    bool nullable;              /* a string that may be unset: "" leaves it NULL */
    const config_key *children; /* for sections */
};

/* Walking mappings: fn is called once per key, merged keys (<<) first so the
 * mapping's own keys override them. */
typedef int (*config_pair_fn)(config_loader *ld, yaml_node_t *key, yaml_node_t *value,
                              const char *path, void *ctx);

/* ---- errors ---- */

static size_t
config_node_line(const yaml_node_t *node)
{
    return node ? node->start_mark.line + 1 : 0;
}

static int
config_fail(config_loader *ld, size_t line, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int
config_fail(config_loader *ld, size_t line, const char *key, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    if (ld->failed)
        return -1;
    ld->failed = true;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (key != NULL && key[0] == '\0')
        key = ld->cfg->env;    /* the section itself */
    if (line > 0 && key != NULL)
        snprintf(ld->err, ld->err_len, "%s:%zu: %s: %s", ld->path, line, key, msg);
    else if (line > 0)
        snprintf(ld->err, ld->err_len, "%s:%zu: %s", ld->path, line, msg);
    else
        snprintf(ld->err, ld->err_len, "%s: %s", ld->path, msg);
    return -1;
}

/* A value fit to quote in an error: printable, and not too long. */
static void
config_quote(const char *text, char *out, size_t out_len)
{
    size_t n = 0;

    for (const char *p = text; *p && n + 4 < out_len; p++)
        out[n++] = (*p >= 0x20 && *p != 0x7f) ? *p : '?';
    if (text[n] != '\0' && n + 4 >= out_len)
        memcpy(out + n, "...", 3), n += 3;
    out[n] = '\0';
}

static void
config_remember(config_loader *ld, const char *path, const yaml_node_t *node)
{
    g_hash_table_replace(ld->lines, g_strdup(path), GSIZE_TO_POINTER(config_node_line(node)));
}

/* The line a key was set on, else its section's, for checks across keys. */
static size_t
config_line_of(config_loader *ld, const char *path)
{
    char *p = g_strdup(path);
    size_t line = 0;

    while (line == 0) {
        line = GPOINTER_TO_SIZE(g_hash_table_lookup(ld->lines, p));
        char *dot = strrchr(p, '.');
        if (dot == NULL)
            break;
        *dot = '\0';
    }
    g_free(p);
    return line ? line : ld->section_line;
}

/* ---- scalars ---- */

static const char *
config_node_kind(const yaml_node_t *node)
{
    return node->type == YAML_MAPPING_NODE ? "a mapping" : "a list";
}

static bool
config_is_null(const yaml_node_t *node)
{
    const char *v = (const char *)node->data.scalar.value;

    return node->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
        (v[0] == '\0' || strcmp(v, "~") == 0 || strcasecmp(v, "null") == 0);
}

static bool
config_valid_var_name(const char *name, size_t len)
{
    if (len == 0 || g_ascii_isdigit(name[0]))
        return false;
    for (size_t i = 0; i < len; i++)
        if (!g_ascii_isalnum(name[i]) && name[i] != '_')
            return false;
    return true;
}

/* Appends the value of the ${...} reference that starts at ref (after "${")
 * and ends at end (the "}"). */
static int
config_expand_ref(config_loader *ld, size_t line, const char *key, const char *ref,
                  const char *end, GString *out)
{
    size_t n = strcspn(ref, ":}");
    bool has_default = ref[n] == ':';
    char *name;
    const char *value;

    if (!config_valid_var_name(ref, n) || (has_default && ref[n + 1] != '-'))
        return config_fail(ld, line, key, "'${%.*s}' is not ${NAME} or ${NAME:-default}",
                           (int)MIN((size_t)(end - ref), 64), ref);
    name = g_strndup(ref, n);
    value = getenv(name);
    if (has_default && (value == NULL || value[0] == '\0')) {
        g_string_append_len(out, ref + n + 2, end - (ref + n + 2));
        g_free(name);
        return 0;
    }
    if (value == NULL) {
        config_fail(ld, line, key, "environment variable %s is not set", name);
        g_free(name);
        return -1;
    }
    g_string_append(out, value);
    g_free(name);
    return 0;
}

static int
config_expand(config_loader *ld, size_t line, const char *key, const char *in, char **out)
{
    GString *s = g_string_sized_new(strlen(in));

    for (const char *p = in; *p != '\0';) {
        if (p[0] != '$' || (p[1] != '$' && p[1] != '{')) {
            g_string_append_c(s, *p++);
        } else if (p[1] == '$') {
            g_string_append_c(s, '$');
            p += 2;
        } else {
            const char *end = strchr(p + 2, '}');
            if (end == NULL) {
                g_string_free(s, TRUE);
                return config_fail(ld, line, key, "'${' without its '}' (write $$ for a literal $)");
            }
            if (config_expand_ref(ld, line, key, p + 2, end, s) < 0) {
                g_string_free(s, TRUE);
                return -1;
            }
            p = end + 1;
        }
    }
    *out = g_string_free(s, FALSE);
    return 0;
}

/* The expanded text of a scalar node; YAML's null is "". */
static int
config_scalar_text(config_loader *ld, yaml_node_t *node, const char *key, char **out)
{
    if (node->type != YAML_SCALAR_NODE)
        return config_fail(ld, config_node_line(node), key, "expected a single value, got %s",
                           config_node_kind(node));
    if (config_is_null(node)) {
        *out = g_strdup("");
        return 0;
    }
    return config_expand(ld, config_node_line(node), key, (const char *)node->data.scalar.value, out);
}

static int
config_parse_llong(const char *text, long long *out)
{
    char *end;

    errno = 0;
    *out = g_ascii_strtoll(text, &end, 10);
    return (end == text || *end != '\0' || errno != 0) ? -1 : 0;
}

static int
config_check_range(long long v, const config_key *key, const char *unit, char *why, size_t why_len)
{
    if (v >= key->min && v <= key->max)
        return 0;
    snprintf(why, why_len, "must be between %lld and %lld%s", key->min, key->max, unit);
    return -1;
}

static int
config_parse_int(const char *text, void *field, const config_key *key, char *why, size_t why_len)
{
    long long v;

    if (config_parse_llong(text, &v) < 0) {
        snprintf(why, why_len, "expected an integer");
        return -1;
    }
    if (config_check_range(v, key, "", why, why_len) < 0)
        return -1;
    *(int *)field = (int)v;
    return 0;
}

static const struct { const char *suffix; long long factor; } config_size_units[] = {
    { "", 1 }, { "B", 1 },
    { "k", 1LL << 10 }, { "K", 1LL << 10 }, { "KB", 1LL << 10 }, { "KiB", 1LL << 10 },
    { "M", 1LL << 20 }, { "MB", 1LL << 20 }, { "MiB", 1LL << 20 },
    { "G", 1LL << 30 }, { "GB", 1LL << 30 }, { "GiB", 1LL << 30 },
};

/* Bytes: 26214400, 25M, 25MiB (units are binary). */
static int
config_parse_size(const char *text, void *field, const config_key *key, char *why, size_t why_len)
{
    char *end;
    long long v;

    errno = 0;
    v = g_ascii_strtoll(text, &end, 10);
    while (*end == ' ')
        end++;
    for (size_t i = 0; end != text && errno == 0 && i < G_N_ELEMENTS(config_size_units); i++) {
        if (strcmp(end, config_size_units[i].suffix) != 0)
            continue;
        if (v > LLONG_MAX / config_size_units[i].factor)
            break;
        v *= config_size_units[i].factor;
        if (config_check_range(v, key, " bytes", why, why_len) < 0)
            return -1;
        *(size_t *)field = (size_t)v;
        return 0;
    }
    snprintf(why, why_len, "expected a size in bytes (e.g. 26214400 or 25MiB)");
    return -1;
}

static const struct { const char *suffix; double ms; } config_duration_units[] = {
    { "", 1000 }, { "s", 1000 }, { "ms", 1 }, { "m", 60000 }, { "min", 60000 },
    { "h", 3600000 }, { "d", 86400000 },
};

/* A duration in milliseconds: plain numbers are seconds, "0.5", "90s",
 * "250ms", "5m", "1h" and "1d" also work. */
static int
config_parse_duration(const char *text, double *ms)
{
    char *end;
    double v;

    errno = 0;
    v = g_ascii_strtod(text, &end);
    if (end == text || errno != 0 || !(v >= 0) || v > 1e12)
        return -1;
    while (*end == ' ')
        end++;
    for (size_t i = 0; i < G_N_ELEMENTS(config_duration_units); i++) {
        if (strcmp(end, config_duration_units[i].suffix) == 0) {
            *ms = v * config_duration_units[i].ms;
            return 0;
        }
    }
    return -1;
}

/* Durations kept in milliseconds; the range is in milliseconds too. */
static int
config_parse_ms(const char *text, void *field, const config_key *key, char *why, size_t why_len)
{
    double ms;

    if (config_parse_duration(text, &ms) < 0) {
        snprintf(why, why_len, "expected a duration in seconds (e.g. 5, 0.5, 250ms)");
        return -1;
    }
    if (ms < (double)key->min || ms > (double)key->max) {
        snprintf(why, why_len, "must be between %g and %g seconds", key->min / 1000.0,
                 key->max / 1000.0);
        return -1;
    }
    *(int *)field = (int)(ms + 0.5);
    return 0;
}

/* Durations kept in whole seconds. */
static int
config_parse_seconds(const char *text, void *field, const config_key *key, char *why, size_t why_len)
{
    double ms;

    if (config_parse_duration(text, &ms) < 0 || ms / 1000 != (double)(long long)(ms / 1000)) {
        snprintf(why, why_len, "expected a whole number of seconds (e.g. 30, 5m, 1h)");
        return -1;
    }
    if (config_check_range((long long)(ms / 1000), key, " seconds", why, why_len) < 0)
        return -1;
    *(int *)field = (int)(ms / 1000);
    return 0;
}

static int
config_parse_bool(const char *text, void *field, const config_key *key, char *why, size_t why_len)
{
    static const char *const yes[] = { "true", "yes", "on" }, *const no[] = { "false", "no", "off" };

    (void)key;
    for (size_t i = 0; i < G_N_ELEMENTS(yes); i++) {
        if (g_ascii_strcasecmp(text, yes[i]) == 0 || g_ascii_strcasecmp(text, no[i]) == 0) {
            *(bool *)field = g_ascii_strcasecmp(text, yes[i]) == 0;
            return 0;
        }
    }
    snprintf(why, why_len, "expected true or false");
    return -1;
}

/* A string whose length is within min..max; an empty nullable one is unset. */
static int
config_parse_string(const char *text, void *field, const config_key *key, char *why, size_t why_len)
{
    size_t len = strlen(text);
    char **s = field;

    if ((long long)len < key->min || (long long)len > key->max) {
        if (key->min > 0 && len == 0)
            snprintf(why, why_len, "must not be empty");
        else
            snprintf(why, why_len, "must be %lld to %lld characters long", key->min, key->max);
        return -1;
    }
    g_free(*s);
    *s = (len == 0 && key->nullable) ? NULL : g_strdup(text);
    return 0;
}

/* host:port or [IPv6]:port; empty turns the endpoint off. */
static int
config_parse_listen(const char *text, void *field, const config_key *key, char *why, size_t why_len)
{
    const char *colon = strrchr(text, ':');
    char *end = NULL;
    long port = colon ? strtol(colon + 1, &end, 10) : 0;
    bool bracketed = text[0] == '[';

    if (*text == '\0')
        return config_parse_string(text, field, key, why, why_len);
    if (!colon || colon == text || !end || *end || colon[1] == '\0' || port < 1 || port > 65535 ||
        (bracketed && colon[-1] != ']') || (!bracketed && memchr(text, ':', (size_t)(colon - text)))) {
        snprintf(why, why_len, "expected HOST:PORT (an IPv6 address in brackets), or empty for off");
        return -1;
    }
    return config_parse_string(text, field, key, why, why_len);
}

static int
config_parse_backend(const char *text, void *field, const config_key *key, char *why, size_t why_len)
{
    if (strcmp(text, "sqlite") != 0 && strcmp(text, "postgresql") != 0) {
        snprintf(why, why_len, "expected sqlite or postgresql");
        return -1;
    }
    return config_parse_string(text, field, key, why, why_len);
}

static int
config_parse_payload(const char *text, void *field, const config_key *key, char *why, size_t why_len)
{
    (void)key;
    if (strcmp(text, "empty") == 0)
        *(config_payload *)field = CONFIG_PAYLOAD_EMPTY;
    else if (strcmp(text, "json") == 0)
        *(config_payload *)field = CONFIG_PAYLOAD_JSON;
    else {
        snprintf(why, why_len, "expected empty or json");
        return -1;
    }
    return 0;
}

static int
config_parse_resolver(const char *text, void *field, const config_key *key, char *why, size_t why_len)
{
    (void)key;
    if (strcmp(text, "xikolo") != 0 && strcmp(text, "none") != 0 && text[0] != '\0') {
        snprintf(why, why_len, "expected xikolo or none");
        return -1;
    }
    *(bool *)field = strcmp(text, "xikolo") == 0;
    return 0;
}

/* Parses one scalar node for key into base. */
static int
config_apply_scalar(config_loader *ld, yaml_node_t *node, const char *path, void *base,
                    const config_key *key)
{
    char why[CONFIG_WHY_MAX], got[96];
    char *text;
    int rc;

    if (config_scalar_text(ld, node, path, &text) < 0)
        return -1;
    rc = key->scalar(text, (char *)base + key->offset, key, why, sizeof why);
    if (rc < 0) {
        config_quote(text, got, sizeof got);
        if (key->secret)
            config_fail(ld, config_node_line(node), path, "%s (value not shown: it may be secret)", why);
        else if (text[0] == '\0')
            config_fail(ld, config_node_line(node), path, "%s, got nothing", why);
        else
            config_fail(ld, config_node_line(node), path, "%s, got '%s'", why, got);
    }
    g_free(text);
    return rc;
}

/* ---- mappings ---- */

static char *
config_join(const char *path, const char *name)
{
    return path[0] ? g_strconcat(path, ".", name, NULL) : g_strdup(name);
}

static const char *
config_scalar_value(const yaml_node_t *node)
{
    return node->type == YAML_SCALAR_NODE ? (const char *)node->data.scalar.value : NULL;
}

static int config_walk(config_loader *ld, yaml_node_t *map, const char *path,
                       config_pair_fn fn, void *ctx);

/* The value of a merge key: a mapping, or a list of them where the earlier
 * ones win (so they are applied last). */
static int
config_walk_merge(config_loader *ld, yaml_node_t *value, const char *path, config_pair_fn fn, void *ctx)
{
    if (value->type == YAML_MAPPING_NODE)
        return config_walk(ld, value, path, fn, ctx);
    if (value->type == YAML_SEQUENCE_NODE) {
        for (yaml_node_item_t *it = value->data.sequence.items.top;
             it > value->data.sequence.items.start; it--) {
            if (config_walk_merge(ld, yaml_document_get_node(&ld->doc, it[-1]), path, fn, ctx) < 0)
                return -1;
        }
        return 0;
    }
    return config_fail(ld, config_node_line(value), path, "<< must name a mapping (<<: *anchor)");
}

static bool
config_is_merge_key(const yaml_node_t *key)
{
    const char *k = config_scalar_value(key);

    return k != NULL && strcmp(k, "<<") == 0 && key->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
}

static int
config_walk(config_loader *ld, yaml_node_t *map, const char *path, config_pair_fn fn, void *ctx)
{
    yaml_node_pair_t *start, *top;

    if (map->type == YAML_SCALAR_NODE && config_is_null(map))
        return 0;
    if (map->type != YAML_MAPPING_NODE)
        return config_fail(ld, config_node_line(map), path, "expected a mapping of keys, got %s",
                           map->type == YAML_SCALAR_NODE ? "a single value" : "a list");
    start = map->data.mapping.pairs.start;
    top = map->data.mapping.pairs.top;
    for (yaml_node_pair_t *p = start; p < top; p++) {
        yaml_node_t *key = yaml_document_get_node(&ld->doc, p->key);
        if (config_is_merge_key(key) &&
            config_walk_merge(ld, yaml_document_get_node(&ld->doc, p->value), path, fn, ctx) < 0)
            return -1;
    }
    for (yaml_node_pair_t *p = start; p < top; p++) {
        yaml_node_t *key = yaml_document_get_node(&ld->doc, p->key);
        const char *k = config_scalar_value(key);
        if (config_is_merge_key(key))
            continue;
        if (k == NULL)
            return config_fail(ld, config_node_line(key), path, "a key must be a single value");
        for (yaml_node_pair_t *q = start; q < p; q++) {
            const char *prev = config_scalar_value(yaml_document_get_node(&ld->doc, q->key));
            if (prev != NULL && strcmp(prev, k) == 0) {
                char *full = config_join(path, k);
                config_fail(ld, config_node_line(key), full, "appears twice in the same mapping");
                g_free(full);
                return -1;
            }
        }
        if (fn(ld, key, yaml_document_get_node(&ld->doc, p->value), path, ctx) < 0)
            return -1;
    }
    return 0;
}

/* ---- sections ---- */

typedef struct config_section_ctx {
    void *base;
    const config_key *keys;
} config_section_ctx;

static const config_key *
config_lookup_key(const config_key *keys, const char *name)
{
    char *norm = g_strdelimit(g_strdup(name), "-", '_');
    const config_key *found = NULL;

    for (const config_key *k = keys; k->name != NULL && found == NULL; k++)
        if (strcmp(k->name, norm) == 0)
            found = k;
    g_free(norm);
    return found;
}

static int
config_unknown_key(config_loader *ld, yaml_node_t *key, const char *path, const config_key *keys)
{
    GString *known = g_string_new(NULL);
    int rc;

    for (const config_key *k = keys; k->name != NULL; k++)
        g_string_append_printf(known, "%s%s", known->len ? ", " : "", k->name);
    rc = config_fail(ld, config_node_line(key), path, "unknown key (known here: %s)", known->str);
    g_string_free(known, TRUE);
    return rc;
}

static int
config_section_pair(config_loader *ld, yaml_node_t *key, yaml_node_t *value, const char *path, void *ctx)
{
    config_section_ctx *sc = ctx;
    const char *name = config_scalar_value(key);
    const config_key *k = config_lookup_key(sc->keys, name);
    char *sub = config_join(path, k ? k->name : name);
    int rc;

    if (k == NULL)
        rc = config_unknown_key(ld, key, sub, sc->keys);
    else if (k->node != NULL)
        rc = k->node(ld, value, sub, sc->base, k);
    else
        rc = config_apply_scalar(ld, value, sub, sc->base, k);
    if (rc == 0)
        config_remember(ld, sub, key);
    g_free(sub);
    return rc;
}

static int
config_parse_section(config_loader *ld, yaml_node_t *node, const char *path, void *base,
                     const config_key *key)
{
    config_section_ctx sc = { (char *)base + key->offset, key->children };

    return config_walk(ld, node, path, config_section_pair, &sc);
}

/* ---- handler.verdicts ---- */

static int
config_verdict_pair(config_loader *ld, yaml_node_t *key, yaml_node_t *value, const char *path, void *ctx)
{
    config_handler *handler = (config_handler *)((char *)ctx - offsetof(config_handler, verdicts));
    char *name = g_ascii_strdown(config_scalar_value(key), -1);
    char *sub = config_join(path, name), *text = NULL, got[96];
    classify_reason reason;
    classify_verdict verdict;
    int rc = -1;

    if (!classify_reason_from_name(name, &reason))
        config_fail(ld, config_node_line(key), sub, "unknown reason (the reasons are the labels "
                    "of `bouncedemails classify`, e.g. userunknown, mailboxfull)");
    else if (config_scalar_text(ld, value, sub, &text) == 0) {
        if (!classify_verdict_from_name(text, &verdict) || verdict >= CLASSIFY_VERDICT_COUNT) {
            config_quote(text, got, sizeof got);
            config_fail(ld, config_node_line(value), sub,
                        "expected permanent, temporary, complaint or ignore, got '%s'", got);
        } else {
            handler->verdicts[reason] = verdict;
            handler->verdict_named[reason] = true;
            config_remember(ld, sub, key);
            rc = 0;
        }
    }
    g_free(text);
    g_free(sub);
    g_free(name);
    return rc;
}

static int
config_parse_verdicts(config_loader *ld, yaml_node_t *node, const char *path, void *base,
                      const config_key *key)
{
    return config_walk(ld, node, path, config_verdict_pair, (char *)base + key->offset);
}

/* ---- handler.domains.<domain>.headers ---- */

static bool
config_valid_header_name(const char *name)
{
    if (name[0] == '\0')
        return false;
    for (const char *p = name; *p; p++)
        if (!g_ascii_isalnum(*p) && strchr("!#$%&'*+-.^_`|~", *p) == NULL)
            return false;
    return true;
}

static int
config_header_pair(config_loader *ld, yaml_node_t *key, yaml_node_t *value, const char *path, void *ctx)
{
    config_domain *d = ctx;
    const char *name = config_scalar_value(key);
    char *sub = config_join(path, name), *text = NULL;
    size_t i;
    int rc = -1;

    if (!config_valid_header_name(name))
        config_fail(ld, config_node_line(key), sub, "not a valid HTTP header name");
    else if (config_scalar_text(ld, value, sub, &text) < 0)
        ;
    else if (strpbrk(text, "\r\n") != NULL)
        config_fail(ld, config_node_line(value), sub, "a header value must be one line "
                    "(value not shown: it may be secret)");
    else {
        for (i = 0; i < d->n_headers && g_ascii_strcasecmp(d->headers[i].name, name) != 0; i++)
            ;
        if (i == d->n_headers) {
            d->headers = g_renew(config_header, d->headers, ++d->n_headers);
            d->headers[i].name = g_strdup(name);
        } else
            g_free(d->headers[i].value);
        d->headers[i].value = text;
        text = NULL;
        rc = 0;
    }
    g_free(text);
    g_free(sub);
    return rc;
}

static int
config_parse_headers(config_loader *ld, yaml_node_t *node, const char *path, void *base,
                     const config_key *key)
{
    (void)key;
    return config_walk(ld, node, path, config_header_pair, base);
}

/* ---- handler.domains ---- */

static const config_key config_domain_keys[] = {
    { .name = "base_url", .scalar = config_parse_string, .offset = offsetof(config_domain, base_url),
      .min = 1, .max = 4096, .secret = true },
    { .name = "url_resolver", .scalar = config_parse_resolver, .offset = offsetof(config_domain, xikolo) },
    { .name = "payload", .scalar = config_parse_payload, .offset = offsetof(config_domain, payload) },
    { .name = "headers", .node = config_parse_headers },
    { 0 }
};

static bool
config_valid_domain_name(const char *name)
{
    if (name[0] == '\0' || name[0] == '.' || name[0] == '-' || strlen(name) > 253)
        return false;
    for (const char *p = name; *p; p++)
        if (!g_ascii_isalnum(*p) && *p != '.' && *p != '-' && (unsigned char)*p < 0x80)
            return false;
    return strstr(name, "..") == NULL;
}

static int
config_domain_pair(config_loader *ld, yaml_node_t *key, yaml_node_t *value, const char *path, void *ctx)
{
    config_handler *h = ctx;
    char *name = g_ascii_strdown(config_scalar_value(key), -1);
    char *sub;
    config_domain *d = NULL;
    int rc;

    if (name[0] != '\0' && name[strlen(name) - 1] == '.')
        name[strlen(name) - 1] = '\0';
    sub = config_join(path, name);
    if (!config_valid_domain_name(name)) {
        rc = config_fail(ld, config_node_line(key), sub, "not a domain name");
    } else {
        for (size_t i = 0; i < h->n_domains && d == NULL; i++)
            if (strcmp(h->domains[i].name, name) == 0)
                d = &h->domains[i];
        if (d == NULL) {
            h->domains = g_renew(config_domain, h->domains, h->n_domains + 1);
            d = &h->domains[h->n_domains++];
            memset(d, 0, sizeof *d);
            d->name = g_strdup(name);
        }
        config_section_ctx sc = { d, config_domain_keys };
        rc = config_walk(ld, value, sub, config_section_pair, &sc);
        if (rc == 0)
            config_remember(ld, sub, key);
    }
    g_free(sub);
    g_free(name);
    return rc;
}

static int
config_parse_domains(config_loader *ld, yaml_node_t *node, const char *path, void *base,
                     const config_key *key)
{
    return config_walk(ld, node, path, config_domain_pair, (char *)base + key->offset);
}

/* ---- smtp.allow_networks ---- */

/* Checks "address/prefix" (or a bare address) and returns it with the
 * prefix written out, or NULL with why filled in. */
static char *
config_cidr(const char *text, char *why, size_t why_len)
{
    unsigned char addr[16];
    const char *slash = strchr(text, '/');
    char *host = slash ? g_strndup(text, slash - text) : g_strdup(text);
    bool v6 = strchr(host, ':') != NULL;
    long long prefix = v6 ? 128 : 32;
    char *out = NULL;

    if (inet_pton(v6 ? AF_INET6 : AF_INET, host, addr) != 1)
        snprintf(why, why_len, "expected a network in CIDR notation (e.g. 10.0.0.0/8 or ::1/128)");
    else if (slash && (config_parse_llong(slash + 1, &prefix) < 0 || !g_ascii_isdigit(slash[1]) ||
                       prefix > (v6 ? 128 : 32)))
        snprintf(why, why_len, "the prefix length must be 0 to %d", v6 ? 128 : 32);
    else
        out = g_strdup_printf("%s/%lld", host, prefix);
    g_free(host);
    return out;
}

static void
config_free_networks(config_smtp *smtp)
{
    for (size_t i = 0; i < smtp->n_allow_networks; i++)
        g_free(smtp->allow_networks[i]);
    g_free(smtp->allow_networks);
    smtp->allow_networks = NULL;
    smtp->n_allow_networks = 0;
}

static int
config_parse_networks(config_loader *ld, yaml_node_t *node, const char *path, void *base,
                      const config_key *key)
{
    config_smtp *smtp = (config_smtp *)((char *)base + key->offset);
    char why[CONFIG_WHY_MAX], got[96];

    if (node->type != YAML_SEQUENCE_NODE)
        return config_fail(ld, config_node_line(node), path,
                           "expected a list of networks (e.g. [127.0.0.0/8, \"::1/128\"])");
    config_free_networks(smtp);
    for (yaml_node_item_t *it = node->data.sequence.items.start; it < node->data.sequence.items.top; it++) {
        yaml_node_t *item = yaml_document_get_node(&ld->doc, *it);
        char *text, *cidr;
        if (config_scalar_text(ld, item, path, &text) < 0)
            return -1;
        cidr = config_cidr(text, why, sizeof why);
        config_quote(text, got, sizeof got);
        g_free(text);
        if (cidr == NULL)
            return config_fail(ld, config_node_line(item), path, "%s, got '%s'", why, got);
        smtp->allow_networks = g_renew(char *, smtp->allow_networks, smtp->n_allow_networks + 1);
        smtp->allow_networks[smtp->n_allow_networks++] = cidr;
    }
    return 0;
}

/* ---- smtp.recipient_domains, smtp.bare_newline ---- */

static void
config_free_recipient_domains(config_smtp *smtp)
{
    g_strfreev(smtp->recipient_domains);
    smtp->recipient_domains = NULL;
    smtp->n_recipient_domains = 0;
}

/* A domain name as a recipient's domain part gives it: no @, no blanks. */
static bool
config_is_domain(const char *text)
{
    if (!*text || *text == '.' || strlen(text) > 253)
        return false;
    for (const unsigned char *p = (const unsigned char *)text; *p; p++)
        if (*p <= ' ' || *p == '@' || *p == 0x7f)
            return false;
    return true;
}

static int
config_parse_recipient_domains(config_loader *ld, yaml_node_t *node, const char *path, void *base,
                               const config_key *key)
{
    config_smtp *smtp = (config_smtp *)((char *)base + key->offset);
    char got[96];

    if (node->type != YAML_SEQUENCE_NODE)
        return config_fail(ld, config_node_line(node), path,
                           "expected a list of domains (e.g. [bouncedemails.example.org])");
    config_free_recipient_domains(smtp);
    for (yaml_node_item_t *it = node->data.sequence.items.start; it < node->data.sequence.items.top; it++) {
        yaml_node_t *item = yaml_document_get_node(&ld->doc, *it);
        char *text;
        if (config_scalar_text(ld, item, path, &text) < 0)
            return -1;
        if (!config_is_domain(text)) {
            config_quote(text, got, sizeof got);
            g_free(text);
            return config_fail(ld, config_node_line(item), path, "expected a domain name, got '%s'", got);
        }
        smtp->recipient_domains = g_renew(char *, smtp->recipient_domains, smtp->n_recipient_domains + 2);
        smtp->recipient_domains[smtp->n_recipient_domains++] = text;
        smtp->recipient_domains[smtp->n_recipient_domains] = NULL;
    }
    return 0;
}

static int
config_parse_bare_newline(const char *text, void *field, const config_key *key, char *why, size_t why_len)
{
    static const char *const names[] = {
        [CONFIG_BARE_NEWLINE_REJECT] = "reject",
        [CONFIG_BARE_NEWLINE_STRICT] = "strict",
        [CONFIG_BARE_NEWLINE_NORMALIZE] = "normalize",
    };

    (void)key;
    for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
        if (strcmp(text, names[i]) == 0) {
            *(config_bare_newline *)field = (config_bare_newline)i;
            return 0;
        }
    }
    snprintf(why, why_len, "expected reject, strict or normalize");
    return -1;
}

/* ---- amqp.enabled ---- */

static int
config_parse_amqp_enabled(config_loader *ld, yaml_node_t *node, const char *path, void *base,
                          const config_key *key)
{
    static const config_key as_bool = { .name = "enabled", .scalar = config_parse_bool,
                                        .offset = offsetof(config, amqp.enabled) };

    (void)key;
    ld->amqp_enabled_set = true;
    return config_apply_scalar(ld, node, path, base, &as_bool);
}

/* ---- the schema ---- */

#define KEY_INT(sect, field, lo, hi, d) \
    { .name = #field, .scalar = config_parse_int, .offset = offsetof(config, sect.field), \
      .min = (lo), .max = (hi), .def = (d) }

static const config_key config_handler_keys[] = {
    { .name = "dbfile", .scalar = config_parse_string, .offset = offsetof(config, handler.dbfile),
      .min = 1, .max = 4096, .def = "/var/lib/bouncedemails/bouncedemails.db" },
    { .name = "permanent_bounced_emails_path", .scalar = config_parse_string,
      .offset = offsetof(config, handler.permanent_bounced_emails_path),
      .min = 1, .max = 4096, .def = "/var/lib/bouncedemails/permanent_bounces" },
    KEY_INT(handler, archive_compression_level, 0, 9, "0"),
    KEY_INT(handler, temporary_threshold, 0, 1000000, "3"),
    KEY_INT(handler, temporary_window_days, 1, 3650, "30"),
    { .name = "verdicts", .node = config_parse_verdicts, .offset = offsetof(config, handler.verdicts) },
    { .name = "complaint_suspends", .scalar = config_parse_bool,
      .offset = offsetof(config, handler.complaint_suspends), .def = "true" },
    { .name = "verp_delimiter", .scalar = config_parse_string,
      .offset = offsetof(config, handler.verp_delimiter), .min = 0, .max = 1, .def = "+" },
    { .name = "verp_at_sign", .scalar = config_parse_string,
      .offset = offsetof(config, handler.verp_at_sign), .min = 1, .max = 1, .def = "=" },
    { .name = "verp_secret", .scalar = config_parse_string, .offset = offsetof(config, handler.verp_secret),
      .min = 16, .max = 4096, .nullable = true, .secret = true },
    { .name = "require_signed_verp", .scalar = config_parse_bool,
      .offset = offsetof(config, handler.require_signed_verp), .def = "false" },
    KEY_INT(handler, verp_valid_weeks, 1, 520, "4"),
    /* Below the classifier's own cap, so that a report it cut short is
     * always over the limit (quarantined) rather than acted on in part. */
    KEY_INT(handler, max_recipients_per_bounce, 1, CLASSIFY_MAX_RECIPIENTS - 1, "100"),
    { .name = "domains", .node = config_parse_domains, .offset = offsetof(config, handler) },
    { 0 }
};

static const config_key config_store_keys[] = {
    { .name = "backend", .scalar = config_parse_backend, .offset = offsetof(config, store.backend),
      .min = 1, .max = 32, .def = "sqlite" },
    { .name = "url", .scalar = config_parse_string, .offset = offsetof(config, store.url),
      .min = 0, .max = 4096, .nullable = true, .secret = true },
    { 0 }
};

#define KEY_MS(sect, key, field, lo, hi, d) \
    { .name = key, .scalar = config_parse_ms, .offset = offsetof(config, sect.field), \
      .min = (lo), .max = (hi), .def = (d) }
#define KEY_S(sect, key, field, lo, hi, d) \
    { .name = key, .scalar = config_parse_seconds, .offset = offsetof(config, sect.field), \
      .min = (lo), .max = (hi), .def = (d) }

static const config_key config_notify_keys[] = {
    KEY_MS(notify, "connect_timeout", connect_timeout_ms, 100, 600000, "5"),
    KEY_MS(notify, "timeout", timeout_ms, 100, 3600000, "30"),
    KEY_INT(notify, max_in_flight, 1, 1024, "512"),
    KEY_INT(notify, concurrency, 1, 1024, "8"),
    KEY_S(notify, "retry_initial", retry_initial_s, 1, 86400, "30"),
    KEY_S(notify, "retry_max", retry_max_s, 1, 7 * 86400, "3600"),
    KEY_INT(notify, max_attempts, 1, 1000000, "50"),
    KEY_S(notify, "resolver_cache", resolver_cache_s, 0, 7 * 86400, "3600"),
    { .name = "tls_ca_file", .scalar = config_parse_string, .offset = offsetof(config, notify.tls_ca_file),
      .min = 1, .max = 4096, .nullable = true },
    { .name = "stdin_handoff", .scalar = config_parse_bool, .offset = offsetof(config, notify.stdin_handoff),
      .def = "true" },
    { 0 }
};

static const config_key config_amqp_keys[] = {
    { .name = "enabled", .node = config_parse_amqp_enabled },
    { .name = "url", .scalar = config_parse_string, .offset = offsetof(config, amqp.url),
      .min = 0, .max = 4096, .nullable = true, .secret = true },
    { .name = "queue", .scalar = config_parse_string, .offset = offsetof(config, amqp.queue),
      .min = 1, .max = 255, .def = "bouncedemails" },
    KEY_INT(amqp, prefetch, 1, 65535, "500"),
    KEY_S(amqp, "heartbeat", heartbeat_s, 0, 65535, "30"),
    /* No default here: unset, it is CONFIG_AMQP_BATCH or amqp.prefetch,
     * whichever is less (config_check), so that a prefetch set below the
     * default batch stays a valid configuration. */
    { .name = "batch", .scalar = config_parse_int, .offset = offsetof(config, amqp.batch),
      .min = 1, .max = 65535 },
    { .name = "tls_ca_file", .scalar = config_parse_string, .offset = offsetof(config, amqp.tls_ca_file),
      .min = 1, .max = 4096, .def = "/etc/ssl/certs/ca-certificates.crt" },
    /* No default here: unset, it follows smtp.max_message_size (config_check). */
    { .name = "max_message_size", .scalar = config_parse_size,
      .offset = offsetof(config, amqp.max_message_size), .min = 65536, .max = 1LL << 31 },
    { 0 }
};

static const config_key config_smtp_keys[] = {
    { .name = "enabled", .scalar = config_parse_bool, .offset = offsetof(config, smtp.enabled),
      .def = "false" },
    { .name = "host", .scalar = config_parse_string, .offset = offsetof(config, smtp.host),
      .min = 1, .max = 255, .def = "127.0.0.1" },
    KEY_INT(smtp, port, 1, 65535, "2525"),
    { .name = "hostname", .scalar = config_parse_string, .offset = offsetof(config, smtp.hostname),
      .min = 0, .max = 255, .nullable = true },
    { .name = "max_message_size", .scalar = config_parse_size,
      .offset = offsetof(config, smtp.max_message_size), .min = 65536, .max = 1LL << 31,
      .def = "26214400" },
    { .name = "max_line_length", .scalar = config_parse_size,
      .offset = offsetof(config, smtp.max_line_length), .min = 1000, .max = 1 << 20, .def = "4096" },
    KEY_INT(smtp, max_recipients, 1, 100000, "100"),
    KEY_INT(smtp, max_connections, 1, 1000000, "512"),
    KEY_INT(smtp, max_connections_per_client, 1, 1000000, "32"),
    KEY_S(smtp, "command_timeout", command_timeout_s, 1, 86400, "300"),
    KEY_S(smtp, "data_timeout", data_timeout_s, 1, 86400, "600"),
    { .name = "allow_networks", .node = config_parse_networks, .offset = offsetof(config, smtp) },
    { .name = "tls_certificate", .scalar = config_parse_string,
      .offset = offsetof(config, smtp.tls_certificate), .min = 0, .max = 4096, .nullable = true },
    { .name = "tls_key", .scalar = config_parse_string, .offset = offsetof(config, smtp.tls_key),
      .min = 0, .max = 4096, .nullable = true },
    { .name = "max_memory", .scalar = config_parse_size, .offset = offsetof(config, smtp.max_memory),
      .min = 65536, .max = 1LL << 40, .def = "268435456" },
    { .name = "recipient_domains", .node = config_parse_recipient_domains, .offset = offsetof(config, smtp) },
    { .name = "bare_newline", .scalar = config_parse_bare_newline,
      .offset = offsetof(config, smtp.bare_newline), .def = "strict" },
    { .name = "require_tls", .scalar = config_parse_bool, .offset = offsetof(config, smtp.require_tls),
      .def = "false" },
    { 0 }
};

static const config_key config_retention_keys[] = {
    KEY_INT(retention, fingerprint_days, 0, 36500, "30"),
    KEY_INT(retention, event_days, 0, 36500, "400"),
    KEY_INT(retention, quarantine_days, 0, 36500, "90"),
    KEY_INT(retention, notbounce_days, 0, 36500, "7"),
    { .name = "quarantine_max_bytes", .scalar = config_parse_size,
      .offset = offsetof(config, retention.quarantine_max_bytes), .min = 4096, .max = 1LL << 31,
      .def = "1048576" },
    KEY_S(retention, "interval", interval_s, 1, 7 * 86400, "3600"),
    KEY_INT(retention, batch, 1, 100000, "500"),
    { 0 }
};

static const config_key config_metrics_keys[] = {
    { .name = "listen", .scalar = config_parse_listen, .offset = offsetof(config, metrics.listen),
      .min = 0, .max = 300, .nullable = true, .def = "127.0.0.1:9473" },
    { 0 }
};

static const config_key config_sections[] = {
    { .name = "handler", .node = config_parse_section, .children = config_handler_keys },
    { .name = "store", .node = config_parse_section, .children = config_store_keys },
    { .name = "notify", .node = config_parse_section, .children = config_notify_keys },
    { .name = "amqp", .node = config_parse_section, .children = config_amqp_keys },
    { .name = "smtp", .node = config_parse_section, .children = config_smtp_keys },
    { .name = "metrics", .node = config_parse_section, .children = config_metrics_keys },
    { .name = "retention", .node = config_parse_section, .children = config_retention_keys },
    { 0 }
};

static const char *const config_default_networks[] = { "127.0.0.0/8", "::1/128" };

static void
config_set_defaults(config *cfg)
{
    char why[CONFIG_WHY_MAX];

    for (const config_key *s = config_sections; s->name != NULL; s++) {
        for (const config_key *k = s->children; k->name != NULL; k++) {
            if (k->def != NULL && k->scalar(k->def, (char *)cfg + k->offset, k, why, sizeof why) < 0)
                g_error("config: the default of %s.%s is invalid: %s", s->name, k->name, why);
        }
    }
    for (int r = 0; r < CLASSIFY_REASON_COUNT; r++)
        cfg->handler.verdicts[r] = classify_default_verdict((classify_reason)r);
    cfg->smtp.n_allow_networks = G_N_ELEMENTS(config_default_networks);
    cfg->smtp.allow_networks = g_new(char *, cfg->smtp.n_allow_networks);
    for (size_t i = 0; i < cfg->smtp.n_allow_networks; i++)
        cfg->smtp.allow_networks[i] = g_strdup(config_default_networks[i]);
}

/* ---- checks across keys ---- */

static bool
config_is_http_url(const char *url)
{
    return g_str_has_prefix(url, "http://") || g_str_has_prefix(url, "https://");
}

static int
config_check_domain(config_loader *ld, const config_domain *d)
{
    char *path = g_strconcat("handler.domains.", d->name, NULL);
    char *url_path = g_strconcat(path, ".base_url", NULL);
    int rc = -1;

    if (d->base_url == NULL)
        config_fail(ld, config_line_of(ld, path), path, "base_url is missing");
    else if (!config_is_http_url(d->base_url))
        config_fail(ld, config_line_of(ld, url_path), url_path,
                    "must start with http:// or https:// (value not shown: it may be secret)");
    else if (!d->xikolo && strstr(d->base_url, "{address}") == NULL)
        config_fail(ld, config_line_of(ld, url_path), url_path,
                    "must contain {address} (or set url_resolver: xikolo)");
    else
        rc = 0;
    g_free(url_path);
    g_free(path);
    return rc;
}

/* Indexes the domains by registrable domain, so that a subdomain finds its
 * platform; a public suffix (co.uk) would swallow unrelated platforms. */
static int
config_index_domains(config_loader *ld)
{
    config *cfg = ld->cfg;
    const psl_ctx_t *psl = psl_builtin();
    GHashTable *index = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);

    cfg->domain_index = index;
    for (size_t i = 0; i < cfg->handler.n_domains; i++) {
        config_domain *d = &cfg->handler.domains[i];
        char *path = g_strconcat("handler.domains.", d->name, NULL);
        const char *reg = psl_registrable_domain(psl, d->name);
        config_domain *other;
        int rc = 0;

        if (config_check_domain(ld, d) < 0)
            rc = -1;
        else if (reg == NULL && psl_is_public_suffix2(psl, d->name, PSL_TYPE_ANY | PSL_TYPE_NO_STAR_RULE))
            rc = config_fail(ld, config_line_of(ld, path), path,
                             "is a public suffix, not a domain a platform can own");
        else if ((other = g_hash_table_lookup(index, reg ? reg : d->name)) != NULL)
            rc = config_fail(ld, config_line_of(ld, path), path,
                             "belongs to the same registrable domain as %s: keep one of them",
                             other->name);
        else
            g_hash_table_insert(index, g_strdup(reg ? reg : d->name), d);
        g_free(path);
        if (rc < 0)
            return -1;
    }
    return 0;
}


static int
config_check_readable(config_loader *ld, const char *key, const char *file)
{
    if (file == NULL || access(file, R_OK) == 0)
        return 0;
    return config_fail(ld, config_line_of(ld, key), key, "cannot read %s: %s", file, g_strerror(errno));
}

/* ---- URLs and hosts, checked at load so that every command finds them ---- */

static bool
config_valid_host_name(const char *host, size_t len)
{
    if (len == 0 || len > 253 || host[0] == '.' || host[0] == '-')
        return false;
    for (size_t i = 0; i < len; i++)
        if (!g_ascii_isalnum(host[i]) && !strchr(".-_", host[i]) && (unsigned char)host[i] < 0x80)
            return false;
    return true;
}

static bool
config_valid_ip(const char *host, size_t len)
{
    unsigned char addr[16];
    char buf[64];

    if (len >= sizeof buf)
        return false;
    memcpy(buf, host, len);
    buf[len] = '\0';
    return inet_pton(AF_INET, buf, addr) == 1 || inet_pton(AF_INET6, buf, addr) == 1;
}

/* One "host[:port]" of a URL: a host name or IP address (for libpq also a
 * socket folder, percent-encoded: "%2Frun%2Fpostgresql"), and a port from 1
 * to 65535 when there is one. NULL when it is, else why not. */
static const char *
config_host_port_error(const char *start, const char *end, bool need_host, bool libpq)
{
    uri_span host, port;
    size_t host_len, port_len;

    if (uri_host_port(start, end, &host, &port) < 0)
        return "has no valid host name";
    host_len = (size_t)(host.end - host.start);
    if (libpq && host_len > 3 && g_ascii_strncasecmp(host.start, "%2F", 3) == 0)
        host_len = 0;
    if ((host_len == 0 && need_host) ||
        (host_len > 0 && !config_valid_host_name(host.start, host_len) && !config_valid_ip(host.start, host_len)))
        return "has no valid host name";
    if (port.start == NULL)
        return NULL;
    port_len = (size_t)(port.end - port.start);
    if (port_len == 0 || port_len > 5 || strspn(port.start, "0123456789") < port_len ||
        atoi(port.start) < 1 || atoi(port.start) > 65535)
        return "the port must be a number from 1 to 65535";
    return NULL;
}

/* Checks a URL's scheme (one of schemes, "a|b"), and each of its hosts
 * (a comma list only in libpq's URIs) with its port, reading the URL as
 * uri.h does with stops; on failure writes why, which names the scheme at
 * most: the rest may hold a secret. */
static int
config_check_url(const char *url, const char *schemes, const char *stops, bool need_host, bool libpq,
                 char *why, size_t why_len)
{
    uri_parts parts;
    char *scheme = NULL;
    char **names = g_strsplit(schemes, "|", -1);
    bool known = false;
    int rc = -1;

    if (uri_split(url, stops, &parts) == 0)
        scheme = g_ascii_strdown(parts.scheme.start, parts.scheme.end - parts.scheme.start);
    for (char **n = names; scheme != NULL && *n != NULL; n++)
        known = known || strcmp(*n, scheme) == 0;
    if (!known) {
        char *list = g_strjoinv(":// or ", names);
        snprintf(why, why_len, "must start with %s:// (value not shown: it may be secret)", list);
        g_free(list);
    } else {
        const char *item = parts.hosts.start, *end = parts.hosts.end, *error = NULL;

        for (;;) {
            const char *comma = libpq ? memchr(item, ',', (size_t)(end - item)) : NULL;
            error = config_host_port_error(item, comma ? comma : end, need_host, libpq);
            if (error != NULL || comma == NULL)
                break;
            item = comma + 1;
        }
        if (error == NULL)
            rc = 0;
        else
            snprintf(why, why_len, "%s (value not shown: it may be secret)", error);
    }
    g_strfreev(names);
    g_free(scheme);
    return rc;
}

static int
config_check_url_key(config_loader *ld, const char *key, const char *url, const char *schemes,
                     bool need_host)
{
    char why[CONFIG_WHY_MAX];
    /* store.url's password may hold "#" too (store_pg_url.h); a web URL's
     * user information ends where its path begins. */
    bool pg = strncmp(schemes, "postgres", 8) == 0;
    const char *stops = pg ? "?" : strncmp(schemes, "http", 4) == 0 ? "/?#" : "?#";

    if (url == NULL || config_check_url(url, schemes, stops, need_host, pg, why, sizeof why) == 0)
        return 0;
    return config_fail(ld, config_line_of(ld, key), key, "%s", why);
}

/* store.url is a libpq URI (several hosts allowed, each checked; a socket
 * folder for no host) or a key=value connection string. */
static int
config_check_store_url(config_loader *ld)
{
    const char *url = ld->cfg->store.url;

    if (url == NULL)
        return 0;
    if (strstr(url, "://") == NULL)
        return strchr(url, '=') ? 0 : config_fail(ld, config_line_of(ld, "store.url"), "store.url",
                                                 "expected a postgresql:// URI or key=value pairs "
                                                 "(value not shown: it may be secret)");
    return config_check_url_key(ld, "store.url", url, "postgresql|postgres", false);
}

static int
config_check_addresses(config_loader *ld)
{
    config *cfg = ld->cfg;

    if (config_check_url_key(ld, "amqp.url", cfg->amqp.url, "amqp|amqps", true) < 0 ||
        config_check_store_url(ld) < 0)
        return -1;
    if (cfg->amqp.url != NULL && g_ascii_strncasecmp(cfg->amqp.url, "amqps://", 8) == 0 &&
        config_check_readable(ld, "amqp.tls_ca_file", cfg->amqp.tls_ca_file) < 0)
        return -1;
    if (cfg->notify.tls_ca_file != NULL && config_check_readable(ld, "notify.tls_ca_file", cfg->notify.tls_ca_file) < 0)
        return -1;
    if (!config_valid_ip(cfg->smtp.host, strlen(cfg->smtp.host)) &&
        !config_valid_host_name(cfg->smtp.host, strlen(cfg->smtp.host)))
        return config_fail(ld, config_line_of(ld, "smtp.host"), "smtp.host",
                           "expected an IP address or a host name");
    for (size_t i = 0; i < cfg->handler.n_domains; i++) {
        const config_domain *d = &cfg->handler.domains[i];
        char *key = g_strconcat("handler.domains.", d->name, ".base_url", NULL);
        int rc = d->base_url ? config_check_url_key(ld, key, d->base_url, "http|https", true) : 0;
        g_free(key);
        if (rc < 0)
            return -1;
    }
    return 0;
}

static int
config_check(config_loader *ld)
{
    config *cfg = ld->cfg;
    char host[256];

    if (cfg->notify.retry_max_s < cfg->notify.retry_initial_s)
        return config_fail(ld, config_line_of(ld, "notify.retry_max"), "notify.retry_max",
                           "must not be less than notify.retry_initial (%d)", cfg->notify.retry_initial_s);
    if (cfg->amqp.batch == 0)
        cfg->amqp.batch = MIN(CONFIG_AMQP_BATCH, cfg->amqp.prefetch);
    if (cfg->amqp.batch > cfg->amqp.prefetch)
        return config_fail(ld, config_line_of(ld, "amqp.batch"), "amqp.batch",
                           "must not exceed amqp.prefetch (%d): a batch waits for messages "
                           "the broker would never send", cfg->amqp.prefetch);
    if (config_check_addresses(ld) < 0)
        return -1;
    if (!ld->amqp_enabled_set)
        cfg->amqp.enabled = cfg->amqp.url != NULL;
    else if (cfg->amqp.enabled && cfg->amqp.url == NULL)
        return config_fail(ld, config_line_of(ld, "amqp.enabled"), "amqp.enabled",
                           "is true, but amqp.url is not set");
    if (cfg->amqp.max_message_size == 0)
        cfg->amqp.max_message_size = cfg->smtp.max_message_size;
    if (cfg->handler.require_signed_verp && cfg->handler.verp_secret == NULL)
        return config_fail(ld, config_line_of(ld, "handler.require_signed_verp"), "handler.require_signed_verp",
                           "is true, but handler.verp_secret is not set");
    if (cfg->handler.require_signed_verp && !*cfg->handler.verp_delimiter)
        return config_fail(ld, config_line_of(ld, "handler.require_signed_verp"), "handler.require_signed_verp",
                           "is true, but handler.verp_delimiter is empty (VERP decoding is off)");
    if (strcmp(cfg->store.backend, "postgresql") == 0 && cfg->store.url == NULL)
        return config_fail(ld, config_line_of(ld, "store.backend"), "store.backend",
                           "postgresql needs store.url");
    if ((cfg->smtp.tls_certificate == NULL) != (cfg->smtp.tls_key == NULL)) {
        const char *set = cfg->smtp.tls_key ? "smtp.tls_key" : "smtp.tls_certificate";
        return config_fail(ld, config_line_of(ld, set), set,
                           "STARTTLS needs both smtp.tls_certificate and smtp.tls_key");
    }
    if (cfg->smtp.require_tls && cfg->smtp.tls_certificate == NULL)
        return config_fail(ld, config_line_of(ld, "smtp.require_tls"), "smtp.require_tls",
                           "needs smtp.tls_certificate and smtp.tls_key");
    if (config_check_readable(ld, "smtp.tls_certificate", cfg->smtp.tls_certificate) < 0 ||
        config_check_readable(ld, "smtp.tls_key", cfg->smtp.tls_key) < 0)
        return -1;
    if (cfg->smtp.hostname == NULL) {
        /* POSIX leaves a truncated name without its NUL. */
        host[sizeof host - 1] = '\0';
        cfg->smtp.hostname = g_strdup(gethostname(host, sizeof host - 1) == 0 && *host ? host
                                                                                     : "localhost");
    }
    return config_index_domains(ld);
}

/* ---- the file ---- */

/* The whole file, so that an encoding error can be given its line. */
static int
config_read_file(config_loader *ld, GByteArray *buf)
{
    struct stat st;
    unsigned char chunk[8192];
    size_t n;
    FILE *f = fopen(ld->path, "rb");
    int rc = 0;

    if (f == NULL)
        return config_fail(ld, 0, NULL, "cannot read: %s", g_strerror(errno));
    if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode))
        rc = config_fail(ld, 0, NULL, "cannot read: is a directory");
    while (rc == 0 && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
        g_byte_array_append(buf, chunk, (guint)n);
    if (rc == 0 && ferror(f))
        rc = config_fail(ld, 0, NULL, "cannot read: %s", g_strerror(errno));
    fclose(f);
    return rc;
}

static size_t
config_line_at(const GByteArray *buf, size_t offset)
{
    size_t line = 1;

    for (size_t i = 0; i < offset && i < buf->len; i++)
        line += buf->data[i] == '\n';
    return line;
}

static int
config_read_document(config_loader *ld)
{
    yaml_parser_t parser;
    GByteArray *buf = g_byte_array_new();
    int rc;

    rc = config_read_file(ld, buf);
    if (rc == 0) {
        yaml_parser_initialize(&parser);
        yaml_parser_set_input_string(&parser, buf->len ? buf->data : (const unsigned char *)"", buf->len);
        if (!yaml_parser_load(&parser, &ld->doc)) {
            size_t line = parser.error == YAML_READER_ERROR ? config_line_at(buf, parser.problem_offset)
                                                            : parser.problem_mark.line + 1;
            memset(&ld->doc, 0, sizeof ld->doc);
            rc = config_fail(ld, line, NULL, "YAML syntax error: %s%s%s",
                             parser.problem ? parser.problem : "unreadable",
                             parser.context ? " " : "", parser.context ? parser.context : "");
        }
        yaml_parser_delete(&parser);
    }
    g_byte_array_unref(buf);
    return rc;
}

static void
config_section_names(config_loader *ld, yaml_node_t *root, GString *names)
{
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++) {
        const char *k = config_scalar_value(yaml_document_get_node(&ld->doc, p->key));
        if (k != NULL)
            g_string_append_printf(names, "%s%s", names->len ? ", " : "", k);
    }
}

/* The mapping of section env: the file's top level is one per environment. */
static yaml_node_t *
config_find_section(config_loader *ld, const char *env)
{
    yaml_node_t *root = yaml_document_get_root_node(&ld->doc);
    GString *names;

    if (root == NULL || (root->type == YAML_SCALAR_NODE && config_is_null(root))) {
        config_fail(ld, 1, env, "no such section: the file is empty");
        return NULL;
    }
    if (root->type != YAML_MAPPING_NODE) {
        config_fail(ld, config_node_line(root), env,
                    "no such section: the file must be a mapping of environments (production:, develop:)");
        return NULL;
    }
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++) {
        const char *k = config_scalar_value(yaml_document_get_node(&ld->doc, p->key));
        if (k != NULL && strcmp(k, env) == 0) {
            ld->section_line = config_node_line(yaml_document_get_node(&ld->doc, p->key));
            return yaml_document_get_node(&ld->doc, p->value);
        }
    }
    names = g_string_new(NULL);
    config_section_names(ld, root, names);
    config_fail(ld, config_node_line(root), env, "no such section (the file has: %s)",
                names->len ? names->str : "none");
    g_string_free(names, TRUE);
    return NULL;
}

const char *
config_default_path(void)
{
    return access(CONFIG_LOCAL_PATH, F_OK) == 0 ? CONFIG_LOCAL_PATH : CONFIG_SYSTEM_PATH;
}

const char *
config_default_paths_tried(void)
{
    return "./" CONFIG_LOCAL_PATH ", " CONFIG_SYSTEM_PATH;
}

config *
config_load(const char *path, const char *env, char *err, size_t err_len)
{
    config_loader ld = { .path = path, .err = err, .err_len = err_len };
    config_section_ctx top;
    yaml_node_t *section;
    config *cfg = g_new0(config, 1);

    if (env == NULL)
        env = "production";
    if (err_len > 0)
        err[0] = '\0';
    cfg->path = g_strdup(path);
    cfg->env = g_strdup(env);
    config_set_defaults(cfg);
    ld.cfg = cfg;
    ld.lines = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    top = (config_section_ctx){ cfg, config_sections };
    if (config_read_document(&ld) == 0) {
        section = config_find_section(&ld, env);
        if (section != NULL && config_walk(&ld, section, "", config_section_pair, &top) == 0)
            config_check(&ld);
        yaml_document_delete(&ld.doc);
    }
    g_hash_table_destroy(ld.lines);
    if (ld.failed) {
        config_free(cfg);
        return NULL;
    }
    return cfg;
}

void
config_free(config *cfg)
{
    if (cfg == NULL)
        return;
    for (size_t i = 0; i < cfg->handler.n_domains; i++) {
        config_domain *d = &cfg->handler.domains[i];
        for (size_t j = 0; j < d->n_headers; j++) {
            g_free(d->headers[j].name);
            g_free(d->headers[j].value);
        }
        g_free(d->headers);
        g_free(d->name);
        g_free(d->base_url);
    }
    g_free(cfg->handler.domains);
    g_free(cfg->handler.dbfile);
    g_free(cfg->handler.permanent_bounced_emails_path);
    g_free(cfg->handler.verp_delimiter);
    g_free(cfg->handler.verp_at_sign);
    g_free(cfg->handler.verp_secret);
    g_free(cfg->store.backend);
    g_free(cfg->store.url);
    g_free(cfg->amqp.url);
    g_free(cfg->amqp.queue);
    g_free(cfg->amqp.tls_ca_file);
    g_free(cfg->notify.tls_ca_file);
    g_free(cfg->metrics.listen);
    g_free(cfg->smtp.host);
    g_free(cfg->smtp.hostname);
    g_free(cfg->smtp.tls_certificate);
    g_free(cfg->smtp.tls_key);
    config_free_networks(&cfg->smtp);
    config_free_recipient_domains(&cfg->smtp);
    if (cfg->domain_index != NULL)
        g_hash_table_destroy(cfg->domain_index);
    g_free(cfg->path);
    g_free(cfg->env);
    g_free(cfg);
}

/* ---- per message ---- */

const config_domain *
config_find_domain(const config *cfg, const char *address_or_host)
{
    char host[256];
    const char *at, *reg;
    const config_domain *d;
    size_t n;

    if (cfg == NULL || address_or_host == NULL || cfg->domain_index == NULL)
        return NULL;
    at = strrchr(address_or_host, '@');
    if (at != NULL)
        address_or_host = at + 1;
    n = strlen(address_or_host);
    while (n > 0 && (address_or_host[n - 1] == '.' || address_or_host[n - 1] == '>'))
        n--;
    if (n == 0 || n >= sizeof host)
        return NULL;
    for (size_t i = 0; i < n; i++)
        host[i] = g_ascii_tolower(address_or_host[i]);
    host[n] = '\0';
    /* The index's keys are registrable domains, so a host equal to one is
     * its own registrable domain: the usual case needs no libpsl walk. */
    if ((d = g_hash_table_lookup(cfg->domain_index, host)) != NULL)
        return d;
    reg = psl_registrable_domain(psl_builtin(), host);
    return reg ? g_hash_table_lookup(cfg->domain_index, reg) : NULL;
}
