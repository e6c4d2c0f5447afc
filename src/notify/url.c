/*
 * url.c - the platform's URL for an address: the {address} expression of a
 * URL template expanded as RFC 6570 simple string expansion does, so that an
 * address with '/', '%', '+', spaces or non-ASCII letters stays one path
 * segment and reaches the platform unchanged.
 */
#include "notify/notify.h"

#include <string.h>
#include <glib.h>

#define NOTIFY_URL_EXPRESSION "{address}"

char *notify_expand_url(const char *url_template, const char *address)
{
    /* Simple expansion keeps only the unreserved set (ALPHA, DIGIT, "-._~")
     * and encodes each UTF-8 byte of anything else, which is exactly what
     * g_uri_escape_string does with no reserved characters allowed and
     * allow_utf8 false. */
    char *value = g_uri_escape_string(address, NULL, FALSE);
    GString *url = g_string_sized_new(strlen(url_template) + strlen(value));
    const char *p = url_template;
    const char *hit;
    while ((hit = strstr(p, NOTIFY_URL_EXPRESSION)) != NULL) {
        g_string_append_len(url, p, hit - p);
        g_string_append(url, value);
        p = hit + strlen(NOTIFY_URL_EXPRESSION);
    }
    g_string_append(url, p);
    g_free(value);
    return g_string_free(url, FALSE);
}
