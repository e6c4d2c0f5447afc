/*
 * verp.c - signing and checking VERP return paths (see verp.h). The tag is
 * short so that the return path stays within a local part's 64 characters
 * for ordinary addresses; 40 bits are enough against forgery by guessing,
 * since every wrong guess costs the forger a mail we see.
 */
#include "policy/verp.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <glib.h>
#include <openssl/crypto.h>   /* CRYPTO_memcmp */

#define VERP_WEEK_SECONDS 604800L

static const char verp_base32[] = "abcdefghijklmnopqrstuvwxyz234567";

long verp_week(time_t when)
{
    return (long)(when / VERP_WEEK_SECONDS);
}

void verp_tag(const char *secret, const char *address, long week, char tag[VERP_TAG_LEN + 1])
{
    char *folded = g_ascii_strdown(address, -1);
    char *data = g_strdup_printf("%s\n%ld", folded, week);
    /* GLib's HMAC: OpenSSL's one-shot HMAC() goes through EVP, which would
     * link most of libcrypto into the program (the daemon's TLS is a
     * module). */
    guint8 mac[32];
    gsize mac_len = sizeof mac;
    GHmac *hmac = g_hmac_new(G_CHECKSUM_SHA256, (const guchar *)secret, strlen(secret));
    g_hmac_update(hmac, (const guchar *)data, (gssize)strlen(data));
    g_hmac_get_digest(hmac, mac, &mac_len);
    g_hmac_unref(hmac);
    guint64 bits = 0;
    for (int i = 0; i < 5; i++) bits = bits << 8 | mac[i];
    for (int i = 0; i < VERP_TAG_LEN; i++) tag[i] = verp_base32[(bits >> (35 - 5 * i)) & 31];
    tag[VERP_TAG_LEN] = '\0';
    g_free(data);
    g_free(folded);
}

verp_signature verp_check(const char *secret, int valid_weeks, const char *address, const char *tag,
                          time_t now)
{
    if (!tag || !*tag) return VERP_UNSIGNED;
    if (!secret || !*secret || strlen(tag) != VERP_TAG_LEN) return VERP_WRONG;
    char given[VERP_TAG_LEN + 1];
    for (int i = 0; i <= VERP_TAG_LEN; i++) given[i] = g_ascii_tolower(tag[i]);
    long week = verp_week(now);
    bool ok = false;
    /* Every week is tried, so that the time taken tells nothing. */
    for (long w = week - valid_weeks; w <= week + 1; w++) {
        char want[VERP_TAG_LEN + 1];
        verp_tag(secret, address, w, want);
        ok |= CRYPTO_memcmp(want, given, VERP_TAG_LEN) == 0;
    }
    return ok ? VERP_SIGNED : VERP_WRONG;
}

static bool verp_is_base32(char c)
{
    c = g_ascii_tolower(c);
    return (c >= 'a' && c <= 'z') || (c >= '2' && c <= '7');
}

void verp_split_tag(char *recipient, char tag[VERP_TAG_LEN + 1])
{
    tag[0] = '\0';
    size_t len = strlen(recipient);
    if (len < VERP_TAG_LEN + 3) return;
    char *dash = recipient + len - VERP_TAG_LEN - 1;
    if (*dash != '-' || !g_ascii_isalnum(dash[-1]) || !strchr(recipient, '@') || strchr(recipient, '@') > dash)
        return;
    for (int i = 1; i <= VERP_TAG_LEN; i++)
        if (!verp_is_base32(dash[i])) return;
    memcpy(tag, dash + 1, VERP_TAG_LEN + 1);
    *dash = '\0';
}

char *verp_return_path(const char *secret, const char *local, const char *domain, const char *delimiter,
                       const char *at_sign, const char *address, time_t now)
{
    const char *at = strrchr(address, '@');
    if (!at || at == address || !at[1]) return NULL;
    char tag[VERP_TAG_LEN + 1];
    verp_tag(secret, address, verp_week(now), tag);
    char *folded = g_ascii_strdown(address, -1);
    folded[at - address] = '\0';
    char *path = g_strdup_printf("%s%s%s%s%s-%s@%s", local, delimiter, folded, at_sign,
                                 folded + (at - address) + 1, tag, domain);
    g_free(folded);
    return path;
}

const char *verp_signature_name(verp_signature sig)
{
    static const char *const names[] = {
        [VERP_UNSIGNED] = "unsigned", [VERP_SIGNED] = "signed", [VERP_WRONG] = "wrongly signed",
    };
    return (size_t)sig < G_N_ELEMENTS(names) ? names[sig] : "?";
}
