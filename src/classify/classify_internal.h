/*
 * classify_internal.h - what the classifier's own files share and nothing
 * outside src/classify/ may include: the prepared message that every
 * detector reads, the detector table, the reason table's entry point and the
 * text helpers the detectors use.
 */
#ifndef BOUNCEDEMAILS_CLASSIFY_INTERNAL_H
#define BOUNCEDEMAILS_CLASSIFY_INTERNAL_H

#include <gmime/gmime.h>
#include "classify/classify.h"

/* One message, parsed and decoded once, before any detector runs. All text is
 * valid UTF-8 with LF line ends, whatever the input's charset, transfer
 * encoding or newline style. Pointers are NULL when the part is absent. */
typedef struct classify_msg {
    GMimeObject *mime;           /* the top-level part, whose own headers are only
                                    Content-Type and Content-Transfer-Encoding (read
                                    the others with classify_msg_header); NULL when
                                    GMime could not parse anything */
    const char *from;            /* decoded From header, or "" */
    const char *subject;         /* decoded Subject header, or "" */
    const char *content_type;    /* top-level type, lower case, e.g. "multipart/report" */
    const char *text;            /* the reporting MTA's own text: every text part of the
                                    bounce outside the returned message, joined */
    size_t text_len;
    const char *delivery_status; /* message/(global-)delivery-status part(s) */
    const char *feedback_report; /* message/feedback-report part */
    const char *original_headers;/* header block of the returned message, if enclosed */
    const char *raw;             /* the whole input, newlines normalised to LF,
                                    NUL-terminated (raw[raw_len] == 0) */
    size_t raw_len;
    /* Private to mime.c: what the pointers above point into. */
    GMimeStream *stream;
    GPtrArray *owned;
    GArray *fields;          /* the top-level header block's fields */
    GArray *original_fields; /* original_headers' fields */
} classify_msg;

/* Builds msg from the raw bytes of one message (mime.c). Never fails:
 * unreadable input leaves mime NULL and the whole input as text. Release it
 * with classify_msg_clear(). */
void classify_msg_init(classify_msg *msg, const char *data, size_t len);
void classify_msg_clear(classify_msg *msg);

/* A top-level header of the bounce, unfolded, RFC 2047-decoded, valid
 * UTF-8, or NULL. Kept until classify_msg_clear(). */
const char *classify_msg_header(const classify_msg *msg, const char *name);
/* The same, newly allocated. */
char *classify_msg_header_dup(const classify_msg *msg, const char *name);
/* A header of the returned original message, decoded the same way, or
 * NULL. Newly allocated. */
char *classify_msg_original_header(const classify_msg *msg, const char *name);

/* A detector claims a message by returning true after it has set the report's
 * kind and added its recipients. Detectors run in table order; the first to
 * claim wins and the rest are not tried. */
typedef bool (*classify_detect_fn)(const classify_msg *msg, classify_report *report);

typedef struct classify_detector {
    const char *name;            /* the report's "format", e.g. "postfix" */
    classify_detect_fn detect;
} classify_detector;

extern const classify_detector classify_detectors[];
extern const size_t classify_n_detectors;

/* Adds a recipient (its address taken by classify_address_take()), or
 * returns the existing entry with the same address. NULL when address holds
 * no mailbox at all, or when the report has CLASSIFY_MAX_RECIPIENTS
 * already. action defaults to "failed", reason to
 * UNDEFINED (classify_message() then guesses it). The returned pointer is
 * valid only until the next classify_report_add() on the same report (the
 * array may move): fill one recipient before adding the next. */
classify_recipient *classify_report_add(classify_report *report, const char *address);
/* A failed address as the report gives it (address.c): the "rfc822;" type,
 * white space, angle brackets and "mailto:" removed, lower case, nothing
 * else; the first mailbox inside when the string holds more than an
 * address. NULL when there is none. */
char *classify_address_take(const char *raw);
/* Records that a forward or alias turned the address the platform mailed
 * into the one that failed: address becomes mailed, final the old address.
 * classify_report_add() finds the recipient by either address afterwards. */
void classify_report_forwarded(classify_report *report, classify_recipient *rcpt, const char *mailed);
/* Replaces a recipient's diagnostic, whitespace collapsed to single spaces. */
void classify_recipient_set_diagnostic(classify_recipient *rcpt, const char *text, size_t len);
void classify_recipient_set_string(char **field, const char *value);
/* Frees what classify_report_add keeps to find recipients by address; the
 * caller frees the recipients. */
void classify_report_index_free(classify_report *report);

/* The reason table: status and reply codes decide where they are specific,
 * otherwise the diagnostic text's wording does (case-insensitive patterns). */
classify_reason classify_reason_guess(const char *status, const char *reply_code,
                                      const char *diagnostic);
/* The same, saying in *ev which rule decided (ev may be NULL). */
classify_reason classify_reason_explain(const char *status, const char *reply_code,
                                        const char *diagnostic, classify_evidence *ev);
/* Sets a failed recipient's reason (when its detector left it undefined),
 * hard flag, default verdict and evidence, by what the failure says. */
void classify_decide(classify_recipient *r);

/* Text helpers for detectors. */
/* dst = src with ASCII letters in lower case, other bytes as they are. */
void classify_lower_ascii(char *dst, const char *src, size_t n);
const char *classify_find_ci(const char *hay, size_t hay_len, const char *needle);
/* First "x.y.z" DSN status code in s (class 2, 4 or 5); true when found. */
bool classify_find_status(const char *s, size_t len, char out[16]);
/* First SMTP reply code (2xx/4xx/5xx standing alone) in s; true when found. */
bool classify_find_reply_code(const char *s, size_t len, char out[4]);
/* First mailbox (local@domain) in s, newly allocated and normalised, or NULL. */
char *classify_find_address(const char *s, size_t len);
/* A mailbox as the store keeps it: lower case, valid UTF-8, newly allocated
 * (g_free); both ways of finding an address end here so they agree. */
char *classify_address_copy(const char *s, size_t len);

#endif
