/*
 * classify.h - the bounce classifier's whole public interface.
 *
 * classify_message() reads the raw bytes of one message and returns a report:
 * what kind of message it is (bounce, feedback report, auto-reply, delivery
 * report), which detector claimed it, the platform (no-reply) address it was
 * sent to, and one entry per recipient with a reason, a hard flag and a
 * default verdict. The module keeps no global state besides GMime's one-time
 * initialisation, so it may be called from any number of threads at once.
 */
#ifndef BOUNCEDEMAILS_CLASSIFY_H
#define BOUNCEDEMAILS_CLASSIFY_H

#include <stdbool.h>
#include <stddef.h>

typedef enum classify_kind {
    CLASSIFY_KIND_UNKNOWN = 0,
    CLASSIFY_KIND_BOUNCE,
    CLASSIFY_KIND_FEEDBACK,
    CLASSIFY_KIND_AUTOREPLY,
    CLASSIFY_KIND_DELIVERED,
    CLASSIFY_KIND_NOTBOUNCE,  /* a person's reply or spam to the no-reply address */
} classify_kind;

/* Reason names match the corpus labels (../shared/corpus/README.md). */
#define CLASSIFY_REASONS(X) \
    X(UNDEFINED, "undefined")             \
    X(USERUNKNOWN, "userunknown")         \
    X(HOSTUNKNOWN, "hostunknown")         \
    X(HASMOVED, "hasmoved")               \
    X(NOTACCEPT, "notaccept")             \
    X(MAILBOXFULL, "mailboxfull")         \
    X(EXCEEDLIMIT, "exceedlimit")         \
    X(MESGTOOBIG, "mesgtoobig")           \
    X(SUSPEND, "suspend")                 \
    X(EXPIRED, "expired")                 \
    X(NETWORKERROR, "networkerror")       \
    X(SYSTEMERROR, "systemerror")         \
    X(SYSTEMFULL, "systemfull")           \
    X(TOOMANYCONN, "toomanyconn")         \
    X(MAILERERROR, "mailererror")         \
    X(BLOCKED, "blocked")                 \
    X(SPAMDETECTED, "spamdetected")       \
    X(POLICYVIOLATION, "policyviolation") \
    X(BADREPUTATION, "badreputation")     \
    X(REJECTED, "rejected")               \
    X(NORELAYING, "norelaying")           \
    X(SECURITYERROR, "securityerror")     \
    X(AUTHFAILURE, "authfailure")         \
    X(REQUIREPTR, "requireptr")           \
    X(NOTCOMPLIANTRFC, "notcompliantrfc") \
    X(VIRUSDETECTED, "virusdetected")     \
    X(CONTENTERROR, "contenterror")       \
    X(FILTERED, "filtered")               \
    X(SYNTAXERROR, "syntaxerror")         \
    X(SPEEDING, "speeding")               \
    X(ONHOLD, "onhold")                   \
    X(FEEDBACK, "feedback")               \
    X(VACATION, "vacation")               \
    X(DELIVERED, "delivered")

typedef enum classify_reason {
#define CLASSIFY_REASON_ENUM(id, name) CLASSIFY_REASON_##id,
    CLASSIFY_REASONS(CLASSIFY_REASON_ENUM)
#undef CLASSIFY_REASON_ENUM
    CLASSIFY_REASON_COUNT
} classify_reason;

typedef enum classify_verdict {
    CLASSIFY_VERDICT_IGNORE = 0,
    CLASSIFY_VERDICT_TEMPORARY,
    CLASSIFY_VERDICT_PERMANENT,
    CLASSIFY_VERDICT_COMPLAINT,
    CLASSIFY_VERDICT_COUNT
} classify_verdict;

/* Why a recipient got its reason and verdict: static strings, for
 * `classify --explain`. */
typedef struct classify_evidence {
    const char *rule;         /* the step that chose the reason */
    const char *matched;      /* the pattern or code row it matched, or NULL */
    const char *source;       /* who documents that wording, or NULL */
    bool final;               /* the wording says the address is bad whatever the code */
    bool soft;                /* the wording says the mailbox takes mail again later */
    const char *verdict_rule; /* why the verdict is what it is */
} classify_evidence;

typedef struct classify_recipient {
    char *address;        /* the address the platform mailed, lower case, as the report
                             gives it (angle brackets and the "rfc822;" type removed) */
    char *final;          /* where delivery failed when a forward changed it, or NULL */
    char *original;       /* another form of the address the report names, or NULL */
    bool valid;           /* address is a valid RFC 5321 mailbox */
    char *action;         /* "failed", "delayed", "delivered", "relayed", "expanded" */
    char status[16];      /* DSN status "5.1.1", or "" */
    char reply_code[4];   /* SMTP reply "550", or "" */
    classify_reason reason;
    bool hard;            /* the address itself is bad */
    classify_verdict verdict; /* default verdict; the policy may override it */
    char *diagnostic;     /* UTF-8, one line, or "" */
    char *remote_mta;     /* or NULL */
    char *feedback_type;  /* "abuse", "opt-out", ... for feedback reports, or NULL */
    classify_evidence evidence;
} classify_recipient;

typedef struct classify_report {
    classify_kind kind;
    const char *format;        /* name of the detector that claimed it, static */
    char *platform_address;    /* the no-reply address it was sent to, or NULL */
    char *original_sender;     /* From of the enclosed original message, or NULL */
    /* The enclosed original's Return-Path, and its To: when that names
     * exactly one mailbox (lower case), or NULL: who sent it to whom, for
     * the policy, which knows the platform, to recognise a forward. */
    char *original_return_path, *original_to;
    /* Header fields of the bounce itself, RFC 2047-decoded valid UTF-8, or NULL. */
    char *from, *to, *subject, *message_id;
    char *x_original_to, *delivered_to;
    size_t n_recipients;
    classify_recipient *recipients;
    struct classify_report_index *index; /* private to the classifier */
} classify_report;

/* At most this many recipients are read from one report; the rest are
 * passed over. No mail system reports that many for one message (Postfix
 * accepts 1,000 recipients per message by default, and sends a bounce per
 * sender), while a forged report naming a million would otherwise cost
 * memory and time in proportion. */
#define CLASSIFY_MAX_RECIPIENTS 1000

/* Classifies one message. Never returns NULL: unreadable input gives a report
 * of kind CLASSIFY_KIND_UNKNOWN. Free it with classify_report_free(). */
classify_report *classify_message(const char *data, size_t len);
void classify_report_free(classify_report *report);

const char *classify_kind_name(classify_kind kind);
const char *classify_reason_name(classify_reason reason);
/* Returns true and sets *out when name is a known reason name. */
bool classify_reason_from_name(const char *name, classify_reason *out);
const char *classify_verdict_name(classify_verdict verdict);
bool classify_verdict_from_name(const char *name, classify_verdict *out);

/* The default verdict table: hard reasons are permanent, feedback is a
 * complaint, failures caused by our own sending are ignored, and so on. */
classify_verdict classify_default_verdict(classify_reason reason);
/* True for userunknown, hostunknown, hasmoved, and for notaccept and suspend
 * (an account disabled or closed) unless a 4xx status or reply code says the
 * refusal is temporary. */
bool classify_is_hard(classify_reason reason, const char *status, const char *reply_code);

/* True when address is a valid RFC 5321 mailbox (RFC 6531 UTF-8 allowed):
 * a dot-string or quoted local part of at most 64 octets, a domain of two
 * labels or more (or an address literal), at most 254 octets in all, no
 * control characters. Anything else is recorded, never suspended or sent. */
bool classify_address_is_valid(const char *address);

/* Iterates over the messages of an mbox held in memory. When the input
 * starts with a line "From <sender> <date>" (with a hh:mm time), each such
 * line starts a message. Otherwise the input is one message, except that a
 * "From " line followed by a header block starts another (messages written
 * one after the other); what precedes it is message 0. A body line that
 * merely starts with "From " never splits a message. Start with *pos = 0; each call sets *msg and
 * *msg_len to the next message without its "From " line and returns true,
 * or returns false at the end. */
bool classify_mbox_next(const char *data, size_t len, size_t *pos, const char **msg, size_t *msg_len);

/* The report as the JSON object that `bouncedemails classify --json` prints,
 * as a newly allocated compact string. */
char *classify_report_json(const classify_report *report, const char *source, int message_index);

/* The report told for an operator: per recipient the detector, the evidence
 * (stage, codes, matched wording) and the rule that decided, with its
 * source. Newly allocated text, one or more lines. */
char *classify_explain(const classify_report *report, const char *source, int message_index);

#endif
