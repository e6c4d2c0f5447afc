/*
 * uri.h - a URL taken apart into scheme, user information, hosts, path and
 * query, the one way that both the config check (config.c: amqp.url,
 * store.url, platform URLs) and the PostgreSQL backend (store_pg_url.c)
 * read it, so that the config never accepts a URL the store reads
 * otherwise, nor refuses one it reads.
 *
 * A password may hold "/", ":" and "@" as they are (libpq and most URL
 * parsers split at the first of them and so quote a piece of the password
 * back in their errors): the user information ends at the LAST "@" before
 * the first of the caller's stop characters ("?" for store.url, "?#" for
 * amqp.url, "/?#" for a web URL, whose path may hold "@"). Nothing is
 * decoded or copied: the parts point into the URL.
 */
#ifndef BOUNCEDEMAILS_URI_H
#define BOUNCEDEMAILS_URI_H

typedef struct uri_span {
    const char *start, *end;   /* start NULL: the part is absent */
} uri_span;

typedef struct uri_parts {
    uri_span scheme;     /* before "://" */
    uri_span userinfo;   /* before that last "@" */
    uri_span hosts;      /* "host[:port]", or a comma list of them */
    uri_span path;       /* after the "/" that ends the hosts, to the stop */
    uri_span query;      /* after a "?" stop, to the end */
} uri_parts;

/* Splits url; -1 when it has no "://". */
int uri_split(const char *url, const char *stops, uri_parts *parts);

/* One host of the list (start to end, no comma): the name or address, an
 * IPv6 address without its brackets, and the port after ":" (absent
 * without one, empty after a bare ":"). -1 when an IPv6 address has no "]"
 * or is followed by anything but ":port". */
int uri_host_port(const char *start, const char *end, uri_span *host, uri_span *port);

#endif
