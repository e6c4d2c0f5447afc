/*
 * route.c - which platform a bounce belongs to. The no-reply address it was
 * sent to decides: the SMTP envelope recipient when there is one, then the
 * headers Postfix and the bounce carry, then the sender of the returned
 * original. The first of them at a configured domain (compared by
 * registrable domain in config_find_domain) wins, so an alias hop in
 * Delivered-To does not hide the platform. A VERP no-reply address also
 * names the recipient that failed, and may carry its signature (verp.h).
 * Knowing the platform also tells a forward: the original it sent to one
 * address failed at another.
 *
 * Header values are parsed with GMime, which the classifier has initialised
 * by the time a report exists.
 */
#include <gmime/gmime.h>
#include <string.h>

#include "policy/policy_internal.h"

/* The mailbox addresses a header value names, groups' members included, in
 * order (g_ptr_array_unref); the value itself when GMime reads no address
 * list from it; NULL for an empty value. */
static GPtrArray *route_mailboxes(const char *value)
{
    if (!value || !*value)
        return NULL;
    GPtrArray *out = g_ptr_array_new_with_free_func(g_free);
    InternetAddressList *list = internet_address_list_parse(NULL, value);
    if (!list) {
        g_ptr_array_add(out, g_strdup(value));
        return out;
    }
    for (int i = 0; i < internet_address_list_length(list); i++) {
        InternetAddress *ia = internet_address_list_get_address(list, i);
        InternetAddressList *members = NULL;
        if (INTERNET_ADDRESS_IS_GROUP(ia))
            members = internet_address_group_get_members(INTERNET_ADDRESS_GROUP(ia));
        int n = members ? internet_address_list_length(members) : 1;
        for (int j = 0; j < n; j++) {
            InternetAddress *m = members ? internet_address_list_get_address(members, j) : ia;
            if (!INTERNET_ADDRESS_IS_MAILBOX(m))
                continue;
            const char *addr = internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(m));
            if (addr && *addr)
                g_ptr_array_add(out, g_strdup(addr));
        }
    }
    g_object_unref(list);
    return out;
}

/* The first of the addresses for which fn returns true, or NULL; fn is not
 * called past it. Borrowed from the array. */
static const char *route_first(const GPtrArray *addresses, bool (*fn)(const char *addr, void *arg), void *arg)
{
    for (guint i = 0; addresses && i < addresses->len; i++)
        if (fn(g_ptr_array_index(addresses, i), arg))
            return g_ptr_array_index(addresses, i);
    return NULL;
}

/* Any real address: a header value that reaches us decoded and unquoted
 * ("Müller, Hans <hans@example.com>") would parse as a bogus first mailbox
 * without an @, which is passed over. */
static bool route_any(const char *addr, void *arg)
{
    (void)arg;
    return strchr(addr, '@') != NULL;
}

char *policy_route_mailbox(const char *header)
{
    GPtrArray *mailboxes = route_mailboxes(header);
    char *found = g_strdup(route_first(mailboxes, route_any, NULL));
    if (mailboxes)
        g_ptr_array_unref(mailboxes);
    return found;
}

char *policy_route_display(const char *header)
{
    if (!header || !*header)
        return NULL;
    InternetAddressList *list = internet_address_list_parse(NULL, header);
    InternetAddress *ia = list && internet_address_list_length(list) > 0
                              ? internet_address_list_get_address(list, 0) : NULL;
    char *out;
    if (ia && INTERNET_ADDRESS_IS_MAILBOX(ia)) {
        const char *addr = internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(ia));
        const char *name = internet_address_get_name(ia);
        out = name && *name ? g_strdup_printf("%s (%s)", addr, name) : g_strdup(addr);
    } else {
        out = g_strdup(header);
    }
    if (list)
        g_object_unref(list);
    return out;
}

/* The local part of an address that ends at at, unquoted: a sender may
 * quote a local part that needs no quotes ("no-reply+carol=example.net"@
 * host, RFC 5321's quoted-string), and GMime hands it on as written. */
static char *route_local_part(const char *address, const char *at)
{
    size_t len = (size_t)(at - address);
    if (len < 2 || address[0] != '"' || address[len - 1] != '"')
        return g_strndup(address, len);
    char *out = g_malloc(len), *o = out;
    for (const char *c = address + 1; c < address + len - 1; c++) {
        if (*c == '\\' && c + 1 < address + len - 1)
            c++;   /* a quoted-pair stands for its second character */
        *o++ = *c;
    }
    *o = '\0';
    return out;
}

char *policy_route_verp(const char *address, const char *delimiter, const char *at_sign)
{
    if (!address || !delimiter || !*delimiter || !at_sign || !*at_sign)
        return NULL;
    const char *at = strrchr(address, '@');
    if (!at)
        return NULL;
    char *local = route_local_part(address, at);
    char *out = NULL;
    const char *d = strstr(local, delimiter);
    const char *inner = d ? d + strlen(delimiter) : NULL;
    const char *eq = inner ? strrchr(inner, *at_sign) : NULL;
    if (eq && eq != inner && eq[1]) {
        char *joined = g_strdup_printf("%.*s@%s", (int)(eq - inner), inner, eq + 1);
        out = g_ascii_strdown(joined, -1);
        g_free(joined);
    }
    g_free(local);
    return out;
}

typedef struct route_match {
    const config *cfg;
    const config_domain *domain;
    char *verp;
    char tag[VERP_TAG_LEN + 1];
} route_match;

static bool route_configured(const char *addr, void *arg)
{
    route_match *m = arg;
    m->domain = config_find_domain(m->cfg, addr);
    return m->domain != NULL;
}

static bool route_verp_at(const char *addr, void *arg)
{
    route_match *m = arg;
    if (config_find_domain(m->cfg, addr) != m->domain)
        return false;
    m->verp = policy_route_verp(addr, m->cfg->handler.verp_delimiter, m->cfg->handler.verp_at_sign);
    if (m->verp) verp_split_tag(m->verp, m->tag);
    return m->verp != NULL;
}

/* The candidate addresses of policy_route, each value parsed once for both
 * of its passes, and a value that stands twice (To is often the platform
 * address too) once in all: parsing was most of routing's cost. */
#define ROUTE_CANDIDATES 6

typedef struct route_candidates {
    const char *value[ROUTE_CANDIDATES];
    GPtrArray *mailboxes[ROUTE_CANDIDATES];
    bool parsed[ROUTE_CANDIDATES];
} route_candidates;

static const GPtrArray *route_candidate(route_candidates *c, size_t i)
{
    if (c->parsed[i])
        return c->mailboxes[i];
    c->parsed[i] = true;
    for (size_t j = 0; j < i && c->value[i]; j++) {
        if (c->parsed[j] && c->mailboxes[j] && g_strcmp0(c->value[j], c->value[i]) == 0) {
            c->mailboxes[i] = g_ptr_array_ref(c->mailboxes[j]);
            return c->mailboxes[i];
        }
    }
    c->mailboxes[i] = route_mailboxes(c->value[i]);
    return c->mailboxes[i];
}

static void route_candidates_clear(route_candidates *c)
{
    for (size_t i = 0; i < ROUTE_CANDIDATES; i++)
        if (c->mailboxes[i])
            g_ptr_array_unref(c->mailboxes[i]);
}

/* False when no address in value can be a VERP one: a byte of the
 * delimiter or of the at-sign is nowhere in it. GMime's parse only drops
 * quotes, escapes and comments from a local part, never adds a byte, so
 * such a value need not be parsed to know. */
static bool route_may_carry_verp(const char *value, const char *delimiter, const char *at_sign)
{
    if (!value || !delimiter || !*delimiter || !at_sign || !*at_sign)
        return false;
    for (const char *c = delimiter; *c; c++)
        if (!strchr(value, *c))
            return false;
    for (const char *c = at_sign; *c; c++)
        if (!strchr(value, *c))
            return false;
    return true;
}

void policy_route(const config *cfg, policy_job *job)
{
    const classify_report *rep = job->report;
    route_candidates c = { .value = {
        job->env->recipient, rep->x_original_to, rep->delivered_to, rep->to, rep->platform_address,
        rep->original_sender,
    } };
    route_match m = { .cfg = cfg };
    for (size_t i = 0; i < ROUTE_CANDIDATES && !m.domain; i++) {
        const GPtrArray *mailboxes = route_candidate(&c, i);
        const char *addr = route_first(mailboxes, route_configured, &m);
        if (addr) {
            g_free(job->route_address);
            job->route_address = g_strdup(addr);
        } else if (!job->route_address) {
            job->route_address = g_strdup(route_first(mailboxes, route_any, NULL));
        }
    }
    job->domain = m.domain;
    if (m.domain) {
        for (size_t i = 0; i < ROUTE_CANDIDATES && !m.verp; i++)
            if (route_may_carry_verp(c.value[i], cfg->handler.verp_delimiter, cfg->handler.verp_at_sign))
                route_first(route_candidate(&c, i), route_verp_at, &m);
        job->verp = m.verp;
        if (m.verp)
            job->verp_signed = verp_check(cfg->handler.verp_secret, cfg->handler.verp_valid_weeks, m.verp,
                                          m.tag, job->now);
    }
    route_candidates_clear(&c);
}

/* An address without its VERP part, lower case: "no-reply+u=x.org@P.de"
 * and "no-reply@p.de" are the same sender. */
static char *route_unverped(const char *address, const char *delimiter)
{
    const char *at = address ? strrchr(address, '@') : NULL;
    if (!at)
        return NULL;
    char *local = route_local_part(address, at);
    char *d = delimiter && *delimiter ? strstr(local, delimiter) : NULL;
    if (d)
        *d = '\0';
    char *joined = g_strconcat(local, at, NULL);
    char *out = g_ascii_strdown(joined, -1);
    g_free(local);
    g_free(joined);
    return out;
}

/* The enclosed original came from the no-reply address that routed the
 * bounce, or from a VERP of it. */
static bool route_sent_by_platform(const config *cfg, const policy_job *job)
{
    const char *delimiter = cfg->handler.verp_delimiter;
    char *platform = route_unverped(job->route_address, delimiter);
    const char *senders[] = { job->report->original_sender, job->report->original_return_path };
    bool ours = false;
    for (size_t i = 0; i < G_N_ELEMENTS(senders) && platform && !ours; i++) {
        char *sender = route_unverped(senders[i], delimiter);
        ours = sender && strcmp(sender, platform) == 0;
        g_free(sender);
    }
    g_free(platform);
    return ours;
}

const char *policy_route_forwarded(const config *cfg, const policy_job *job, const classify_recipient *rcpt)
{
    const classify_report *rep = job->report;
    const char *to = rep->original_to;
    if (!job->domain || !to || rcpt->final || !rcpt->address || g_ascii_strcasecmp(to, rcpt->address) == 0)
        return NULL;
    for (size_t i = 0; i < rep->n_recipients; i++)
        if (rep->recipients[i].address && g_ascii_strcasecmp(rep->recipients[i].address, to) == 0)
            return NULL;
    return classify_address_is_valid(to) && route_sent_by_platform(cfg, job) ? to : NULL;
}
