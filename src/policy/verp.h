/*
 * verp.h - signed VERP return paths, so that a bounce can prove it answers a
 * message the platform sent. Anyone can mail the no-reply address a forged
 * bounce naming any recipient; only the platform, which holds
 * handler.verp_secret, can make the tag of a return path:
 *
 *     no-reply+user=example.com-k3m9x2ab@openhpi.de
 *
 * tag = the first 40 bits of HMAC-SHA256(secret, "<address>\n<week>") in
 * RFC 4648 base32, lower case (8 characters), where address is the
 * recipient with its ASCII case folded and week is the Unix time divided by
 * 604800 (whole weeks since 1970-01-01, a Thursday). A tag is accepted from
 * the week before its own (a platform clock ahead of ours) to valid_weeks
 * after it. The README shows the same computation in Ruby.
 */
#ifndef BOUNCEDEMAILS_VERP_H
#define BOUNCEDEMAILS_VERP_H

#include <stddef.h>
#include <time.h>

#define VERP_TAG_LEN 8

typedef enum verp_signature {
    VERP_UNSIGNED = 0,    /* no tag */
    VERP_SIGNED,          /* a tag made with the secret within the accepted weeks */
    VERP_WRONG,           /* a tag, but a forged, altered or expired one */
} verp_signature;

long verp_week(time_t when);

/* The tag for address (any ASCII case) in week, NUL-terminated. */
void verp_tag(const char *secret, const char *address, long week, char tag[VERP_TAG_LEN + 1]);

/* Whether tag (NULL or "": none) signs address at now. */
verp_signature verp_check(const char *secret, int valid_weeks, const char *address, const char *tag,
                          time_t now);

/* Takes a tag off the end of a decoded VERP recipient in place
 * ("user@example.com-k3m9x2ab" -> "user@example.com") into tag ("" when
 * it has none). A domain's last label cannot end in "-" plus eight base32
 * characters after a letter or digit, so no real domain loses anything. */
void verp_split_tag(char *recipient, char tag[VERP_TAG_LEN + 1]);

/* The return path a platform sends with to address, at the no-reply address
 * local@domain, signed for now: "local<delimiter><address with at_sign for
 * its @>-<tag>@domain". Newly allocated (g_free), or NULL when address is
 * not local@domain. */
char *verp_return_path(const char *secret, const char *local, const char *domain, const char *delimiter,
                       const char *at_sign, const char *address, time_t now);

/* The name verp_signature has in the event log and the logs. */
const char *verp_signature_name(verp_signature sig);

#endif
