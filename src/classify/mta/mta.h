/*
 * mta.h - what the mail-system detectors in src/classify/mta/ share: the
 * layout scanner that most non-DSN bounces fit.
 *
 * Nearly every mail system lays out its own bounce the same way: some prose,
 * a marker line that introduces the failed recipients ("The following
 * address(es) failed:"), one block per recipient made of a line that starts
 * with the address and the lines of error text under it, and a marker line
 * after which the returned original message is quoted. A detector describes
 * its system as an mta_layout (data) and lets mta_parse() cut the bounce's
 * own part out and read the blocks, so that no recipient is ever taken from
 * the quoted original. Detectors whose layout does not fit use the smaller
 * helpers directly.
 */
#ifndef BOUNCEDEMAILS_CLASSIFY_MTA_H
#define BOUNCEDEMAILS_CLASSIFY_MTA_H

#include "classify/classify_internal.h"

/* No bounce names more recipients than this; a text that seems to is not a
 * bounce list, and stopping there keeps hostile input linear. */
#define MTA_MAX_RECIPIENTS 1000

/* A byte range inside the message's text. */
typedef struct mta_span {
    const char *p;
    size_t len;
} mta_span;

/* How a line that opens a recipient block may look, after leading blanks, an
 * optional prefix from the layout's list, and an optional quote or '<'. */
enum {
    MTA_RCPT_BARE = 1 << 0,     /* the address alone on its line ("addr", "<addr>:") */
    MTA_RCPT_COLON = 1 << 1,    /* "<addr>: error text" */
    MTA_RCPT_DOTS = 1 << 2,     /* "<addr>... error text" (sendmail style) */
    MTA_RCPT_TEXT = 1 << 3,     /* "addr error text": the address, blanks, text */
    MTA_RCPT_CODE = 1 << 4,     /* an SMTP reply code may stand before the address
                                   ("554 <addr>... error", sendmail's transcript) */
    MTA_RCPT_COL0 = 1 << 5,     /* the line starts at its first column: indented
                                   lines continue the error text */
    MTA_RCPT_PREFIXED = 1 << 6, /* the line must start with one of the layout's
                                   prefixes; the address is the first one after
                                   it and the whole line is error text */
    MTA_DIAG_BEFORE = 1 << 7,   /* the error text stands above the addresses
                                   (it applies to every recipient) */
    MTA_DIAG_TRANSCRIPT = 1 << 8, /* a session transcript ("While talking to
                                   host:", ">>> command", "<<< reply", a
                                   host's summary "550 host (smtp)... text")
                                   stands above the recipient line it ends
                                   in and is that recipient's error text */
};

/* The SMTP command a failure answered, as the error text words it. */
typedef enum mta_command {
    MTA_COMMAND_NONE = 0,
    MTA_COMMAND_CONN,
    MTA_COMMAND_EHLO,
    MTA_COMMAND_MAIL,
    MTA_COMMAND_RCPT,
    MTA_COMMAND_DATA,
} mta_command;

/* The command named first in the text, or MTA_COMMAND_NONE. */
mta_command mta_find_command(const char *text, size_t len);

/* A wording of the system's own that names a reason more precisely than
 * the generic reason table would. */
typedef struct mta_reason_rule {
    const char *text;        /* matched case-insensitively in the diagnostic */
    classify_reason reason;
} mta_reason_rule;

typedef struct mta_layout {
    const char *const *begin;   /* a line holding one of these opens the bounce's
                                   own part (NULL: the text's start) */
    const char *const *end;     /* a line holding one of these opens the quoted
                                   original (NULL: the common markers) */
    const char *const *prefix;  /* optional words before the address (">>>") */
    const char *const *delayed; /* wording that says delivery is only delayed */
    const mta_reason_rule *reasons; /* terminated by { NULL, 0 } */
    const mta_reason_rule *notice;  /* same, matched in the whole notice above the
                                       quoted original, for what it says once for
                                       every recipient ("was aborted after 5 hours") */
    int command;                    /* the mta_command its failures answer when
                                       the text does not say (0: unknown) */
    unsigned flags;
} mta_layout;

/* A mail system whose bounce fits a layout once its signature is seen: every
 * list given must have one of its strings in the field (case-insensitive);
 * the text list is looked for in the text's first 2 KB. */
typedef struct mta_system {
    const char *const *from;
    const char *const *subject;
    const char *const *text;
    mta_layout layout;
} mta_system;

/* The detector for a system described by data. */
bool mta_detect_system(const mta_system *sys, const classify_msg *msg, classify_report *report);

/* NULL-terminated marker lists shared by several systems. */
extern const char *const mta_end_common[];

/* True when s holds one of the NULL-terminated list's strings, ignoring case. */
bool mta_any(const char *s, const char *const *list);
/* The earliest place in a byte range where one of the list's strings
 * stands, ignoring ASCII case, or NULL. */
const char *mta_find_any(const char *s, size_t len, const char *const *list);
/* True when one of the list's strings stands in the range (stops at the
 * first found: cheaper than mta_find_any when the place does not matter). */
bool mta_has_any(const char *s, size_t len, const char *const *list);

/* Cuts the bounce's own part out of msg->text: from the line after the first
 * begin marker to the line holding the first end marker after it. False when
 * the text is empty or no begin marker is found. */
bool mta_section(const classify_msg *msg, const char *const *begin,
                 const char *const *end, mta_span *out);

/* Reads the recipient blocks of a layout; returns how many recipients it
 * added. Sets the report's kind to bounce when it adds any. */
size_t mta_parse(const classify_msg *msg, classify_report *report, const mta_layout *layout);

/* Reads recipient blocks in an already cut section. */
size_t mta_parse_span(classify_report *report, mta_span sec, const mta_layout *layout);

/* Adds one recipient with its error text: the diagnostic, the status and
 * reply codes it gives, and the layout's reason rules. A "user unknown" that
 * answered no RCPT command and carries no X.1.x status is a content filter's
 * refusal (filtered); an unknown user or domain answered to MAIL FROM is our
 * sender's (rejected). NULL when the address is implausible or the report
 * already holds MTA_MAX_RECIPIENTS. */
classify_recipient *mta_add(classify_report *report, const char *address,
                            const char *diag, size_t diag_len, const mta_layout *layout);


/* Moves a leading "(expanded from <alias>)" of each diagnostic (Postfix,
 * Sendmail) into the recipient's original address. */
void mta_take_expanded(classify_report *report);

/* Removes a routing prefix that mail systems write before an SMTP address
 * (Exchange's "SMTP=" or "smtp:") in place; returns addr (NULL stays NULL). */
char *mta_strip_route(char *addr);

/* The address that a recipient line of the given flags opens, or NULL. On
 * success *rest points past the address and its separator. Newly allocated. */
char *mta_rcpt_line(const char *line, size_t len, const mta_layout *layout, size_t *rest);

#endif
