/*
 * reason.c - the reason tables: which failure a recipient's status code,
 * reply code and diagnostic text describe, whether that failure makes the
 * address itself bad, and the default verdict for each reason.
 *
 * Everything here is constant data read by pure functions, so the classifier
 * stays thread-safe without locks.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "classify/classify_internal.h"

static const char *const reason_names[CLASSIFY_REASON_COUNT] = {
#define REASON_NAME(id, name) [CLASSIFY_REASON_##id] = name,
    CLASSIFY_REASONS(REASON_NAME)
#undef REASON_NAME
};

const char *
classify_reason_name(classify_reason reason)
{
    if ((unsigned)reason >= CLASSIFY_REASON_COUNT)
        return reason_names[CLASSIFY_REASON_UNDEFINED];
    return reason_names[reason];
}

bool
classify_reason_from_name(const char *name, classify_reason *out)
{
    if (name == NULL)
        return false;
    for (int i = 0; i < CLASSIFY_REASON_COUNT; i++) {
        if (strcmp(name, reason_names[i]) == 0) {
            *out = (classify_reason)i;
            return true;
        }
    }
    return false;
}

classify_verdict
classify_default_verdict(classify_reason reason)
{
    switch (reason) {
    case CLASSIFY_REASON_USERUNKNOWN:
    case CLASSIFY_REASON_HOSTUNKNOWN:
    case CLASSIFY_REASON_HASMOVED:
    case CLASSIFY_REASON_NOTACCEPT:
        return CLASSIFY_VERDICT_PERMANENT;
    case CLASSIFY_REASON_FEEDBACK:
        return CLASSIFY_VERDICT_COMPLAINT;
    case CLASSIFY_REASON_VACATION:
    case CLASSIFY_REASON_DELIVERED:
    case CLASSIFY_REASON_BLOCKED:
    case CLASSIFY_REASON_SPAMDETECTED:
    case CLASSIFY_REASON_POLICYVIOLATION:
    case CLASSIFY_REASON_BADREPUTATION:
    case CLASSIFY_REASON_REJECTED:
    case CLASSIFY_REASON_NORELAYING:
    case CLASSIFY_REASON_SECURITYERROR:
    case CLASSIFY_REASON_AUTHFAILURE:
    case CLASSIFY_REASON_REQUIREPTR:
    case CLASSIFY_REASON_NOTCOMPLIANTRFC:
    case CLASSIFY_REASON_VIRUSDETECTED:
    case CLASSIFY_REASON_CONTENTERROR:
    case CLASSIFY_REASON_SYNTAXERROR:
    case CLASSIFY_REASON_SPEEDING:
        return CLASSIFY_VERDICT_IGNORE;
    default:
        return CLASSIFY_VERDICT_TEMPORARY;
    }
}

bool
classify_is_hard(classify_reason reason, const char *status, const char *reply_code)
{
    switch (reason) {
    case CLASSIFY_REASON_USERUNKNOWN:
    case CLASSIFY_REASON_HOSTUNKNOWN:
    case CLASSIFY_REASON_HASMOVED:
        return true;
    case CLASSIFY_REASON_NOTACCEPT:
        return (status != NULL && status[0] == '5') ||
               (reply_code != NULL && reply_code[0] == '5');
    default:
        return false;
    }
}

struct reason_code {
    const char *code;
    classify_reason reason;
};

static const struct reason_code reason_status_codes[] = {
    {"5.1.1", CLASSIFY_REASON_USERUNKNOWN},
    {"5.1.2", CLASSIFY_REASON_HOSTUNKNOWN},
    {"5.2.2", CLASSIFY_REASON_MAILBOXFULL},
    {"5.3.4", CLASSIFY_REASON_MESGTOOBIG},
    {"5.7.26", CLASSIFY_REASON_AUTHFAILURE},
};

struct reason_patterns {
    classify_reason reason;
    const char *const *patterns;
};

static const char *const pat_userunknown[] = {
    "user unknown", "unknown user", "no such user", "recipient not found", NULL,
};
static const char *const pat_mailboxfull[] = {
    "mailbox full", "mailbox is full", "quota exceeded", "over quota", NULL,
};

static const struct reason_patterns reason_order[] = {
    {CLASSIFY_REASON_MAILBOXFULL, pat_mailboxfull},
    {CLASSIFY_REASON_USERUNKNOWN, pat_userunknown},
};

static classify_reason
reason_from_status(const char *status)
{
    for (size_t i = 0; i < sizeof reason_status_codes / sizeof reason_status_codes[0]; i++)
        if (strcmp(status, reason_status_codes[i].code) == 0)
            return reason_status_codes[i].reason;
    return CLASSIFY_REASON_UNDEFINED;
}

classify_reason
classify_reason_guess(const char *status, const char *reply_code, const char *diagnostic)
{
    (void)reply_code;
    if (diagnostic != NULL) {
        char buf[1024];
        size_t len = strlen(diagnostic);
        if (len >= sizeof buf)
            len = sizeof buf - 1;
        for (size_t i = 0; i < len; i++)
            buf[i] = (char)tolower((unsigned char)diagnostic[i]);
        for (size_t i = 0; i < sizeof reason_order / sizeof reason_order[0]; i++)
            for (const char *const *p = reason_order[i].patterns; *p != NULL; p++)
                if (memmem(buf, len, *p, strlen(*p)) != NULL)
                    return reason_order[i].reason;
    }
    if (status != NULL)
        return reason_from_status(status);
    return CLASSIFY_REASON_UNDEFINED;
}
