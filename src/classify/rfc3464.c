/*
 * rfc3464.c - standard delivery status notifications (RFC 3464, its
 * predecessor RFC 1894 and the internationalised RFC 6533 form): the
 * message/(global-)delivery-status part, or the same fields standing in the
 * text when a mail system put them there. One recipient per per-recipient
 * block; a block's diagnostic comes from Diagnostic-Code, else from the
 * lines of the MTA's own text that name the recipient.
 *
 * Real DSNs are sloppy: blocks run together without blank lines, fields are
 * folded, the address type is missing, the action is capitalised. The parser
 * therefore reads fields one by one and starts a new recipient whenever a
 * recipient field repeats, not only at blank lines.
 */
#include <string.h>
#include "classify/detectors.h"


typedef enum rfc3464_field {
    RFC3464_FINAL,
    RFC3464_ORIGINAL,
    RFC3464_ACTUAL,
    RFC3464_ACTION,
    RFC3464_STATUS,
    RFC3464_REMOTE_MTA,
    RFC3464_DIAGNOSTIC,
    RFC3464_N_FIELDS
} rfc3464_field;

static const struct {
    const char *name;
    rfc3464_field field;
} rfc3464_field_names[] = {
    { "Final-Recipient", RFC3464_FINAL },
    { "Original-Recipient", RFC3464_ORIGINAL },
    { "X-Actual-Recipient", RFC3464_ACTUAL },
    { "Action", RFC3464_ACTION },
    { "Status", RFC3464_STATUS },
    { "Remote-MTA", RFC3464_REMOTE_MTA },
    { "Diagnostic-Code", RFC3464_DIAGNOSTIC },
};

/* Action words as mail systems write them, and the RFC action they mean. */
static const struct {
    const char *word;
    const char *action;
} rfc3464_actions[] = {
    { "failed", "failed" },   { "failure", "failed" }, { "fail", "failed" },
    { "delayed", "delayed" }, { "delay", "delayed" },
    { "delivered", "delivered" }, { "deliverable", "delivered" },
    { "relayed", "relayed" }, { "expanded", "expanded" },
};

/* One per-recipient block: the fields' values, unfolded. */
typedef struct rfc3464_block {
    GString *value[RFC3464_N_FIELDS];
    bool seen[RFC3464_N_FIELDS];
} rfc3464_block;

static void
rfc3464_block_reset(rfc3464_block *b)
{
    for (int i = 0; i < RFC3464_N_FIELDS; i++) {
        g_string_truncate(b->value[i], 0);
        b->seen[i] = false;
    }
}

static bool
rfc3464_block_has_recipient(const rfc3464_block *b)
{
    return b->seen[RFC3464_FINAL] || b->seen[RFC3464_ORIGINAL];
}

/* True when a recipient field begins the next block although no blank line
 * ended this one: the field repeats, or the other recipient field came
 * before it together with the fields that follow the recipient's. */
static bool
rfc3464_starts_block(const rfc3464_block *b, rfc3464_field field)
{
    bool progressed = b->seen[RFC3464_ACTION] || b->seen[RFC3464_STATUS] || b->seen[RFC3464_DIAGNOSTIC];

    if (field == RFC3464_FINAL)
        return b->seen[RFC3464_FINAL] || (b->seen[RFC3464_ORIGINAL] && progressed);
    if (field == RFC3464_ORIGINAL)
        return b->seen[RFC3464_ORIGINAL] || (b->seen[RFC3464_FINAL] && progressed);
    return false;
}

/* Skips an RFC 3464 type prefix ("rfc822;", "smtp;", "dns;"). */
static const char *
rfc3464_skip_type(const char *v)
{
    const char *semi = strchr(v, ';');
    if (semi == NULL)
        return v;
    for (const char *p = v; p < semi; p++)
        if (*p == ' ' || *p == '@' || *p == '<')
            return v;
    semi++;
    while (*semi == ' ' || *semi == '\t')
        semi++;
    return semi;
}

static const char *
rfc3464_action(const char *v)
{
    char word[16];
    size_t n = 0;

    while (*v == ' ')
        v++;
    while (n + 1 < sizeof word && g_ascii_isalpha(v[n])) {
        word[n] = g_ascii_tolower(v[n]);
        n++;
    }
    word[n] = '\0';
    for (size_t i = 0; i < G_N_ELEMENTS(rfc3464_actions); i++)
        if (strcmp(word, rfc3464_actions[i].word) == 0)
            return rfc3464_actions[i].action;
    return NULL;
}

static int rfc3464_field_of(const char *line, const char *eol, const char **value);

/* Bounds on the work per recipient in the report's text: the bytes of a
 * paragraph read on each side of the place that names it, and the places
 * read (a bounce names a recipient a few times). */
#define RFC3464_PARAGRAPH_MAX 1024
#define RFC3464_MENTIONS_MAX 16
/* Only the first recipients of a report are looked for in its text: each
 * search reads the whole text, and no bounce for one message names more
 * (a forged one that does is not acted on by the policy). */
#define RFC3464_TEXT_RECIPIENTS 100

/* The MTA's words about one recipient around one place that names it: the
 * line, the lines above it in the same paragraph that name no other address
 * (a transcript's "mail.local: unknown user"), and the lines below it up to
 * a blank line or a line about another address. Banner lines ("----- ...")
 * are left out. */
static void
rfc3464_paragraph_at(const classify_msg *msg, const char *hit, const char **from, const char **to)
{
    const char *text = msg->text, *end = msg->text + msg->text_len;
    /* Like the lines below, the lines above are read up to
     * RFC3464_PARAGRAPH_MAX bytes: a paragraph about one recipient is
     * short, and every place that names it is read. */
    if (hit - text > RFC3464_PARAGRAPH_MAX)
        text = hit - RFC3464_PARAGRAPH_MAX;
    const char *start = hit;
    while (start > text && start[-1] != '\n')
        start--;
    while (start > text + 1 && start[-2] != '\n') {
        const char *prev = start - 1; /* the newline ending the line above */
        const char *p = prev;
        while (p > text && p[-1] != '\n')
            p--;
        const char *q = p;
        while (q < prev && (*q == ' ' || *q == '\t'))
            q++;
        if (q == prev || (prev - q >= 2 && q[0] == '-' && q[1] == '-') || memchr(p, '@', (size_t)(prev - p)))
            break;
        start = p;
    }
    const char *stop = memchr(hit, '\n', (size_t)(end - hit));
    while (stop != NULL && stop + 1 < end && stop - start < RFC3464_PARAGRAPH_MAX) {
        const char *next = stop + 1;
        const char *eol = memchr(next, '\n', (size_t)(end - next));
        if (eol == NULL)
            eol = end;
        bool blank = true;
        for (const char *p = next; p < eol && blank; p++)
            blank = *p == ' ' || *p == '\t';
        bool other = *next != ' ' && *next != '\t' && memchr(next, '@', (size_t)(eol - next)) != NULL;
        if (blank || other)
            break;
        stop = eol;
    }
    *from = start;
    *to = stop != NULL ? stop : end;
}

/* Letters and digits in s that are not part of the address: how much a
 * paragraph says beyond naming the recipient. */
static size_t
rfc3464_words(const char *s, size_t len, size_t address_len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += g_ascii_isalnum(s[i]) != 0;
    return n > address_len ? n - address_len : 0;
}

/* The diagnostic from the MTA's own text, used when the DSN gives no
 * Diagnostic-Code: of the places that name the recipient, the one that says
 * the most (the transcript rather than the bare list of addresses). */
static bool
rfc3464_diagnostic_from_text(const classify_msg *msg, classify_recipient *r)
{
    const char *end = msg->text + msg->text_len, *best_from = NULL, *best_to = NULL;
    size_t best = 0, alen = strlen(r->address), mentions = 0;

    for (const char *hit = classify_find_ci(msg->text, msg->text_len, r->address);
         hit != NULL && mentions++ < RFC3464_MENTIONS_MAX;
         hit = classify_find_ci(hit + alen, (size_t)(end - hit - alen), r->address)) {
        const char *line = hit, *value;
        while (line > msg->text && line[-1] != '\n' && hit - line < RFC3464_PARAGRAPH_MAX)
            line--;
        if (rfc3464_field_of(line, hit, &value) >= 0)
            continue; /* the DSN's own fields, standing in the text */
        const char *from, *to;
        rfc3464_paragraph_at(msg, hit, &from, &to);
        size_t words = rfc3464_words(from, (size_t)(to - from), alen);
        if (best_from == NULL || words > best) {
            best_from = from;
            best_to = to;
            best = words;
        }
    }
    if (best_from == NULL)
        return false;
    classify_recipient_set_diagnostic(r, best_from, (size_t)(best_to - best_from));
    return r->diagnostic[0] != '\0';
}

/* How the text of a report says which SMTP command the remote server
 * refused, and the command in Postfix's wording. The Diagnostic-Code alone
 * rarely says it, yet it matters: a refusal after DATA is the content's
 * fault, not the address's. */
static const struct {
    const char *phrase;
    const char *command;
} rfc3464_commands[] = {
    { ">>> data", "end of DATA" },
    { "after end of data", "end of DATA" },
    { "in reply to end of data command", "end of DATA" },
    { "in reply to data command", "DATA" },
    { ">>> rcpt to", "RCPT TO" },
    { "after rcpt to", "RCPT TO" },
    { "in reply to rcpt to command", "RCPT TO" },
    { ">>> mail from", "MAIL FROM" },
    { "after mail from", "MAIL FROM" },
    { "in reply to mail from command", "MAIL FROM" },
    /* refused at the greeting: the receiver refuses our server */
    { ">>> ehlo", "EHLO" },
    { "after ehlo", "EHLO" },
    { "in reply to ehlo command", "EHLO" },
    { ">>> helo", "HELO" },
    { "after helo", "HELO" },
    { "in reply to helo command", "HELO" },
};

/* Where needle's words stand in s, case-insensitively and whatever the
 * white space between them: report texts fold long lines ("(in reply to
 * end of DATA\n    command)"). NULL when they do not. */
static const char *
rfc3464_find_words(const char *s, size_t len, const char *needle)
{
    const char *space = strchr(needle, ' ');
    size_t first = space != NULL ? (size_t)(space - needle) : strlen(needle);
    char head[32];
    const char *end = s + len;

    if (first >= sizeof head)
        return NULL;
    memcpy(head, needle, first);
    head[first] = '\0';
    for (const char *p = s; p < end; p++) {
        p = classify_find_ci(p, (size_t)(end - p), head);
        if (p == NULL)
            return NULL;
        const char *q = p + first, *n = needle + first;
        while (*n != '\0' && q < end) {
            if (*n == ' ') {
                if (!g_ascii_isspace(*q))
                    break;
                while (q < end && g_ascii_isspace(*q))
                    q++;
                n++;
            } else if (g_ascii_tolower(*q) == *n) {
                q++;
                n++;
            } else {
                break;
            }
        }
        if (*n == '\0')
            return p;
    }
    return NULL;
}

/* The SMTP command named in s, or NULL. */
static const char *
rfc3464_command_in(const char *s, size_t len)
{
    /* Every phrase names one of these: most texts have none of them. */
    if (classify_find_ci(s, len, "data") == NULL && rfc3464_find_words(s, len, "rcpt to") == NULL &&
        rfc3464_find_words(s, len, "mail from") == NULL && classify_find_ci(s, len, "helo") == NULL &&
        classify_find_ci(s, len, "ehlo") == NULL)
        return NULL;
    for (size_t i = 0; i < G_N_ELEMENTS(rfc3464_commands); i++)
        if (rfc3464_find_words(s, len, rfc3464_commands[i].phrase) != NULL)
            return rfc3464_commands[i].command;
    return NULL;
}

/* The one SMTP command that the whole of s names, or NULL when it names
 * none or several (a Sendmail transcript that shows only ">>> DATA" refused
 * every recipient it lists at DATA). */
static const char *
rfc3464_sole_command(const char *s, size_t len)
{
    const char *command = rfc3464_command_in(s, len);

    for (size_t i = 0; command != NULL && i < G_N_ELEMENTS(rfc3464_commands); i++)
        if (strcmp(rfc3464_commands[i].command, command) != 0 &&
            rfc3464_find_words(s, len, rfc3464_commands[i].phrase) != NULL)
            return NULL;
    return command;
}

/* What the whole text of a report says of the refused command: read once
 * per report, not once per recipient. */
typedef struct rfc3464_text_command {
    bool any_read, sole_read;
    const char *any;  /* a command the text names, or NULL */
    const char *sole; /* the one command it names, or NULL */
} rfc3464_text_command;

static const char *
rfc3464_text_any_command(const classify_msg *msg, rfc3464_text_command *tc)
{
    if (!tc->any_read) {
        tc->any_read = true;
        tc->any = rfc3464_command_in(msg->text, msg->text_len);
    }
    return tc->any;
}

static const char *
rfc3464_text_sole_command(const classify_msg *msg, rfc3464_text_command *tc)
{
    if (!tc->sole_read) {
        tc->sole_read = true;
        tc->sole = rfc3464_sole_command(msg->text, msg->text_len);
    }
    return tc->sole;
}

/* Adds the refused command to a diagnostic that does not name it, from
 * the report's text: the recipient's own paragraph; else the whole text
 * when the report has one recipient, or when the whole text names one
 * command only. */
static void
rfc3464_add_command(const classify_msg *msg, classify_recipient *r, bool only_recipient,
                    rfc3464_text_command *tc)
{
    if (msg->text == NULL || rfc3464_command_in(r->diagnostic, strlen(r->diagnostic)) != NULL)
        return;
    const char *command = NULL;
    const char *hit = classify_find_ci(msg->text, msg->text_len, r->address);
    if (hit != NULL) {
        const char *stop = strstr(hit, "\n\n");
        command = rfc3464_command_in(hit, stop != NULL ? (size_t)(stop - hit) : strlen(hit));
    }
    if (command == NULL && only_recipient)
        command = rfc3464_text_any_command(msg, tc);
    else if (command == NULL)
        command = rfc3464_text_sole_command(msg, tc);
    if (command == NULL)
        return;
    char *d = g_strdup_printf("%s (in reply to %s command)", r->diagnostic, command);
    classify_recipient_set_diagnostic(r, d, strlen(d));
    g_free(d);
}

/* Where the remote server's own reply starts in a diagnostic: at the last
 * SMTP reply code followed by a status code ("550 5.7.1", "550-'5.7.1"),
 * whose status is copied to out; the last, because a reporting MTA that
 * quotes the remote reply puts it after its own ("554 4.4.7 Message
 * expired ... <421 4.4.2 Connection timed out>"). NULL when there is none. */
static const char *
rfc3464_remote_reply(const char *diag, char out[16])
{
    size_t len = strlen(diag);

    for (size_t i = len; i-- > 0;) {
        const char *p = diag + i;
        if ((p[0] != '4' && p[0] != '5') || !g_ascii_isdigit(p[1]) || !g_ascii_isdigit(p[2]) ||
            (p[3] != ' ' && p[3] != '-') || (i > 0 && g_ascii_isalnum(p[-1])))
            continue;
        const char *q = p + 4;
        while (*q == ' ' || *q == '\'' || *q == '"')
            q++;
        if (q - p <= 6 && classify_find_status(q, strnlen(q, 12), out) && q[0] == out[0])
            return p;
    }
    return NULL;
}

/* True for the codes that only give the class ("5.0.0") or that mail systems
 * put in the Status field for any give-up ("4.4.7"), not the cause. */
static bool
rfc3464_is_generic_status(const char *status)
{
    size_t n = strlen(status);
    return (n >= 4 && strcmp(status + n - 4, ".0.0") == 0) || strcmp(status + 1, ".4.7") == 0;
}

/* The Status field against the code the remote server gave in the
 * diagnostic: the remote server's is the more precise unless it is
 * generic, because the reporting MTA often sums up with its own. Some
 * reporting MTAs open the diagnostic with their own summary code and words
 * before the remote's reply (Amazon SES: "5.1.0 - Unknown address error
 * 550-'5.7.1 ... Access denied'"): then the reason is read from the
 * remote's reply alone, since the summary words name the summary code. */
static void
rfc3464_prefer_status(classify_recipient *r)
{
    char found[16];
    const char *remote = rfc3464_remote_reply(r->diagnostic, found);

    if (remote == NULL && !classify_find_status(r->diagnostic, strlen(r->diagnostic), found))
        return;
    if (r->status[0] == '\0' || !rfc3464_is_generic_status(found))
        memcpy(r->status, found, sizeof found);
    char summary[16];
    if (remote != NULL && remote != r->diagnostic &&
        classify_find_status(r->diagnostic, (size_t)(remote - r->diagnostic), summary) &&
        strncmp(r->diagnostic, summary, strlen(summary)) == 0 && strcmp(summary, found) != 0) {
        char reply[4];
        classify_find_reply_code(remote, 3, reply);
        r->reason = classify_reason_guess(r->status, reply, remote);
    }
}

/* True for a plain mailbox whose domain has a dot. */
static bool
rfc3464_is_qualified(const char *address)
{
    const char *at = strrchr(address, '@');
    if (at == NULL || at == address)
        return false;
    const char *route = strchr(address, ':');
    return (route == NULL || route > at) && *address != '@' && strchr(at, '.') != NULL;
}

/* Adds the recipient a complete block describes. */
static void
rfc3464_emit(const classify_msg *msg, classify_report *report, const rfc3464_block *b)
{
    const char *final = b->seen[RFC3464_FINAL] ? rfc3464_skip_type(b->value[RFC3464_FINAL]->str) : NULL;
    const char *orig = b->seen[RFC3464_ORIGINAL] ? rfc3464_skip_type(b->value[RFC3464_ORIGINAL]->str) : NULL;
    const char *actual = b->seen[RFC3464_ACTUAL] ? rfc3464_skip_type(b->value[RFC3464_ACTUAL]->str) : NULL;

    /* A source-routed ("@relay:user@host") or unqualified final recipient
     * is the relay's internal name: the original address is the one the
     * sender knows. */
    if (final != NULL && orig != NULL && !rfc3464_is_qualified(final) && rfc3464_is_qualified(orig)) {
        const char *swap = final;
        final = orig;
        orig = swap;
    }
    classify_recipient *r = NULL;
    const char *used = NULL;
    const char *candidates[] = { final, actual, orig };
    for (size_t i = 0; i < G_N_ELEMENTS(candidates) && r == NULL; i++) {
        if (candidates[i] != NULL && strchr(candidates[i], '@') != NULL)
            r = classify_report_add(report, used = candidates[i]);
    }
    if (r == NULL)
        return;

    /* Original-Recipient is the address the platform mailed; a forward
     * made the Final-Recipient (RFC 3464 2.3.1, 2.3.2). */
    if (used != orig && orig != NULL && rfc3464_is_qualified(orig)) {
        classify_report_forwarded(report, r, orig);
    } else if (used != actual && actual != NULL && r->original == NULL) {
        char *o = classify_find_address(actual, strlen(actual));
        if (o != NULL && strcmp(o, r->address) != 0)
            r->original = o;
        else
            g_free(o);
    }
    if (b->seen[RFC3464_ACTION]) {
        const char *action = rfc3464_action(b->value[RFC3464_ACTION]->str);
        if (action != NULL)
            classify_recipient_set_string(&r->action, action);
    }
    if (b->seen[RFC3464_STATUS]) {
        const GString *s = b->value[RFC3464_STATUS];
        classify_find_status(s->str, s->len, r->status);
    }
    const char *diag = b->seen[RFC3464_DIAGNOSTIC] ? rfc3464_skip_type(b->value[RFC3464_DIAGNOSTIC]->str) : "";
    bool local_program = b->seen[RFC3464_DIAGNOSTIC] &&
                         g_ascii_strncasecmp(b->value[RFC3464_DIAGNOSTIC]->str, "x-unix;", 7) == 0;
    if (!b->seen[RFC3464_ACTION] && r->status[0] == '2')
        classify_recipient_set_string(&r->action, "delivered");
    if (b->seen[RFC3464_REMOTE_MTA]) {
        const char *mta = rfc3464_skip_type(b->value[RFC3464_REMOTE_MTA]->str);
        if (*mta != '\0')
            classify_recipient_set_string(&r->remote_mta, mta);
    }
    if (*diag != '\0')
        classify_recipient_set_diagnostic(r, diag, strlen(diag));
    else if ((size_t)(r - report->recipients) < RFC3464_TEXT_RECIPIENTS)
        rfc3464_diagnostic_from_text(msg, r);
    rfc3464_prefer_status(r);
    classify_find_reply_code(r->diagnostic, strlen(r->diagnostic), r->reply_code);
    /* Diagnostic type X-Unix: the local delivery program (a pipe, procmail)
     * failed. Unless its words say more, that is a mailer error. */
    if (local_program) {
        classify_reason guess = classify_reason_guess(r->status, r->reply_code, r->diagnostic);
        if (guess == CLASSIFY_REASON_UNDEFINED || guess == CLASSIFY_REASON_ONHOLD)
            r->reason = CLASSIFY_REASON_MAILERERROR;
    }
}

/* Which field a line names, or -1. *value is set past the colon. */
static int
rfc3464_field_of(const char *line, const char *eol, const char **value)
{
    const char *colon = memchr(line, ':', (size_t)(eol - line));
    if (colon == NULL)
        return -1;
    size_t n = (size_t)(colon - line);
    while (n > 0 && (line[n - 1] == ' ' || line[n - 1] == '\t'))
        n--;
    for (size_t i = 0; i < G_N_ELEMENTS(rfc3464_field_names); i++) {
        const char *name = rfc3464_field_names[i].name;
        if (strlen(name) == n && g_ascii_strncasecmp(line, name, n) == 0) {
            *value = colon + 1;
            return (int)rfc3464_field_names[i].field;
        }
    }
    return -1;
}

/* Reads every field of the DSN text and adds one recipient per block.
 * Returns the number of blocks that named a recipient. */
static int
rfc3464_parse(const classify_msg *msg, classify_report *report, const char *s, size_t len)
{
    rfc3464_block b;
    int blocks = 0, field = -1;
    const char *end = s + len;

    for (int i = 0; i < RFC3464_N_FIELDS; i++)
        b.value[i] = g_string_new(NULL);
    rfc3464_block_reset(&b);

    for (const char *line = s; line < end;) {
        const char *eol = memchr(line, '\n', (size_t)(end - line));
        if (eol == NULL)
            eol = end;
        const char *value = NULL;
        bool blank = true;
        for (const char *p = line; p < eol && blank; p++)
            blank = *p == ' ' || *p == '\t';

        if (blank) {
            field = -1;
            if (rfc3464_block_has_recipient(&b)) {
                rfc3464_emit(msg, report, &b);
                blocks++;
                rfc3464_block_reset(&b);
            }
        } else if ((*line == ' ' || *line == '\t') && field >= 0) {
            g_string_append_c(b.value[field], ' ');
            g_string_append_len(b.value[field], line, eol - line);
        } else if ((field = rfc3464_field_of(line, eol, &value)) >= 0) {
            if (rfc3464_starts_block(&b, (rfc3464_field)field)) {
                rfc3464_emit(msg, report, &b);
                blocks++;
                rfc3464_block_reset(&b);
            }
            b.seen[field] = true;
            g_string_truncate(b.value[field], 0);
            g_string_append_len(b.value[field], value, eol - value);
            g_strstrip(b.value[field]->str);
            g_string_set_size(b.value[field], strlen(b.value[field]->str));
        }
        line = eol < end ? eol + 1 : end;
    }
    if (rfc3464_block_has_recipient(&b)) {
        rfc3464_emit(msg, report, &b);
        blocks++;
    }
    for (int i = 0; i < RFC3464_N_FIELDS; i++)
        g_string_free(b.value[i], TRUE);
    return blocks;
}

/* True when a line of s starts with name (a DSN field in plain text). */
static bool
rfc3464_has_field_line(const char *s, size_t len, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = classify_find_ci(s, len, name); p != NULL;
         p = classify_find_ci(p + n, len - (size_t)(p + n - s), name)) {
        if (p == s || p[-1] == '\n')
            return true;
    }
    return false;
}

bool
classify_detect_rfc3464(const classify_msg *msg, classify_report *report)
{
    if (msg->delivery_status != NULL) {
        rfc3464_parse(msg, report, msg->delivery_status, strlen(msg->delivery_status));
    } else if (msg->text != NULL &&
               rfc3464_has_field_line(msg->text, msg->text_len, "Final-Recipient:") &&
               (rfc3464_has_field_line(msg->text, msg->text_len, "Action:") ||
                rfc3464_has_field_line(msg->text, msg->text_len, "Status:"))) {
        rfc3464_parse(msg, report, msg->text, msg->text_len);
    }
    if (report->n_recipients == 0)
        return false;
    rfc3464_text_command tc = { 0 };
    for (size_t i = 0; i < report->n_recipients; i++) {
        if (i < RFC3464_TEXT_RECIPIENTS)
            rfc3464_add_command(msg, &report->recipients[i], report->n_recipients == 1, &tc);
    }
    report->kind = CLASSIFY_KIND_BOUNCE;
    return true;
}
