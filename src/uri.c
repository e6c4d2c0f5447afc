/*
 * uri.c - URLs taken apart (see uri.h).
 */
#include "uri.h"

#include <string.h>

#include <glib.h>

int uri_split(const char *url, const char *stops, uri_parts *parts)
{
    memset(parts, 0, sizeof *parts);
    const char *sep = strstr(url, "://");
    if (!sep) return -1;
    parts->scheme = (uri_span){ url, sep };
    const char *auth = sep + 3;
    const char *stop = auth + strcspn(auth, stops);
    const char *at = g_strrstr_len(auth, stop - auth, "@");
    if (at) parts->userinfo = (uri_span){ auth, at };
    const char *hosts = at ? at + 1 : auth;
    const char *slash = memchr(hosts, '/', (size_t)(stop - hosts));
    parts->hosts = (uri_span){ hosts, slash ? slash : stop };
    if (slash) parts->path = (uri_span){ slash + 1, stop };
    if (*stop == '?') parts->query = (uri_span){ stop + 1, stop + strlen(stop) };
    return 0;
}

int uri_host_port(const char *start, const char *end, uri_span *host, uri_span *port)
{
    *port = (uri_span){ NULL, NULL };
    if (start < end && *start == '[') {
        const char *close = memchr(start, ']', (size_t)(end - start));
        if (!close || (close + 1 < end && close[1] != ':')) return -1;
        *host = (uri_span){ start + 1, close };
        if (close + 1 < end) *port = (uri_span){ close + 2, end };
        return 0;
    }
    const char *colon = memchr(start, ':', (size_t)(end - start));
    *host = (uri_span){ start, colon ? colon : end };
    if (colon) *port = (uri_span){ colon + 1, end };
    return 0;
}
