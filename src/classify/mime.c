/*
 * mime.c - turns the raw bytes of one message into the classify_msg that
 * every detector reads: parsed once with GMime, every part the reporting MTA
 * wrote decoded (transfer encoding, charset) to UTF-8 with LF line ends, the
 * delivery-status and feedback-report parts set apart, and the returned
 * original message (enclosed as message/rfc822, text/rfc822-headers, or
 * quoted inline below a marker line) split off so that no detector mistakes
 * its addresses for failed recipients.
 */
#include <stdint.h>
#include <string.h>
#include "classify/classify_internal.h"

/* Nesting deeper than this is not a bounce anyone wrote: ignore what is below. */
#define MIME_MAX_DEPTH 16

/* Hard limits that keep the work on one message in proportion to what a
 * bounce holds, whatever the input (README, "Limits of the classifier").
 * Each collected text (the bounce's own text, the delivery-status and
 * feedback-report parts, the returned headers) is read up to MIME_TEXT_MAX
 * bytes: hundreds of recipients with their diagnostics fit, and what lies
 * beyond is the returned message. Detectors read the text once for each
 * recipient, so this bounds their work together with
 * CLASSIFY_MAX_RECIPIENTS. */
#define MIME_TEXT_MAX (256 * 1024)
/* A header block is indexed up to MIME_HEADER_MAX bytes and each field's
 * value read up to MIME_FIELD_MAX bytes; Postfix stores at most 100 KiB of
 * one header (header_size_limit), Sendmail 32 KiB of the whole block. */
#define MIME_HEADER_MAX (1024 * 1024)
#define MIME_FIELD_MAX (100 * 1024)
/* GMime reads a message up to the line before the MIME_MAX_DELIMITERS + 1st
 * line that starts with "--", which bounds the parts it builds objects for;
 * a bounce has a handful of parts and puts its report in the first ones. */
#define MIME_MAX_DELIMITERS 1000

/* Lines after which a plain-text bounce quotes the original message
 * (qmail, Exim, Sendmail V5, OpenSMTPD, Office 365, ...). Matched
 * case-insensitively at the start of a line, after blanks and dashes. */
static const char *const mime_original_markers[] = {
    "this is a copy of the message, including all the headers.",
    "below this line is a copy of the message.",
    "below is a copy of the original message:",
    "enclosed is a copy of the message.",
    "enclosed are the original headers of the message.",
    "included is a copy of the message header:",
    "original message headers:",
    "original message follows",
    "original message -----",
    "original message ---",
    "unsent message follows",
    "returned message --",
    "the header of the original message is following.",
    "the following is a copy of the original message",
    "copy of the original message follows",
};

/* What the walk collects; turned into the classify_msg at the end. */
typedef struct mime_walk {
    GString *text;
    GString *delivery_status;
    GString *feedback_report;
    GString *original_headers;
    bool have_original;
    bool have_report; /* the bounce itself is a multipart/report */
} mime_walk;

/* Replaces CRLF and bare CR by LF and NUL by a space, in place; returns the
 * new length. Every input newline style gives the same bytes after this. */
static size_t
mime_normalise_newlines(char *s, size_t len)
{
    if (len == 0)
        return 0;
    char *cr = memchr(s, '\r', len);
    char *nul = memchr(s, '\0', len);
    if (cr == NULL && nul == NULL)
        return len;

    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '\r') {
            c = '\n';
            if (i + 1 < len && s[i + 1] == '\n')
                i++;
        } else if (c == '\0') {
            c = ' ';
        }
        s[o++] = c;
    }
    return o;
}

static bool
mime_is_ascii(const char *s, size_t len)
{
    size_t i = 0;
    /* Eight bytes at a time: most bounce text is ASCII from end to end. */
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        if (w & UINT64_C(0x8080808080808080))
            return false;
    }
    for (; i < len; i++)
        if ((unsigned char)s[i] >= 0x80)
            return false;
    return true;
}

/* Charsets that encode non-ASCII text in 7-bit bytes: ASCII-only bytes
 * still need converting. */
static const char *const mime_7bit_charsets[] = { "iso-2022", "utf-7", "hz-gb" };

/* True when the 7-bit bytes s are in such a charset; Japanese mail often
 * sends ISO-2022-JP without declaring it, which the escape sequence shows. */
static bool
mime_is_7bit_charset(const char *s, size_t len, const char **charset)
{
    for (size_t i = 0; *charset != NULL && i < G_N_ELEMENTS(mime_7bit_charsets); i++) {
        size_t n = strlen(mime_7bit_charsets[i]);
        if (g_ascii_strncasecmp(*charset, mime_7bit_charsets[i], n) == 0)
            return true;
    }
    const char *esc = memchr(s, 0x1b, len);
    if (esc != NULL && (size_t)(s + len - esc) > 2 && (esc[1] == '$' || esc[1] == '(')) {
        *charset = "iso-2022-jp";
        return true;
    }
    return false;
}

/* Appends len bytes in charset to out as valid UTF-8 with LF line ends.
 * Unknown charsets and invalid bytes degrade to U+FFFD, never to failure. */
static void
mime_append_utf8(GString *out, const char *s, size_t len, const char *charset)
{
    size_t start = out->len;
    bool valid = false; /* known to be valid UTF-8 already */

    if (start >= MIME_TEXT_MAX)
        return;
    if (len > MIME_TEXT_MAX - start) {
        len = MIME_TEXT_MAX - start;
        /* Not inside a UTF-8 sequence, which would pass for Latin-1. */
        for (int i = 0; i < 3 && len > 0 && ((unsigned char)s[len] & 0xc0) == 0x80; i++)
            len--;
    }
    if (len == 0)
        return;
    if (mime_is_ascii(s, len) && !mime_is_7bit_charset(s, len, &charset)) {
        g_string_append_len(out, s, (gssize)len);
        valid = true;
    } else {
        char *conv = NULL;
        bool utf8 = charset == NULL || g_ascii_strcasecmp(charset, "utf-8") == 0 ||
                    g_ascii_strcasecmp(charset, "us-ascii") == 0 ||
                    g_ascii_strcasecmp(charset, "utf8") == 0;
        if (utf8 && g_utf8_validate(s, (gssize)len, NULL)) {
            valid = true;
        } else {
            /* Undeclared 8-bit text that is not UTF-8 is most often Latin-1. */
            const char *from = utf8 ? "iso-8859-1" : charset;
            iconv_t cd = g_mime_iconv_open("UTF-8", from);
            if (cd != (iconv_t)-1) {
                conv = g_mime_iconv_strndup(cd, s, len);
                g_mime_iconv_close(cd);
            }
        }
        if (conv != NULL) {
            g_string_append(out, conv);
            g_free(conv);
        } else {
            g_string_append_len(out, s, (gssize)len);
        }
    }
    /* Newline normalisation only turns CR and NUL into LF and space, which
     * keeps valid UTF-8 valid. */
    g_string_set_size(out, start + mime_normalise_newlines(out->str + start, out->len - start));
    if (!valid && !g_utf8_validate(out->str + start, (gssize)(out->len - start), NULL)) {
        char *fixed = g_utf8_make_valid(out->str + start, (gssize)(out->len - start));
        g_string_truncate(out, start);
        g_string_append(out, fixed);
        g_free(fixed);
    }
}

/* The part's content as the parser left it, in place in a memory stream,
 * and its transfer encoding; false when it is elsewhere. */
static bool
mime_part_raw(GMimePart *part, const char **data, size_t *len, GMimeContentEncoding *encoding)
{
    GMimeDataWrapper *content = g_mime_part_get_content(part);
    if (content == NULL)
        return false;
    GMimeStream *stream = g_mime_data_wrapper_get_stream(content);
    GByteArray *buffer = GMIME_IS_STREAM_MEM(stream) ? g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(stream))
                                                     : NULL;
    if (buffer == NULL)
        return false;
    gint64 end = stream->bound_end >= 0 && stream->bound_end < (gint64)buffer->len ? stream->bound_end
                                                                                     : (gint64)buffer->len;
    gint64 start = MIN(MAX(stream->bound_start, 0), end);
    *data = (const char *)buffer->data + start;
    *len = (size_t)(end - start);
    *encoding = g_mime_data_wrapper_get_encoding(content);
    return true;
}

/* True when the part's content is in place and needs no decoding: then
 * *data points into the parser's input, whose newlines classify_msg_init
 * has normalised already (as it has those of every input it parses again). */
static bool
mime_part_plain(GMimePart *part, const char **data, size_t *len)
{
    GMimeContentEncoding encoding;
    return mime_part_raw(part, data, len, &encoding) && encoding != GMIME_CONTENT_ENCODING_BASE64 &&
           encoding != GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE && encoding != GMIME_CONTENT_ENCODING_UUENCODE;
}

/* The part's content with its transfer encoding undone. The parser leaves
 * each part's bytes in a memory stream: read them in place, and undo base64
 * and quoted-printable with GMime's stateless decoder, which spares the
 * filter-stream objects that writing the part out would make. */
static GByteArray *
mime_part_bytes(GMimePart *part)
{
    GMimeDataWrapper *content = g_mime_part_get_content(part);
    GByteArray *bytes = g_byte_array_new();
    if (content == NULL)
        return bytes;

    const char *in;
    size_t len;
    GMimeContentEncoding encoding;
    if (!mime_part_raw(part, &in, &len, &encoding) || encoding == GMIME_CONTENT_ENCODING_UUENCODE) {
        GMimeStream *mem = g_mime_stream_mem_new_with_byte_array(bytes);
        g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(mem), FALSE);
        g_mime_data_wrapper_write_to_stream(content, mem);
        g_object_unref(mem);
        return bytes;
    }
    if (encoding == GMIME_CONTENT_ENCODING_BASE64 || encoding == GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE) {
        GMimeEncoding state;
        g_mime_encoding_init_decode(&state, encoding);
        g_byte_array_set_size(bytes, (guint)g_mime_encoding_outlen(&state, len));
        g_byte_array_set_size(bytes, (guint)g_mime_encoding_flush(&state, in, len, (char *)bytes->data));
    } else {
        g_byte_array_append(bytes, (const guint8 *)in, (guint)len);
    }
    return bytes;
}

/* Appends the decoded text of a leaf part to out, a newline between parts. */
static void
mime_append_part(GString *out, GMimePart *part)
{
    GByteArray *bytes = mime_part_bytes(part);
    const char *charset = g_mime_object_get_content_type_parameter(GMIME_OBJECT(part), "charset");

    if (out->len > 0 && out->str[out->len - 1] != '\n')
        g_string_append_c(out, '\n');
    mime_append_utf8(out, (const char *)bytes->data, bytes->len, charset);
    g_byte_array_free(bytes, TRUE);
}

/* Crude HTML to text: drops tags, style and script, decodes the entities
 * bounces use. Only for bounces that offer no text/plain alternative. */
static void
mime_html_to_text(GString *s, size_t start)
{
    static const struct { const char *entity; const char *text; } entities[] = {
        { "&lt;", "<" }, { "&gt;", ">" }, { "&amp;", "&" }, { "&quot;", "\"" },
        { "&#39;", "'" }, { "&nbsp;", " " }, { "&#64;", "@" },
    };
    GString *out = g_string_sized_new(s->len - start);
    const char *p = s->str + start, *end = s->str + s->len;

    while (p < end) {
        if (*p == '<') {
            const char *skip_to = NULL;
            if (g_ascii_strncasecmp(p, "<style", 6) == 0)
                skip_to = "</style>";
            else if (g_ascii_strncasecmp(p, "<script", 7) == 0)
                skip_to = "</script>";
            if (skip_to != NULL) {
                const char *q = classify_find_ci(p, (size_t)(end - p), skip_to);
                p = q != NULL ? q + strlen(skip_to) : end;
                continue;
            }
            bool block = g_ascii_strncasecmp(p, "<br", 3) == 0 || g_ascii_strncasecmp(p, "<p", 2) == 0 ||
                         g_ascii_strncasecmp(p, "</p", 3) == 0 || g_ascii_strncasecmp(p, "<tr", 3) == 0 ||
                         g_ascii_strncasecmp(p, "<div", 4) == 0 || g_ascii_strncasecmp(p, "</div", 5) == 0;
            const char *q = memchr(p, '>', (size_t)(end - p));
            p = q != NULL ? q + 1 : end;
            g_string_append_c(out, block ? '\n' : ' ');
            continue;
        }
        if (*p == '&') {
            size_t i;
            for (i = 0; i < G_N_ELEMENTS(entities); i++) {
                size_t n = strlen(entities[i].entity);
                if ((size_t)(end - p) >= n && g_ascii_strncasecmp(p, entities[i].entity, n) == 0) {
                    g_string_append(out, entities[i].text);
                    p += n;
                    break;
                }
            }
            if (i < G_N_ELEMENTS(entities))
                continue;
        }
        g_string_append_c(out, *p++);
    }
    g_string_truncate(s, start);
    g_string_append_len(s, out->str, (gssize)out->len);
    g_string_free(out, TRUE);
}

static const char *
mime_line_end(const char *p, const char *end)
{
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    return nl != NULL ? nl : end;
}

/* The line after the one at p (folded or not), or end. */
static const char *
mime_next_line(const char *p, const char *end)
{
    const char *eol = mime_line_end(p, end);
    return eol < end ? eol + 1 : end;
}

/* The colon of a line up to eol that opens a field ("Name: value", blanks
 * allowed before the colon, as GMime allows them), or NULL; *name_end is
 * set where the name ends. */
static const char *
mime_field_colon(const char *line, const char *eol, const char **name_end)
{
    const char *q = line;

    while (q < eol && *q > ' ' && *q < 0x7f && *q != ':')
        q++;
    *name_end = q;
    while (q < eol && (*q == ' ' || *q == '\t'))
        q++;
    return *name_end > line && q < eol && *q == ':' ? q : NULL;
}

/* True when the line at p opens a field. */
static bool
mime_is_header_line(const char *p, const char *end)
{
    const char *name_end;
    return mime_field_colon(p, mime_line_end(p, end), &name_end) != NULL;
}

/* Past the marker line: blank lines and dash lines ("------ The body of
 * the message is 2040 characters long; only the first ...") stand between
 * it and the quoted header block. */
static const char *
mime_skip_to_headers(const char *p, const char *end)
{
    for (int lines = 0; p < end && lines < 4;) {
        while (p < end && (*p == '\n' || *p == ' ' || *p == '\t'))
            p++;
        if (end - p < 2 || p[0] != '-' || p[1] != '-')
            break;
        p = mime_next_line(p, end);
        lines++;
    }
    return p;
}

/* Where the header block starting at p ends: at the blank line, or at the
 * first line that is neither a field nor the continuation of one (a body
 * that starts without a blank line), as GMime's parser ends it. */
static const char *
mime_headers_end(const char *p, const char *end)
{
    while (p < end && *p != '\n') {
        if (!mime_is_header_line(p, end) && *p != ' ' && *p != '\t')
            break;
        p = mime_next_line(p, end);
    }
    return p;
}

/* The header block that text quoting the original starts with. */
static void
mime_take_inline_original(mime_walk *w, const char *h, size_t len)
{
    g_string_append_len(w->original_headers, h, mime_headers_end(h, h + len) - h);
    w->have_original = true;
}

/* Splits text quoting the original below a marker line. Returns the length
 * of the bounce's own text; when the marker is followed by a header block
 * and no original was found yet, that block becomes the original's. */
static size_t
mime_split_inline_original(const char *s, size_t len, mime_walk *w)
{
    const char *end = s + len;

    for (const char *line = s; line < end;) {
        const char *eol = mime_line_end(line, end);
        const char *p = line;
        while (p < eol && (*p == ' ' || *p == '\t' || *p == '-' || *p == '='))
            p++;
        /* The first byte turns most lines away before a marker is
         * measured and compared whole. */
        char first = p < eol ? g_ascii_tolower(*p) : '\0';
        for (size_t i = 0; p < eol && i < G_N_ELEMENTS(mime_original_markers); i++) {
            const char *m = mime_original_markers[i];
            if (g_ascii_tolower(m[0]) != first)
                continue;
            size_t n = strlen(m);
            if ((size_t)(eol - p) < n || g_ascii_strncasecmp(p, m, n) != 0)
                continue;
            if (!w->have_original) {
                const char *h = mime_skip_to_headers(eol, end);
                if (mime_is_header_line(h, end))
                    mime_take_inline_original(w, h, (size_t)(end - h));
            }
            return (size_t)(line - s);
        }
        line = mime_next_line(line, end);
    }
    return len;
}

/* How much of s GMime is given: up to the line before the
 * MIME_MAX_DELIMITERS + 1st line that starts with "--". */
static size_t
mime_parse_len(const char *s, size_t len)
{
    const char *end = s + len;
    size_t seen = 0;

    /* Each such line takes three bytes at least: most messages are too
     * short to hold too many. */
    if (len / 3 < MIME_MAX_DELIMITERS)
        return len;
    for (const char *p = s; (p = memchr(p, '-', (size_t)(end - p))) != NULL;) {
        if (p + 1 < end && p[1] == '-' && (p == s || p[-1] == '\n') && ++seen > MIME_MAX_DELIMITERS)
            return (size_t)(p - s);
        while (p < end && *p == '-') /* a run of dashes is one candidate */
            p++;
    }
    return len;
}

/* The part GMime builds from s (a header block, then the body), or NULL. */
static GMimeObject *
mime_parse(const char *s, size_t len)
{
    GMimeStream *stream = g_mime_stream_mem_new_with_buffer(s, mime_parse_len(s, len));
    GMimeParser *parser = g_mime_parser_new_with_stream(stream);
    g_mime_parser_set_format(parser, GMIME_FORMAT_MESSAGE);
    GMimeObject *obj = g_mime_parser_construct_part(parser, NULL);
    g_object_unref(parser);
    g_object_unref(stream);
    return obj;
}

static void mime_walk_object(mime_walk *w, GMimeObject *obj, int depth);
static void mime_take_text_bytes(mime_walk *w, const char *s, size_t len);

/* Headers that only a message's own header block has; a delivery report in
 * plain text (Reporting-MTA:, Final-Recipient:) has none of them. */
static const char *const mime_message_headers[] = { "received:", "return-path:", "message-id:", "from:" };

/* True when s starts with a header block that has one of the headers above:
 * the returned message, sent as a text part of its own. */
static bool
mime_is_message_text(const char *s, size_t len)
{
    const char *end = s + len;
    for (const char *line = s; line < end && mime_is_header_line(line, end);) {
        for (size_t i = 0; i < G_N_ELEMENTS(mime_message_headers); i++) {
            size_t n = strlen(mime_message_headers[i]);
            if ((size_t)(end - line) > n && g_ascii_strncasecmp(line, mime_message_headers[i], n) == 0)
                return true;
        }
        /* Skip the field and its continuation lines. */
        do {
            line = mime_next_line(line, end);
        } while (line < end && (*line == ' ' || *line == '\t'));
    }
    return false;
}

/* A text part of the bounce's own: decoded, HTML flattened, any inline
 * quoted original split off. */
static void
mime_take_text(mime_walk *w, GMimePart *part, bool html)
{
    size_t start = w->text->len;

    mime_append_part(w->text, part);
    if (html)
        mime_html_to_text(w->text, start);
    const char *own_text = w->text->str + start;
    size_t own_len = w->text->len - start;
    while (own_len > 0 && (*own_text == '\n' || *own_text == ' ')) {
        own_text++;
        own_len--;
    }
    /* The returned message as a later text part (an attachment): original. */
    if (start > 0 && !w->have_original && mime_is_message_text(own_text, own_len)) {
        mime_take_inline_original(w, own_text, own_len);
        g_string_truncate(w->text, start);
        return;
    }
    size_t own = mime_split_inline_original(own_text, own_len, w);
    g_string_truncate(w->text, (size_t)(own_text - w->text->str) + own);
}

/* Text that is no MIME part of its own (a prologue), as the bounce's text. */
static void
mime_take_text_bytes(mime_walk *w, const char *s, size_t len)
{
    size_t start = w->text->len;

    if (start > 0 && w->text->str[start - 1] != '\n')
        g_string_append_c(w->text, '\n');
    start = w->text->len;
    mime_append_utf8(w->text, s, len, NULL);
    size_t own = mime_split_inline_original(w->text->str + start, w->text->len - start, w);
    g_string_truncate(w->text, start + own);
}

/* In multipart/alternative only one rendering counts: text/plain if any. */
static GMimeObject *
mime_pick_alternative(GMimeMultipart *mp)
{
    int n = g_mime_multipart_get_count(mp);
    GMimeObject *html = NULL;

    for (int i = 0; i < n; i++) {
        GMimeObject *sub = g_mime_multipart_get_part(mp, i);
        GMimeContentType *ct = g_mime_object_get_content_type(sub);
        if (ct != NULL && g_mime_content_type_is_type(ct, "text", "plain"))
            return sub;
        if (html == NULL)
            html = sub;
    }
    return html;
}

/* The returned message, enclosed as message/rfc822 (or global, news). GMime
 * leaves it a leaf part (see classify_init_gmime): its header block is the
 * original's headers, and nothing below it is read, unless the enclosed
 * message is itself a delivery report, forwarded by a system that reports
 * nothing of its own; then that report is the one to read. */
static void
mime_take_enclosed(mime_walk *w, GMimePart *part, int depth)
{
    if (w->have_original)
        return;
    /* Read in place: an enclosed original may be far larger than the header
     * block that is all of it that is read. */
    const char *s;
    size_t len;
    GByteArray *bytes = NULL;
    if (!mime_part_plain(part, &s, &len)) {
        bytes = mime_part_bytes(part);
        s = (const char *)bytes->data;
        len = mime_normalise_newlines((char *)bytes->data, bytes->len);
    }
    if (len == 0) {
        w->have_original = true; /* an empty one, but the only one */
        if (bytes != NULL)
            g_byte_array_free(bytes, TRUE);
        return;
    }
    size_t header_len = (size_t)(mime_headers_end(s, s + len) - s);

    bool forwarded_report = !w->have_report && w->delivery_status->len == 0 && w->feedback_report->len == 0 &&
                            classify_find_ci(s, header_len, "multipart/report") != NULL;
    GMimeObject *report = NULL;
    if (forwarded_report) {
        report = mime_parse(s, len);
        GMimeContentType *ct = report != NULL ? g_mime_object_get_content_type(report) : NULL;
        if (ct == NULL || !g_mime_content_type_is_type(ct, "multipart", "report"))
            g_clear_object(&report);
    }
    if (report != NULL) {
        mime_walk_object(w, report, depth + 1);
        g_object_unref(report);
    } else {
        w->have_original = true;
        mime_append_utf8(w->original_headers, s, header_len, NULL);
    }
    if (bytes != NULL)
        g_byte_array_free(bytes, TRUE);
}

static void
mime_walk_part(mime_walk *w, GMimePart *part, int depth)
{
    GMimeContentType *ct = g_mime_object_get_content_type(GMIME_OBJECT(part));
    const char *type = ct != NULL ? g_mime_content_type_get_media_type(ct) : "text";
    const char *sub = ct != NULL ? g_mime_content_type_get_media_subtype(ct) : "plain";

    if (g_ascii_strcasecmp(type, "message") == 0 || g_ascii_strcasecmp(type, "text") == 0) {
        if (g_ascii_strcasecmp(sub, "delivery-status") == 0 ||
            g_ascii_strcasecmp(sub, "global-delivery-status") == 0) {
            mime_append_part(w->delivery_status, part);
            return;
        }
        if (g_ascii_strcasecmp(sub, "feedback-report") == 0) {
            mime_append_part(w->feedback_report, part);
            return;
        }
        if (g_ascii_strncasecmp(sub, "rfc822-header", 13) == 0 ||
            g_ascii_strcasecmp(sub, "global-headers") == 0) {
            if (!w->have_original) {
                w->have_original = true;
                mime_append_part(w->original_headers, part);
            }
            return;
        }
    }
    if (g_ascii_strcasecmp(type, "text") == 0) {
        mime_take_text(w, part, g_ascii_strcasecmp(sub, "html") == 0);
        return;
    }
    if (g_ascii_strcasecmp(type, "message") == 0) {
        mime_take_enclosed(w, part, depth);
        return;
    }
    /* Images, TNEF and other attachments carry nothing a detector reads. */
}

/* A multipart whose declared boundary never occurs (a mail system that
 * rewrote it, or none at all) leaves GMime nothing but a prologue. When a
 * boundary-like line stands in it, the parts are read again with that
 * boundary; otherwise the whole prologue is the text. */
static void
mime_walk_broken_multipart(mime_walk *w, GMimeMultipart *mp, int depth)
{
    const char *pro = g_mime_multipart_get_prologue(mp);
    if (pro == NULL)
        return;

    size_t len = strlen(pro);
    const char *end = pro + len;
    for (const char *line = pro; line < end && depth < MIME_MAX_DEPTH;) {
        const char *eol = mime_line_end(line, end);
        size_t n = (size_t)(eol - line);
        if (n > 3 && n < 76 && line[0] == '-' && line[1] == '-' && line[2] != '-' &&
            memchr(line, ' ', n) == NULL) {
            GString *part = g_string_new("Content-Type: multipart/mixed; boundary=\"");
            g_string_append_len(part, line + 2, (gssize)(n - 2));
            g_string_append(part, "\"\n\n");
            g_string_append_len(part, line, end - line);
            GMimeObject *obj = mime_parse(part->str, part->len);
            g_string_free(part, TRUE);
            bool usable = GMIME_IS_MULTIPART(obj) && g_mime_multipart_get_count(GMIME_MULTIPART(obj)) > 0;
            if (usable) {
                mime_take_text_bytes(w, pro, (size_t)(line - pro));
                mime_walk_object(w, obj, depth + 1);
            }
            if (obj != NULL)
                g_object_unref(obj);
            if (usable)
                return;
            break;
        }
        line = mime_next_line(line, end);
    }
    mime_take_text_bytes(w, pro, len);
}

static void
mime_walk_object(mime_walk *w, GMimeObject *obj, int depth)
{
    if (obj == NULL || depth > MIME_MAX_DEPTH)
        return;
    if (GMIME_IS_MULTIPART(obj)) {
        GMimeMultipart *mp = GMIME_MULTIPART(obj);
        GMimeContentType *ct = g_mime_object_get_content_type(obj);
        if (ct != NULL && g_ascii_strcasecmp(g_mime_content_type_get_media_subtype(ct), "alternative") == 0) {
            mime_walk_object(w, mime_pick_alternative(mp), depth + 1);
            return;
        }
        int n = g_mime_multipart_get_count(mp);
        if (n == 0) {
            mime_walk_broken_multipart(w, mp, depth);
            return;
        }
        for (int i = 0; i < n; i++)
            mime_walk_object(w, g_mime_multipart_get_part(mp, i), depth + 1);
        return;
    }
    if (GMIME_IS_PART(obj))
        mime_walk_part(w, GMIME_PART(obj), depth);
}

/* Keeps s alive as long as msg and returns it, or NULL when empty. */
static const char *
mime_keep(classify_msg *msg, GString *s, bool null_if_empty)
{
    if (null_if_empty && s->len == 0) {
        g_string_free(s, TRUE);
        return NULL;
    }
    char *str = g_string_free(s, FALSE);
    g_ptr_array_add(msg->owned, str);
    return str;
}

static const char *
mime_keep_str(classify_msg *msg, char *s)
{
    g_ptr_array_add(msg->owned, s);
    return s;
}

/* The decoded value of a top-level header as valid UTF-8, or "". */
static const char *
mime_header_or_empty(classify_msg *msg, const char *name)
{
    const char *v = classify_msg_header(msg, name);
    return v != NULL ? v : "";
}

/* One field of a header block: where its name and raw value (continuation
 * lines included) stand. */
typedef struct mime_field {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
} mime_field;

/* Indexes the fields of the header block s, in order, so that each lookup
 * compares names only. Lines that are no field are passed over. */
static GArray *
mime_index_fields(const char *s, size_t len)
{
    GArray *fields = g_array_sized_new(FALSE, FALSE, sizeof(mime_field), 16);
    const char *end = s + MIN(len, MIME_HEADER_MAX);

    for (const char *line = s; line < end;) {
        const char *first_eol = mime_line_end(line, end), *eol = first_eol;
        const char *next = mime_next_line(line, end);
        while (next < end && (*next == ' ' || *next == '\t')) {
            eol = mime_line_end(next, end);
            next = mime_next_line(next, end);
        }
        const char *name_end;
        const char *colon = mime_field_colon(line, first_eol, &name_end);
        if (colon != NULL) {
            mime_field f = { line, (size_t)(name_end - line), colon + 1, (size_t)(eol - colon - 1) };
            g_array_append_val(fields, f);
        }
        line = next;
    }
    return fields;
}

/* The unfolded value of the first field called name, as it stands (g_free
 * it); NULL when absent. */
static char *
mime_field_raw(const GArray *fields, const char *name)
{
    size_t n = strlen(name);

    for (guint i = 0; fields != NULL && i < fields->len; i++) {
        const mime_field *f = &g_array_index(fields, mime_field, i);
        if (f->name_len != n || g_ascii_strncasecmp(f->name, name, n) != 0)
            continue;
        /* Unfolding drops the newlines and keeps the blanks after them. */
        size_t len = MIN(f->value_len, MIME_FIELD_MAX), out = 0;
        char *value = g_malloc(len + 1);
        for (size_t k = 0; k < len; k++)
            if (f->value[k] != '\n')
                value[out++] = f->value[k];
        value[out] = '\0';
        return g_strstrip(value);
    }
    return NULL;
}

/* The same value RFC 2047-decoded, as valid UTF-8. */
static char *
mime_field_value(const GArray *fields, const char *name)
{
    char *value = mime_field_raw(fields, name);
    /* Most values are plain ASCII with no encoded word to decode. */
    if (value == NULL || (strstr(value, "=?") == NULL && mime_is_ascii(value, strlen(value))))
        return value;
    char *decoded = g_mime_utils_header_decode_text(NULL, value);
    g_free(value);
    if (decoded != NULL && !g_utf8_validate(decoded, -1, NULL)) {
        char *valid = g_utf8_make_valid(decoded, -1);
        g_free(decoded);
        decoded = valid;
    }
    return decoded;
}

/* What GMime parses: the top-level header block reduced to the two fields
 * that say how to read the body, then the body. GMime would turn every
 * Received line into objects of its own, which cost more than the body;
 * the detectors read the few headers they need by name instead. */
static GByteArray *
mime_body_input(const GArray *fields, const char *body, size_t body_len)
{
    static const char *const names[] = { "Content-Type", "Content-Transfer-Encoding" };
    GByteArray *input = g_byte_array_sized_new((guint)body_len + 256);

    for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
        /* As written: GMime parses these fields itself. */
        char *v = mime_field_raw(fields, names[i]);
        if (v == NULL)
            continue;
        g_byte_array_append(input, (const guint8 *)names[i], (guint)strlen(names[i]));
        g_byte_array_append(input, (const guint8 *)": ", 2);
        g_byte_array_append(input, (const guint8 *)v, (guint)strlen(v));
        g_byte_array_append(input, (const guint8 *)"\n", 1);
        g_free(v);
    }
    g_byte_array_append(input, (const guint8 *)"\n", 1);
    g_byte_array_append(input, (const guint8 *)body, (guint)mime_parse_len(body, body_len));
    return input;
}

void
classify_msg_init(classify_msg *msg, const char *data, size_t len)
{
    memset(msg, 0, sizeof *msg);
    msg->owned = g_ptr_array_new_with_free_func(g_free);

    char *raw = g_malloc(len + 1);
    memcpy(raw, data, len);
    msg->raw_len = mime_normalise_newlines(raw, len);
    raw[msg->raw_len] = '\0'; /* so that the string functions may read raw too */
    msg->raw = mime_keep_str(msg, raw);

    const char *end = raw + msg->raw_len, *headers = raw;
    /* An mbox "From " line left at the top (one whose date the mbox
     * splitter did not take for a separator) is no header: start below it. */
    if (msg->raw_len > 5 && memcmp(raw, "From ", 5) == 0)
        headers = mime_next_line(raw, end);
    const char *body = mime_headers_end(headers, end);
    msg->fields = mime_index_fields(headers, (size_t)(body - headers));
    if (body < end && *body == '\n')
        body++;

    GByteArray *input = mime_body_input(msg->fields, body, (size_t)(end - body));
    GMimeStream *stream = g_mime_stream_mem_new_with_byte_array(input);
    GMimeParser *parser = g_mime_parser_new_with_stream(stream);
    g_mime_parser_set_format(parser, GMIME_FORMAT_MESSAGE);
    msg->mime = g_mime_parser_construct_part(parser, NULL);
    g_object_unref(parser);
    msg->stream = stream; /* owns input, which the parts' content points into */

    mime_walk w = {
        .text = g_string_new(NULL),
        .delivery_status = g_string_new(NULL),
        .feedback_report = g_string_new(NULL),
        .original_headers = g_string_new(NULL),
    };
    if (msg->mime != NULL) {
        GMimeContentType *ct = g_mime_object_get_content_type(msg->mime);
        w.have_report = ct != NULL && g_mime_content_type_is_type(ct, "multipart", "report");
        mime_walk_object(&w, msg->mime, 0);
        char *type = ct != NULL ? g_mime_content_type_get_mime_type(ct) : g_strdup("text/plain");
        msg->content_type = mime_keep_str(msg, g_ascii_strdown(type, -1));
        g_free(type);
    } else {
        /* Nothing GMime could read: the whole input is the text. */
        msg->content_type = "text/plain";
        mime_append_utf8(w.text, msg->raw, msg->raw_len, NULL);
        g_string_truncate(w.text, mime_split_inline_original(w.text->str, w.text->len, &w));
    }

    msg->text_len = w.text->len;
    msg->text = mime_keep(msg, w.text, false);
    msg->delivery_status = mime_keep(msg, w.delivery_status, true);
    msg->feedback_report = mime_keep(msg, w.feedback_report, true);
    msg->original_headers = mime_keep(msg, w.original_headers, !w.have_original);
    if (msg->original_headers != NULL)
        msg->original_fields = mime_index_fields(msg->original_headers, strlen(msg->original_headers));
    msg->from = mime_header_or_empty(msg, "From");
    msg->subject = mime_header_or_empty(msg, "Subject");
}

void
classify_msg_clear(classify_msg *msg)
{
    if (msg->mime != NULL)
        g_object_unref(msg->mime);
    if (msg->stream != NULL)
        g_object_unref(msg->stream);
    if (msg->owned != NULL)
        g_ptr_array_free(msg->owned, TRUE);
    if (msg->fields != NULL)
        g_array_free(msg->fields, TRUE);
    if (msg->original_fields != NULL)
        g_array_free(msg->original_fields, TRUE);
    memset(msg, 0, sizeof *msg);
}

char *
classify_msg_header_dup(const classify_msg *msg, const char *name)
{
    return mime_field_value(msg->fields, name);
}

const char *
classify_msg_header(const classify_msg *msg, const char *name)
{
    char *v = mime_field_value(msg->fields, name);
    if (v != NULL)
        g_ptr_array_add(msg->owned, v);
    return v;
}

char *
classify_msg_original_header(const classify_msg *msg, const char *name)
{
    return mime_field_value(msg->original_fields, name);
}
