/*
 * address.c - a failed address as the report gives it, and whether it is a
 * mailbox that the platform can be told about (RFC 5321 section 4.1.2, with
 * the UTF-8 of RFC 6531).
 *
 * The address is taken exactly as written: the "rfc822;" type, white space,
 * angle brackets and a "mailto:" scheme are removed, nothing else. Stripping
 * a leading dot or quote would turn one mailbox into another: a bounce for
 * ".victim@gmail.com" must never suspend "victim@gmail.com". Only a string
 * that holds more than an address (a display name, a sentence) is searched
 * for the first mailbox in it.
 */
#include <string.h>
#include "classify/classify_internal.h"

#define ADDRESS_MAX 254     /* RFC 5321 4.5.3.1.3: a path of 256 octets, less its brackets */
#define LOCAL_MAX 64        /* RFC 5321 4.5.3.1.1 */
#define LABEL_MAX 63        /* RFC 1035 2.3.4 */

/* RFC 5322 atext, and UTF-8 bytes (RFC 6531 atext). */
static bool
address_is_atext(unsigned char c)
{
    return c >= 0x80 || g_ascii_isalnum(c) || (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/* Bytes that may appear in an address as written outside a quoted local
 * part: the dot-string, '@', an address literal's brackets. A string with
 * anything else (white space, quotes, parentheses, '<', ',') is more than an
 * address. */
static bool
address_is_token(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!address_is_atext(c) && c != '.' && c != '@' && c != '[' && c != ']')
            return false;
    }
    return true;
}

/* A quoted local part, "john doe"@example.org: printable ASCII between the
 * quotes, a backslash quoting the next byte (RFC 5321 Quoted-string). */
static bool
address_quoted_end(const char *s, size_t len, size_t *end)
{
    if (len < 2 || s[0] != '"')
        return false;
    for (size_t i = 1; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\\' && i + 1 < len && s[i + 1] >= 32 && s[i + 1] <= 126) {
            i++;
        } else if (c == '"') {
            *end = i + 1;
            return true;
        } else if (c < 32 || c == 127) {
            return false;
        }
    }
    return false;
}

char *
classify_address_take(const char *raw)
{
    const char *s = raw, *e = raw + strlen(raw);
    const char *semi = memchr(s, ';', (size_t)(e - s));
    const char *at = memchr(s, '@', (size_t)(e - s));

    if (semi != NULL && at != NULL && semi < at)
        s = semi + 1;
    while (s < e && g_ascii_isspace(*s))
        s++;
    while (e > s && g_ascii_isspace(e[-1]))
        e--;
    if ((size_t)(e - s) >= 7 && g_ascii_strncasecmp(s, "mailto:", 7) == 0)
        s += 7;
    if (s < e && *s == '<') {
        const char *close = memchr(s, '>', (size_t)(e - s));
        if (close != NULL && close == e - 1) {
            s++;
            e--;
        }
    }
    size_t len = (size_t)(e - s), quoted = 0;
    if (len > 0 && memchr(s, '@', len) != NULL && s[len - 1] != '@') {
        if (address_quoted_end(s, len, &quoted) && quoted < len && s[quoted] == '@' &&
            address_is_token(s + quoted, len - quoted))
            return classify_address_copy(s, len);
        if (address_is_token(s, len))
            return classify_address_copy(s, len);
    }
    return classify_find_address(raw, strlen(raw));
}

/* Dot-string: atoms of atext separated by single dots. */
static bool
address_dot_string(const char *s, size_t len)
{
    if (len == 0 || s[0] == '.' || s[len - 1] == '.')
        return false;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '.' ? s[i + 1] == '.' : !address_is_atext((unsigned char)s[i]))
            return false;
    }
    return true;
}

/* A domain of two labels or more (a name without a dot is a local host
 * name, not an address the platform can have mailed), each a letter-digit-
 * hyphen string (RFC 5321 sub-domain; UTF-8 for U-labels), or an IPv4
 * address literal. */
static bool
address_domain(const char *s, size_t len)
{
    if (len >= 2 && s[0] == '[')
        return s[len - 1] == ']' && len > 2 && strspn(s + 1, "0123456789.") == len - 2;
    size_t label = 0, dots = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || s[i] == '.') {
            if (label == 0 || label > LABEL_MAX || s[i - 1] == '-' || s[i - label] == '-')
                return false;
            dots += i < len;
            label = 0;
            continue;
        }
        unsigned char c = (unsigned char)s[i];
        if (c < 0x80 && !g_ascii_isalnum(c) && c != '-')
            return false;
        label++;
    }
    return dots > 0;
}

bool
classify_address_is_valid(const char *address)
{
    if (address == NULL)
        return false;
    size_t len = strlen(address);
    const char *at = strrchr(address, '@');
    if (len > ADDRESS_MAX || at == NULL || !g_utf8_validate(address, (gssize)len, NULL))
        return false;
    size_t local = (size_t)(at - address), quoted = 0;
    /* A file or a pipe, as local delivery agents name their targets
     * ("/var/mail/user", "|/usr/bin/procmail"): '/' and '|' are atext, but
     * such a local part names a path, not a mailbox anyone was sent to. */
    if (local == 0 || local > LOCAL_MAX || address[0] == '/' || address[0] == '|')
        return false;
    bool local_ok = address[0] == '"' ? address_quoted_end(address, local, &quoted) && quoted == local
                                      : address_dot_string(address, local);
    return local_ok && address_domain(at + 1, len - local - 1);
}
