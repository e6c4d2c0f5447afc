/*
 * reason.c - the reason tables: which failure a recipient's status code,
 * reply code and diagnostic text describe, whether that failure makes the
 * address itself bad, and the default verdict for each reason.
 *
 * How a reason is chosen, in this order:
 *   1. decisive wording: error tokens that large receivers put in their
 *      replies (Orange's "OFR_416", Facebook's "RCP-P2", GoDaddy's "IB607")
 *      and a few phrases that are never about the address ("too many
 *      recipients this hour") name the failure more exactly than any code;
 *   2. a specific status code (5.1.1, 5.2.2, 5.7.26, ...) decides, unless the
 *      wording names one of the failures that the code's own row says may
 *      overrule it ("5.1.1 ... mailbox is over quota");
 *   3. otherwise the wording decides: one pattern table per reason, tried in
 *      the precedence order of reason_order[] (an unknown user refused only
 *      after DATA is a content filter: filtered);
 *   4. otherwise a generic status code's fallback (5.7.x securityerror,
 *      4.4.x expired);
 *   5. otherwise catch-all wording ("access denied", "connection refused"),
 *      which never makes a temporary failure a bad address;
 *   6. otherwise the reply code's fallback (551 hasmoved, 521 notaccept);
 *   7. otherwise onhold when there was text to read, undefined when not.
 *
 * Patterns are lower case and matched against the lower-cased diagnostic
 * with runs of white space folded to one space. A '*' in a pattern stands for
 * any text in between, so "user * does not exist" is one line, not a branch.
 * The tables are constant; the index over them is built once, on first use,
 * and only read afterwards, so a guess is safe from any thread.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "classify/classify_internal.h"

#define R(id) CLASSIFY_REASON_##id
#define BIT(id) (UINT64_C(1) << CLASSIFY_REASON_##id)
#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* Longer diagnostics are read up to this many bytes; the cause of a failure
 * is stated near the start of a reply, and the rest is usually a URL or a
 * dump of internal error codes. */
#define REASON_TEXT_MAX 4096

/* ---------------------------------------------------------------- names */

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

/* ------------------------------------------------------ verdict and hard */

/* Failures caused by our own sending (reputation, authentication, content)
 * are ignored: the address is fine, and suspending it would punish the user
 * for our mail server's standing. */
static const classify_verdict reason_verdicts[CLASSIFY_REASON_COUNT] = {
    [R(UNDEFINED)] = CLASSIFY_VERDICT_TEMPORARY,
    [R(USERUNKNOWN)] = CLASSIFY_VERDICT_PERMANENT,
    [R(HOSTUNKNOWN)] = CLASSIFY_VERDICT_PERMANENT,
    [R(HASMOVED)] = CLASSIFY_VERDICT_PERMANENT,
    [R(NOTACCEPT)] = CLASSIFY_VERDICT_PERMANENT,
    [R(MAILBOXFULL)] = CLASSIFY_VERDICT_TEMPORARY,
    [R(EXCEEDLIMIT)] = CLASSIFY_VERDICT_IGNORE,
    [R(MESGTOOBIG)] = CLASSIFY_VERDICT_IGNORE,
    [R(SUSPEND)] = CLASSIFY_VERDICT_TEMPORARY,
    [R(EXPIRED)] = CLASSIFY_VERDICT_TEMPORARY,
    [R(NETWORKERROR)] = CLASSIFY_VERDICT_TEMPORARY,
    [R(SYSTEMERROR)] = CLASSIFY_VERDICT_TEMPORARY,
    [R(SYSTEMFULL)] = CLASSIFY_VERDICT_TEMPORARY,
    [R(TOOMANYCONN)] = CLASSIFY_VERDICT_IGNORE,
    [R(MAILERERROR)] = CLASSIFY_VERDICT_TEMPORARY,
    [R(BLOCKED)] = CLASSIFY_VERDICT_IGNORE,
    [R(SPAMDETECTED)] = CLASSIFY_VERDICT_IGNORE,
    [R(POLICYVIOLATION)] = CLASSIFY_VERDICT_IGNORE,
    [R(BADREPUTATION)] = CLASSIFY_VERDICT_IGNORE,
    [R(REJECTED)] = CLASSIFY_VERDICT_IGNORE,
    [R(NORELAYING)] = CLASSIFY_VERDICT_IGNORE,
    [R(SECURITYERROR)] = CLASSIFY_VERDICT_IGNORE,
    [R(AUTHFAILURE)] = CLASSIFY_VERDICT_IGNORE,
    [R(REQUIREPTR)] = CLASSIFY_VERDICT_IGNORE,
    [R(NOTCOMPLIANTRFC)] = CLASSIFY_VERDICT_IGNORE,
    [R(VIRUSDETECTED)] = CLASSIFY_VERDICT_IGNORE,
    [R(CONTENTERROR)] = CLASSIFY_VERDICT_IGNORE,
    [R(FILTERED)] = CLASSIFY_VERDICT_IGNORE,
    [R(SYNTAXERROR)] = CLASSIFY_VERDICT_IGNORE,
    [R(SPEEDING)] = CLASSIFY_VERDICT_IGNORE,
    [R(ONHOLD)] = CLASSIFY_VERDICT_TEMPORARY,
    [R(FEEDBACK)] = CLASSIFY_VERDICT_COMPLAINT,
    [R(VACATION)] = CLASSIFY_VERDICT_IGNORE,
    [R(DELIVERED)] = CLASSIFY_VERDICT_IGNORE,
};

classify_verdict
classify_default_verdict(classify_reason reason)
{
    if ((unsigned)reason >= CLASSIFY_REASON_COUNT)
        return CLASSIFY_VERDICT_TEMPORARY;
    return reason_verdicts[reason];
}

static bool
reason_is_temporary(const char *status, const char *reply_code)
{
    return (status != NULL && status[0] == '4') || (reply_code != NULL && reply_code[0] == '4');
}

bool
classify_is_hard(classify_reason reason, const char *status, const char *reply_code)
{
    switch (reason) {
    case R(USERUNKNOWN):
    case R(HASMOVED):
        return true;
    case R(HOSTUNKNOWN):
        /* "Host not found, try again" (Postfix 4.4.3), an unresolvable
         * domain at RCPT (Postfix 450 4.1.2): DNS may answer later
         * (smtp-replies 4.25) */
    case R(NOTACCEPT):
    case R(SUSPEND):
        /* A null MX, "does not accept mail", an account disabled or
         * closed: final unless a code says it is temporary. A failure
         * report that gives no code at all (the reporting MTA's own "no
         * SMTP service here", qmail's "account is locked") is final. */
        return !reason_is_temporary(status, reply_code);
    default:
        return false;
    }
}

/* ------------------------------------------------------- wording tables */

/* 1. Decisive wording: provider error tokens and phrases exact enough to
 * overrule any status code. The first line to match wins. */
struct reason_token {
    const char *pattern;
    classify_reason reason;
};

static const struct reason_token reason_provider_tokens[] = {
    /* Orange / France Telecom (OFR_nnn, LPNnnn_nnn) */
    {"ofr_416", R(USERUNKNOWN)},
    {"ofr_506", R(SPAMDETECTED)},
    {"ofr005_505", R(SYSTEMERROR)},
    {"lpn007_426", R(SUSPEND)},
    {"lpn000_630", R(POLICYVIOLATION)},
    {"ofr_999", R(BLOCKED)},
    /* Facebook recipient policy codes */
    {"rcp-p1", R(USERUNKNOWN)},
    {"rcp-p2", R(FILTERED)},
    {"rcp-p3", R(FILTERED)},
    /* GoDaddy / secureserver.net */
    {"ib401", R(REJECTED)},
    {"ib501", R(BLOCKED)},
    {"ib506", R(REJECTED)},
    {"ib508", R(REJECTED)},
    {"ib510", R(TOOMANYCONN)},
    {"ib512", R(SPAMDETECTED)},
    {"ib605", R(SPAMDETECTED)},
    {"ib607", R(SPEEDING)},
    {"ib705", R(VIRUSDETECTED)},
    /* Cox acceptable-use codes */
    {"aup#cdrbl", R(BLOCKED)},
    {"aup#cxbl", R(BLOCKED)},
    {"aup#rbl", R(BLOCKED)},
    {"aup#cxdns", R(REQUIREPTR)},
    {"aup#cxcnct", R(TOOMANYCONN)},
    {"aup#cxmxrt", R(TOOMANYCONN)},
    {"aup#cxsndr", R(REJECTED)},
    {"aup#cxsmtp", R(REJECTED)},
    /* Spectrum / Charter incoming codes */
    {"aup#in-1000", R(BLOCKED)},
    {"aup#in-1260", R(BLOCKED)},
    {"aup#in-1300", R(TOOMANYCONN)},
    {"aup#in-1310", R(TOOMANYCONN)},
    {"aup#in-1320", R(TOOMANYCONN)},
    {"aup#in-1330", R(TOOMANYCONN)},
    /* Yahoo: deferral and block codes; unknown users are refused at the
     * end of DATA, which is not a content filter there */
    {"[tss04]", R(BADREPUTATION)},
    {"[tsm01]", R(SPAMDETECTED)},
    {"[tss09]", R(BLOCKED)},
    {"[bl21]", R(BLOCKED)},
    {"[bl22]", R(BLOCKED)},
    {"[bl23]", R(BLOCKED)},
    {"this user doesn't have a", R(USERUNKNOWN)},
    /* Microsoft / Outlook.com */
    {"ip reputation", R(BADREPUTATION)},
    {"limits for how many messages can be sent", R(TOOMANYCONN)},
    /* Tencent QQ */
    {"ip frequency limited", R(TOOMANYCONN)},
    {"connection frequency limited", R(TOOMANYCONN)},
    {"domain frequency limited", R(TOOMANYCONN)},
    /* Mimecast */
    {"host network not allowed", R(POLICYVIOLATION)},
    {"mcspamsignature", R(VIRUSDETECTED)},
    /* wording that is never about the address, whatever the code says */
    {"too many recipients this hour", R(SPEEDING)},
    {"sent too many messages this hour", R(SPEEDING)},
    {"procmail: ", R(MAILERERROR)},
    {"my name was rejected", R(BLOCKED)},
    {"but greeting failed", R(BLOCKED)},
    {"throttling failure", R(TOOMANYCONN)},
    {"sending quota exceeded", R(TOOMANYCONN)},
    {"unusual rate of unsolicited mail", R(BLOCKED)},
};

/* 1b. Documented wording, each row with who documents it (sections of
 * ../shared/reference/smtp-replies.md, which cites the providers' and MTAs'
 * own pages and sources): replies whose meaning their emitter states, so
 * that they decide against any status or reply code. The first row to match
 * wins. 'weight' says what the row makes of the address beyond its reason:
 * RULE_FINAL, bad whatever the code says (Google reports its DNS verdicts as
 * "4.0.0" with action failed); RULE_SOFT, never bad, the mailbox comes back
 * (a frozen or rate-limited mailbox under a 5xx). */
enum rule_weight { RULE_BY_REASON = 0, RULE_FINAL, RULE_SOFT };

struct reason_rule {
    const char *pattern;
    classify_reason reason;
    enum rule_weight weight;
    const char *source;
};

static const struct reason_rule reason_documented[] = {
    /* our own sender's domain or host, which a receiver names beside words
     * that would otherwise be about the recipient */
    {"sender address rejected: domain * does not accept mail", R(REJECTED), RULE_BY_REASON,
     "Postfix 550 5.7.27 sender nullMX (smtp-replies 3.1)"},
    {"helo command rejected", R(BLOCKED), RULE_BY_REASON, "Postfix smtpd HELO restrictions (smtp-replies 3.1)"},
    {"sender denied", R(REJECTED), RULE_BY_REASON, "Microsoft 5.1.0 'Sender denied' (smtp-replies 2.2, 3.5)"},
    {"excessive unknown recipients", R(BLOCKED), RULE_BY_REASON,
     "Yahoo 451 VS1-MF / 5xx: our server sent to too many unknown users (smtp-replies 2.4)"},
    {"vs99-ip1", R(BLOCKED), RULE_BY_REASON, "Yahoo 553 VS99-IP1 (smtp-replies 2.4)"},
    {"mail from * not allowed", R(BLOCKED), RULE_BY_REASON, "Yahoo 553 'Mail from x.x.x.x not allowed' (smtp-replies 2.4)"},
    /* the recipient domain does not exist or takes no mail */
    {"responded with code nxdomain", R(HOSTUNKNOWN), RULE_FINAL,
     "Google DNS Error: the MX lookup answered NXDOMAIN (smtp-replies 2.1; RFC 3463 X.1.2)"},
    {"lookup of * had no relevant answers", R(HOSTUNKNOWN), RULE_FINAL,
     "Google DNS Error: no MX and no address record (RFC 3463 X.4.4: DNS answers only SOA)"},
    {"doesn't receive email according to the administrator", R(NOTACCEPT), RULE_FINAL,
     "Google DNS Error: the domain publishes a Null MX (RFC 7505; smtp-replies 0, X.1.10)"},
    {"recipient address rejected: domain * does not accept mail", R(NOTACCEPT), RULE_FINAL,
     "Postfix 556 5.1.10 recipient nullMX (smtp-replies 3.1; RFC 7505)"},
    {"dns: no such domain", R(HOSTUNKNOWN), RULE_FINAL, "Yandex list of non-existent addresses (smtp-replies 2.11)"},
    {"no route found to domain", R(HOSTUNKNOWN), RULE_BY_REASON, "HCL Domino router (smtp-replies 3.8)"},
    {"reserved by rfc 2606", R(HOSTUNKNOWN), RULE_FINAL, "Exchange Server 5.1.5 (smtp-replies 3.5)"},
    /* an unknown or malformed recipient whatever the code: the text decides
     * (smtp-replies 4.1) */
    {"no such user!", R(USERUNKNOWN), RULE_BY_REASON, "Yandex 550 5.7.1 'No such user!' (smtp-replies 4.1)"},
    {"recipient address rejected: unverified address", R(USERUNKNOWN), RULE_SOFT,
     "Postfix 450 4.1.1: the address probe failed for now (smtp-replies 3.1)"},
    {"recipient address rejected: user unknown", R(USERUNKNOWN), RULE_BY_REASON,
     "Postfix smtpd: User unknown in local/virtual recipient table (smtp-replies 3.1, 4.2)"},
    {"the email account that you tried to reach does not exist", R(USERUNKNOWN), RULE_BY_REASON,
     "Google 550 5.1.1 (smtp-replies 2.1)"},
    {"banned recipient", R(USERUNKNOWN), RULE_BY_REASON, "Microsoft 5.7.505 (smtp-replies 2.2, 4.29)"},
    {"need fully-qualified address", R(USERUNKNOWN), RULE_BY_REASON,
     "Postfix reject_non_fqdn_recipient, Yandex (smtp-replies 2.11, 3.1)"},
    {"bad recipient address syntax", R(USERUNKNOWN), RULE_BY_REASON, "Yandex (smtp-replies 2.11)"},
    {"bad address mailbox syntax", R(USERUNKNOWN), RULE_BY_REASON, "Yandex (smtp-replies 2.11)"},
    {"no correct recipients", R(USERUNKNOWN), RULE_BY_REASON, "Yandex (smtp-replies 2.11)"},
    {"bad address syntax", R(USERUNKNOWN), RULE_BY_REASON, "Tencent QQ 501 (smtp-replies 2.12)"},
    {"\xe8\xaf\xa5\xe7\x94\xa8\xe6\x88\xb7\xe4\xb8\x8d\xe5\xad\x98\xe5\x9c\xa8", R(USERUNKNOWN), RULE_BY_REASON,
     "Tencent QQ NDR: the user does not exist (smtp-replies 2.12)"},
    {"\xe8\xaf\xa5\xe7\x94\xa8\xe6\x88\xb7\xe6\x9c\xaa\xe5\xbc\x80\xe9\x80\x9a", R(USERUNKNOWN), RULE_BY_REASON,
     "Tencent QQ NDR: the user has no mailbox (smtp-replies 2.12)"},
    /* an account disabled or closed for good, or only for a time */
    {"the email account that you tried to reach is disabled", R(SUSPEND), RULE_BY_REASON,
     "Google 550 5.2.1 DisabledUser, older wording (smtp-replies 2.1)"},
    {"the email account that you tried to reach is inactive", R(SUSPEND), RULE_BY_REASON,
     "Google 550 5.2.1 DisabledUser (smtp-replies 2.1, 4.4)"},
    {"account has been disabled or discontinued", R(SUSPEND), RULE_BY_REASON,
     "Yahoo 554 'dd This account has been disabled or discontinued' (smtp-replies 2.4)"},
    {"mailbox unavailable or access denied", R(SUSPEND), RULE_SOFT,
     "Tencent QQ 550: mailbox frozen or inactive for now (smtp-replies 2.12)"},
    {"policy rejection on the target address", R(SUSPEND), RULE_SOFT,
     "Yandex: the account is blocked and its owner can unblock it (smtp-replies 2.11, 4.13)"},
    /* the mailbox exists but receives too fast: it takes mail again later */
    {"receiving email at a rate that prevents additional messages", R(MAILBOXFULL), RULE_SOFT,
     "Google 550 5.2.1 (smtp-replies 2.1, 4.4, 4.7)"},
    {"receiving email too quickly", R(MAILBOXFULL), RULE_SOFT, "Google 450 4.2.1 (smtp-replies 2.1)"},
    /* refusals of our message or our server, whatever code they carry */
    {"mail rejected by destination domain", R(FILTERED), RULE_BY_REASON,
     "Zoho 541 5.4.1: the recipient domain's own filters (smtp-replies 2.14)"},
    {"mailbox delivery restricted by policy error", R(FILTERED), RULE_BY_REASON, "Zoho 452 (smtp-replies 2.14)"},
    {"mailbox delivery failure policy error", R(POLICYVIOLATION), RULE_BY_REASON,
     "Zoho 552 5.1.1: a policy reject carrying 5.1.1 (smtp-replies 2.14, 4.12)"},
    {"subject is mandatory", R(CONTENTERROR), RULE_BY_REASON, "ZeptoMail 5.2.1 (smtp-replies 2.14, 4.4)"},
    {"reject due to policy restriction", R(POLICYVIOLATION), RULE_BY_REASON,
     "GMX/WEB.DE/1&1: the last line decides over 'mailbox unavailable' (smtp-replies 2.7, 4.8)"},
    {"the same message-id", R(SPEEDING), RULE_BY_REASON, "Google 4.7.28 (smtp-replies 2.1)"},
    {"sender id validation failure", R(AUTHFAILURE), RULE_BY_REASON, "Outlook.com 550 (smtp-replies 2.3)"},
    {"sc-001", R(BLOCKED), RULE_BY_REASON, "Outlook.com SC-001 policy block (smtp-replies 2.3, 4.17)"},
    {"sc-002", R(BLOCKED), RULE_BY_REASON, "Outlook.com SC-002 namespace mining (smtp-replies 2.3)"},
    {"sc-003", R(BLOCKED), RULE_BY_REASON, "Outlook.com SC-003 open proxy/relay (smtp-replies 2.3)"},
    {"sc-004", R(BLOCKED), RULE_BY_REASON, "Outlook.com SC-004 complaints (smtp-replies 2.3)"},
    {"dy-001", R(BLOCKED), RULE_BY_REASON, "Outlook.com DY-001 dynamic IP (smtp-replies 2.3)"},
    {"ou-002", R(BLOCKED), RULE_BY_REASON, "Outlook.com OU-002 reputation (smtp-replies 2.3)"},
    {"rp-001", R(SPEEDING), RULE_BY_REASON, "Outlook.com RP-001 rate limit (smtp-replies 2.3)"},
    {"rp-002", R(SPEEDING), RULE_BY_REASON, "Outlook.com RP-002 rate limit (smtp-replies 2.3)"},
    {"rp-003", R(TOOMANYCONN), RULE_BY_REASON, "Outlook.com RP-003 connection limit (smtp-replies 2.3)"},
    {"dialup/transient ip not allowed", R(BLOCKED), RULE_BY_REASON, "T-Online (DIAL) (smtp-replies 2.9)"},
    {"email reputation database", R(BADREPUTATION), RULE_BY_REASON, "Trend Micro ERS (smtp-replies 2.15)"},
    {"refused by rbl-plus", R(BLOCKED), RULE_BY_REASON, "Trend Micro RBL+ (smtp-replies 2.15)"},
    {"not listed as mta", R(BLOCKED), RULE_BY_REASON, "Sendmail (smtp-replies 3.3)"},
    {"reject due to spf policy", R(AUTHFAILURE), RULE_BY_REASON, "GMX/WEB.DE SPF reject (smtp-replies 2.7)"},
    {"sender was not authenticated", R(AUTHFAILURE), RULE_BY_REASON,
     "Microsoft 5.7.13 public folder (smtp-replies 2.2)"},
    {"under suspicion of spam", R(SPAMDETECTED), RULE_BY_REASON, "Yandex (smtp-replies 2.11)"},
    {"mail is rejected by recipients", R(FILTERED), RULE_BY_REASON,
     "Tencent QQ: the recipient's own blacklist (smtp-replies 2.12, 4.11)"},
    {"fake sender", R(REJECTED), RULE_BY_REASON, "NetEase/Coremail (smtp-replies 2.13)"},
    {"ip is rejected", R(BLOCKED), RULE_BY_REASON, "NetEase/Coremail (smtp-replies 2.13)"},
    {"sender address blocked", R(REJECTED), RULE_BY_REASON, "Mimecast 421 (smtp-replies 2.15)"},
    {"blocked rejecting spoofed message", R(BLOCKED), RULE_BY_REASON, "Barracuda 550 (smtp-replies 2.15)"},
    {"due to suspect content", R(SPAMDETECTED), RULE_BY_REASON, "Barracuda 420 (smtp-replies 2.15)"},
    {"access to send e-mail is refused", R(BLOCKED), RULE_BY_REASON, "Cisco HAT (smtp-replies 2.15, 4.11)"},
    {"postmaster verification failed", R(REJECTED), RULE_BY_REASON,
     "Exim: our sender's postmaster failed the receiver's callout (smtp-replies 3.2)"},
    {"callback setup failed", R(REJECTED), RULE_BY_REASON, "Exim sender callout (smtp-replies 3.2)"},
    {"smtp synchronization error", R(NOTCOMPLIANTRFC), RULE_BY_REASON, "Exim (smtp-replies 3.2)"},
    {"docs/smtplf.html", R(NOTCOMPLIANTRFC), RULE_BY_REASON, "qmail: bare LF in our SMTP (smtp-replies 3.4)"},
    {"unresolvable rfc.5321", R(REJECTED), RULE_BY_REASON, "Yahoo: our sender domain does not resolve (smtp-replies 2.4)"},
    {"service refuse", R(BLOCKED), RULE_BY_REASON, "Orange OFR004_105 / OFR_108 (smtp-replies 2.8)"},
    {"zu viele e-mails in zu kurzer zeit", R(SPEEDING), RULE_BY_REASON, "GMX/WEB.DE rate limit (smtp-replies 2.7)"},
    {"aus administrativen gr", R(BLOCKED), RULE_BY_REASON, "GMX/WEB.DE administrative block (smtp-replies 2.7)"},
    {"rate limit reached", R(SPEEDING), RULE_BY_REASON, "GMX/1&1 421 (smtp-replies 2.7)"},
    {"too many sessions opened", R(TOOMANYCONN), RULE_BY_REASON, "Comcast 421 (smtp-replies 2.6)"},
    {"no smtp service here", R(BLOCKED), RULE_BY_REASON,
     "RFC 5321 3.1: a 554 greeting refuses our server (smtp-replies 0, 4.18)"},
};

/* 3. One table per reason, in no particular order within a table. */
static const char *const pat_userunknown[] = {
    "#5.1.1 bad address",
    "550 address invalid",
    "address does not exist",
    "address not present in directory",
    "address unknown",
    "address*couldn't be found",
    "address*could not be found",
    "address*wasn't found",
    "address wasn\xe2\x80\x99t found",
    "bad destination mailbox address",
    "can't accept user",
    "destination addresses were unknown",
    "destination server rejected recipients",
    "email account that you tried to reach does not exist",
    "email address does not exist",
    "email address could not be found",
    "email address you entered couldn't be found",
    "inactive email address",
    "invalid address",
    "invalid mailbox",
    "invalid recipient",
    "invalid user",
    "is not a known user",
    "is not a valid mailbox",
    "mailbox does not exist",
    "mailbox invalid",
    "mailbox is unavailable",
    "mailbox not found",
    "mailbox not present",
    "mailbox unavailable",
    "nessun utente simile in questo indirizzo",
    "no account by that name here",
    "no existe dicha persona",
    "no existe ese usuario",
    "no mail box available for this user",
    "no mailbox by that name",
    "no mailbox here by that name",
    "no mailbox found",
    "no such address",
    "no such mailbox",
    "no such person at this address",
    "no such recipient",
    "no such user",
    "not a valid recipient",
    "not a valid user",
    "not listed in domino directory",
    "not a local address",
    "recipient address rejected: access denied",
    "recipient address rejected: invalid user",
    "recipient address rejected: unknown user",
    "recipient does not exist",
    "recipient is not local",
    "recipient not exist",
    "recipient not found",
    "recipient name is not recognized",
    "recipient unknown",
    "recipnotfound",
    "recipientnotfound",
    "requested action not taken: mailbox unavailable",
    "sorry, user unknown",
    "sorry, your envelope recipients are invalid",
    "that domain or user does not exist",
    "the user's email name is not found",
    "there is no one at this address",
    "this address no longer accepts mail",
    "this email address is wrong or no longer valid",
    "this recipient is not in my validrcptto list",
    "unknown mailbox",
    "unknown recipient",
    "unknown user",
    "unknown address",
    "unknown e-mail address",
    "unknown local part",
    "unknown or illegal alias",
    "user does not exist",
    "user invalid",
    "user mailbox is not found",
    "user not exist",
    "user not found",
    "user not known",
    "user unknown",
    "userunknown",
    "utilisateur inconnu",
    "destinataire invalide",
    "adresse inconnue",
    "vdeliver: invalid or unknown virtual user",
    "weil die adresse nicht gefunden wurde",
    "empfaenger unbekannt",
    "unbekannter empf",
    "account * does not exist",
    "mailbox * does not exist",
    "recipient * was not found in",
    "user * does not exist",
    "user * was not found",
    "user (*) unknown",
    "rcpt <* does not exist",
    "no such local user",
    "unable to deliver message to <",
    "ディレクトリのリストにありません", /* Lotus Notes: not in the directory list */
    "ディレクトリには見つかりません", /* Domino: not found in the directory */
    "no such account",
    "account does not exist",
    "user doesn't exist",
    "no user by that name",
    "recipient address invalid",
    "invalid recipient address",
    "addressee unknown",
    "recipient is not valid",
    "mailbox name not allowed",
    "user is unknown",
    "unknown recipient address",
    "not a valid address",
    "exrecipnotfound",
    "not listed in public name",
    "benutzer unbekannt",
    "empfänger unbekannt",
    "usuario desconocido",
    "utente sconosciuto",
    "usuário desconhecido",
    "recent history of bouncing as an invalid address",
    "undeliverable address",
    "no longer exists",
    "address not found",
    "mailbox not available",
    "not a valid e-mail address",
    "not a valid email address",
    "unknown account",
    "unbekannter benutzer",
    "adresse existiert nicht",
    "destinataire inconnu",
    "usuario no existe",
    "utente inesistente",
    "usuário inexistente",
    "onbekende gebruiker",
    NULL,
};

static const char *const pat_mailboxfull[] = {
    "account is exceeding their quota",
    "account is over quota",
    "account is temporarily over quota",
    "boite du destinataire pleine",
    "delivery failed: over quota",
    "disc quota exceeded",
    "disk quota exceeded",
    "diskspace quota",
    "does not have enough space",
    "exceeding its mailbox quota",
    "full mailbox",
    "inbox is full",
    "inbox is out of storage space",
    "out of storage space",
    "insufficient storage space",
    "is over disk quota",
    "is over quota",
    "mail file size exceeds the maximum size allowed for mail delivery",
    "mail quota exceeded",
    "mailbox exceeded the local limit",
    "mailbox exceeds allowed size",
    "mailbox full",
    "mailbox is full",
    "mailbox is over quota",
    "mailbox limit has been exceeded",
    "mailbox over quota",
    "mailbox size limit exceeded",
    "mailbox has exceeded",
    "mailbox would exceed",
    "maildir over quota",
    "message would exceed quota",
    "not enough disk space",
    "not enough storage space",
    "over the allowed quota",
    "overquota",
    "over quota",
    "quota exceeded",
    "quota violation",
    "quotaexceeded",
    "reached disk quota",
    "recipient's mailbox is full",
    "number of messages in recipient's mailbox exceeded",
    "the user's space has been used up",
    "user has exceeded quota",
    "user has too many messages on the server",
    "user is over quota",
    "user is over the quota",
    "user over quota",
    "would be over the allowed quota",
    "postfach voll",
    "speicherplatz",
    "casella piena",
    "buzon lleno",
    "mailbox * is full",
    "mailbox * over quota",
    "mailbox * is over quota",
    "mailbox quota",
    "quota full",
    "storage quota",
    "mail box full",
    "inbox full",
    "mailfolder is full",
    "account is full",
    "storage limit",
    "exceeded * quota",
    "exceeds * quota",
    "caixa cheia",
    "boite pleine",
    "postfach ist voll",
    "mailbox ist voll",
    "quota dépassé",
    "boîte pleine",
    "boîte aux lettres pleine",
    "buzón lleno",
    "caixa postal cheia",
    "caixa de correio cheia",
    "mailbox vol",
    NULL,
};

static const char *const pat_mesgtoobig[] = {
    "exceeded maximum inbound message size",
    "line limit exceeded",
    "mail size limit exceeded",
    "max message size exceeded",
    "message file too big",
    "message length exceeds administrative limit",
    "message size exceeds fixed limit",
    "message size exceeds maximum value",
    "message size exceeds the limit",
    "message too big",
    "message too large",
    "message is too large",
    "message is too big",
    "size limit exceeded",
    "message size exceeds",
    "taille limite du message atteinte",
    "exceeds size limit",
    "exceeds the maximum size",
    "message size limits",
    "exceeds the size limit",
    "message exceeds the maximum",
    "recipsizelimit",
    NULL,
};

static const char *const pat_exceedlimit[] = {
    "message header size exceeds limit",
    "message length exceeds limit",
    "message exceeds the limit set by recipient",
    "exceeds limit set by recipient",
    NULL,
};

static const char *const pat_suspend[] = {
    " is currently suspended",
    " temporary locked",
    "account has been suspended",
    "account has been disabled",
    "account has been deactivated",
    "account is disabled",
    "account is inactive",
    "account is locked",
    "account is suspended",
    "account disabled",
    "account inactive",
    "boite du destinataire archivee",
    "email account that you tried to reach is disabled",
    "email account that you tried to reach is inactive",
    "has been disabled",
    "has been suspended",
    "inactive account",
    "invalid/inactive user",
    "is a deactivated mailbox",
    "is unavailable: user is terminated",
    "mailbox currently suspended",
    "mailbox disabled",
    "mailbox has been disabled",
    "mailbox is disabled",
    "mailbox is frozen",
    "mailbox is inactive",
    "mailbox unavailable or access denied",
    "recipient rejected: temporarily inactive",
    "recipient suspend the service",
    "this account has been disabled or discontinued",
    "this account has been temporarily suspended",
    "user or domain is disabled",
    "user suspended",
    "account is temporarily unavailable",
    "recipient account is blocked",
    "le compte du destinataire est bloque",
    "disabled recipient address",
    "mailbox * has been suspended",
    "has been deactivated",
    "temporarily disabled",
    "account frozen",
    "account has expired",
    NULL,
};

static const char *const pat_hasmoved[] = {
    " has been replaced by ",
    "destination mailbox has moved",
    "mailbox has moved",
    "recipient no longer on server",
    "user has moved",
    "address has changed",
    "no longer on server",
    "not our user",
    "not our customer",
    "user not local",
    NULL,
};

static const char *const pat_hostunknown[] = {
    "domain does not exist",
    "domain is not reachable",
    "domain must exist",
    "domain name not found",
    "does not appear to be registered",
    "dns lookup failure: host * not found",
    "host or domain name not found",
    "host unknown",
    "host not found",
    "mail domain mentioned in email address is unknown",
    "name or service not known",
    "no such domain",
    "recipient address rejected: unknown domain",
    "recipient domain must exist",
    "the account or domain may not exist",
    "unknown domain",
    "unknown host",
    "unroutable address",
    "unrouteable address",
    "couldn't find any host named",
    "could not find any host named",
    "domain * does not exist",
    "553 * does not exist",
    "domain not found",
    "no such host",
    "nxdomain",
    "all relevant mx records point to non-existent hosts",
    "all host address lookups failed permanently",
    "illegal host/domain name found",
    "destination email system is unknown",
    NULL,
};

static const char *const pat_notaccept[] = {
    "does not accept mail",
    "doesn't accept mail",
    "doesn't receive email",
    "does not receive email",
    "mail receiving disabled",
    "null mx",
    "nullmx",
    "an mx or srv record indicated no smtp service",
    "no mx record found for domain",
    "couldn't find a mail exchanger",
    "could not find a mail exchanger",
    "not accepting network messages",
    "destination seem to reject all mails",
    NULL,
};

static const char *const pat_filtered[] = {
    "because the recipient is only accepting mail from specific email addresses",
    "bounced address",
    "due to extended inactivity new mail is not currently being accepted",
    "has restricted sms e-mail",
    "is not accepting any mail",
    "refused due to recipient preferences",
    "resolver.rst.notauthorized",
    "this account is protected by",
    "user reject",
    "recipient id refuse to receive mail",
    "you have been blocked by the recipient",
    "message filtered",
    "rejected by the domain filter",
    "header error",
    NULL,
};

static const char *const pat_rejected[] = {
    "access denied (in reply to mail from command)",
    "administrative prohibition",
    "all recipient addresses rejected : access denied",
    "by non-member to a members-only list",
    "can not check your address",
    "closed mailing list",
    "domain of sender address",
    "email address is on senderfilterconfig list",
    "emetteur invalide",
    "empty envelope senders not allowed",
    "envelope blocked",
    "error: no third-party dsns",
    "from: domain is invalid",
    "fully qualified email address required",
    "invalid sender",
    "is not a registered gateway user",
    "mail from not owned by user",
    "mailfrom domain is listed in spamhaus",
    "not a member of this mailing list",
    "not a member of this group",
    "null sender is not allowed",
    "returned mail not accepted here",
    "sending this from a different address or alias",
    "sender address has been blacklisted",
    "sender address rejected",
    "sender email address rejected",
    "sender is in my badmailfrom list",
    "sender is spammer",
    "sender not pre-approved",
    "sender rejected",
    "sender domain is empty",
    "sender verify failed",
    "sender was rejected",
    "the message has been rejected by batv defense",
    "this server does not accept mail from",
    "unroutable sender address",
    "you are not allowed to post to this mailing list",
    "you are sending to/from an address that has been blacklisted",
    "your email address has been blacklisted",
    "sender address * does not exist",
    "sender domain * does not exist",
    "permission to post messages to the group",
    "you may not have permission to post",
    "unresolvable rfc.5321 from domain",
    "unresolvable rfc.5322 from domain",
    NULL,
};

static const char *const pat_blocked[] = {
    " said: 550 blocked",
    "//www.spamcop.net/bl.",
    "spamhaus.org/query",
    "bad sender ip address",
    "banned sending ip",
    "blacklisted by",
    "listed as an open relay",
    "ip address blacklisted",
    "blocked using ",
    "blocked - see http",
    "dnsbl:",
    "client host rejected: may not be mail exchanger",
    "client host rejected: was not authenticated",
    "confirm this mail server",
    "connection dropped",
    "connection was dropped by remote host",
    "connections not accepted from ip addresses on spamhaus",
    "currently sending spam",
    "dynamic/zombied/spam ips blocked",
    "esmtp not accepting connections",
    "not accepting connections",
    "extreme bad ip profile",
    "go away",
    "helo command rejected:",
    "hosts with dynamic ip",
    "invalid ip for sending mail",
    "is in a black list",
    "is listed in a blocklist",
    "is not allowed to send mail from",
    "no access from mail server",
    "not currently accepting mail from your ip",
    "part of their network is on our block list",
    "please use the smtp server of your isp",
    "refused - see http",
    "rejected - multi-blacklist",
    "rejecting open proxy",
    "sender ip address rejected",
    "server access forbidden by your ip",
    "service not available, closing transmission channel",
    "server refused to talk to me",
    "smtp error from remote mail server after initial connection",
    "sorry, your remotehost looks suspiciously like spammer",
    "too many spams from your ip",
    "too many unwanted messages have been sent",
    "was blocked by ",
    "we do not accept mail from dynamic ips",
    "you are not allowed to connect",
    "your network is temporary blacklisted",
    "your server requires confirmation",
    "messages from * weren't sent",
    "access from ip address * blocked",
    "client host * blocked using",
    "ip * is blacklisted",
    "mail server at * is blocked",
    "message from * rejected based on blacklist",
    "server ip * listed as abusive",
    "your ip * is in rbl",
    "is blocked by rbl",
    "(bl)",
    "blocked ip",
    "ip blocked",
    "blocked by spamhaus",
    "listed at spamhaus",
    "listed on spamhaus",
    "spamhaus",
    "spamcop",
    "barracudacentral",
    "sorbs.net",
    "blocklist",
    "blacklist",
    "block list",
    "black list",
    "rbl reject",
    "ip address has been blocked",
    "ip has been blocked",
    "not authorized to send email directly to our servers",
    "traffic not accepted from this ip",
    "client host rejected",
    "invalid helo",
    "bad helo",
    "helo rejected",
    "ehlo rejected",
    "unregistered domains",
    "poor ip",
    "greylist",
    "graylist",
    "not in whitelist",
    "permanently deferred",
    "connection rejected by policy",
    NULL,
};

static const char *const pat_spamdetected[] = {
    " - spam",
    "/help/help_spam_16.htm",
    "554 5.7.0 reject, id=",
    "appears to be unsolicited",
    "blacklisted url in message",
    "block for spam",
    "blocked by policy: no spam please",
    "blocked by spamassassin",
    "classified as spam",
    "content filter rejection",
    "identified this email as a bulk email",
    "denied due to spam list",
    "high probability of spam",
    "is classified as spam",
    "mail appears to be unsolicited",
    "mail content denied",
    "may consider spam",
    "message considered as spam",
    "message contains spam content",
    "message content rejected",
    "message has been temporarily blocked by our filter",
    "message is being rejected as it seems to be a spam",
    "message looks like spam",
    "message refused by mailmarshal spamprofiler",
    "message rejected as spam",
    "message rejected due to suspected spam content",
    "rejected for possible spam",
    "our email server thinks this email is spam",
    "probable spam",
    "reject bulk.advertising",
    "rejected: spamassassin score ",
    "rejected - spam",
    "rejecting banned content",
    "rejecting mail content",
    "related to content with spam-like characteristics",
    "sending address not accepted due to spam filter",
    "spam check",
    "spam content matched",
    "spam detected",
    "spam email",
    "spam message rejected",
    "spam not accepted",
    "spam refused",
    "spam rejection",
    "spam score ",
    "spambouncer identified spam",
    "spamming not allowed",
    "too much spam",
    "detected as spam",
    "rejected by spam filtering engine",
    "classification as bulk mail",
    "looked like spam",
    "appears to be spam",
    "identified as spam",
    "scored as spam",
    "this message was rejected by recurrent pattern detection system",
    "spam message not queued",
    "we dont accept spam",
    "triggered a spam block",
    "unsolicited mail",
    "unsolicited bulk",
    "rejected due to spam",
    "due to spam classification",
    "message content rejected, ube",
    "our filters rate at and above * percent probability of being spam",
    "rejected by * (spam)",
    "this message scored * spam points",
    "mail rejete. mail rejected",
    "considered spam",
    "suspected spam",
    "likely spam",
    "likely unsolicited",
    "bulk mail",
    "content filter",
    "spam message",
    "suspicious due to the nature of the content",
    "spam content",
    "spam filter",
    "marked as spam",
    "flagged as spam",
    "message is spam",
    NULL,
};

static const char *const pat_securityerror[] = {
    "account not subscribed to ses",
    "authentication credentials invalid",
    "authentication failure",
    "authentication required",
    "authentication turned on in your email client",
    "authrequired",
    "executable files are not allowed in compressed files",
    "insecure mail relay",
    "sorry, you don't authenticate",
    "tls required but not supported",
    "must issue a starttls command first",
    "unauthenticated senders not allowed",
    "user not authenticated",
    "verification failure",
    "authentication is required",
    "smtp authentication",
    "delivery not authorized",
    "not authorized to send",
    "authentication failed; server * said: ",
    "is not authorized to perform ses:sendrawemail",
    "security policies",
    "tls required",
    "tls is required",
    "starttls is required",
    "encryption required",
    "must use tls",
    NULL,
};

static const char *const pat_authfailure[] = {
    "//support.google.com/a/answer/175365",
    "dmarc policy",
    "dmarc verification",
    "dmarc check",
    "fails to pass authentication checks",
    "does not have authentication information",
    "multiple authentication checks failed",
    "sender policy framework",
    "spf check: fail",
    "spf record with a hard fail",
    "spf=fail",
    "spf: fail",
    "spf validation",
    "spf failure",
    "spf fail",
    "dkim validation",
    "dkim signature",
    "unauthenticated email",
    "the sender is unauthenticated",
    "is not allowed to send from <",
    "spf check failed",
    "failed spf",
    "dkim check failed",
    "dkim verification failed",
    "dmarc authentication",
    "dmarc reject",
    "authenticate with either spf or dkim",
    NULL,
};

static const char *const pat_requireptr[] = {
    "ip name lookup failed",
    "all mail servers must have a ptr record",
    "bad dns ptr resource record",
    "cannot find your hostname",
    "fix reverse dns",
    "no ptr record",
    "does not have a ptr record",
    "please get a custom reverse dns name",
    "ptr record setup",
    "reverse dns failed",
    "reverse dns required",
    "reverse dns validation failed",
    "missing reverse dns",
    "no reverse dns",
    "without reverse dns",
    "invalid rdns",
    "sender ip reverse lookup rejected",
    "the corresponding forward dns entry does not point to the sending ip",
    "unresolvable relay host name",
    "generic dns ptr",
    "mismatches client ip",
    "reverse dns lookup for host * failed",
    "service permits * unverifyable sending ips",
    "reverse hostname",
    "reverse dns entry",
    "ptr record",
    NULL,
};

static const char *const pat_notcompliantrfc[] = {
    "not rfc 5322 compliant",
    "not rfc5322 compliant",
    "not rfc 2822 compliant",
    "rfcmessagenoncompliant",
    "multiple*addresses in from: header",
    "multiple from: header",
    "multiple subject header",
    "message is not rfc compliant",
    "rfc 5322 section",
    "rfc5322 section",
    "not compliant with rfc",
    NULL,
};

static const char *const pat_badreputation[] = {
    "rate limited due to ip reputation",
    "ip/domain reputation problems",
    "very low reputation",
    "low reputation",
    "poor reputation",
    "bad reputation",
    "temporarily deferred due to unexpected volume or user complaints",
    "due to user complaints",
    NULL,
};

static const char *const pat_speeding[] = {
    "please try again slower",
    "receiving mail at a rate that prevents additional messages",
    "sending rate",
    "rate limit exceeded",
    "too many messages",
    "too fast",
    "receiving mail too quickly",
    "too quickly",
    "rate limited",
    NULL,
};

static const char *const pat_toomanyconn[] = {
    "all available ips are at maximum connection limit",
    "connection rate limit exceeded",
    "exceeds per-domain connection limit",
    "has exceeded the max emails per hour",
    "throttling failure: daily message quota exceeded",
    "throttling failure: maximum sending rate exceeded",
    "too many connections",
    "too many concurrent smtp connections",
    "too many errors from your ip",
    "too many recipients",
    "too many smtp sessions",
    "trop de connexions",
    "frequency limited",
    "too many simultaneous connections",
    "too many concurrent",
    "max connections",
    "maximum number of connections",
    "connection limit",
    "max message per connection",
    "too many messages in this connection",
    "denial of service",
    "server busy",
    NULL,
};

static const char *const pat_policyviolation[] = {
    "an illegal attachment on your message",
    "because the recipient is not accepting mail with",
    "denied by policy",
    "email not accepted for policy reasons",
    "local policy violation",
    "message not accepted for policy reasons",
    "message rejected due to local policy",
    "rejected for policy reasons",
    "policy violation",
    "violates our email policy",
    "email address used to send your message is not subscribed to this group",
    "allowable number of posts without solving a captcha",
    "policy rejection",
    "administrative policy",
    NULL,
};

static const char *const pat_virusdetected[] = {
    "it has a potentially executable attachment",
    "prohibited virus",
    "used by recent viruses or other malware",
    "virus detected",
    "virus found",
    "malicious_url detected",
    "infected with a virus",
    "contains a virus",
    "message contains malware",
    "malware detected",
    "infected",
    "content presents a potential security issue",
    NULL,
};

static const char *const pat_norelaying[] = {
    "as a relay",
    "email address is not verified.",
    "is not permitted to relay",
    "requires authentication when attempting to send to a non-local e-mail address",
    "not a gateway",
    "not allowed to relay",
    "not an open relay",
    "not local host",
    "relay access denied",
    "relay denied",
    "relay not permitted",
    "relaying denied",
    "relaying mail to * is not allowed",
    "relaying not allowed",
    "unable to relay",
    "we don't handle mail for",
    "we do not relay",
    "not in my list of allowed rcpthosts",
    "isn't in my list of allowed rcpthosts",
    "this system is not configured to relay mail",
    "relay not allowed",
    "relaying is not allowed",
    "open relay not allowed",
    NULL,
};

static const char *const pat_contenterror[] = {
    "duplicate header",
    "header line format error",
    "headers too large",
    "improper use of 8-bit data in message header",
    "message header size, or recipient list, exceeds policy limit",
    "message mime complexity exceeds the policy maximum",
    "routing loop detected -- too many received: headers",
    "invalid mime headers",
    "improperly-formatted binary content",
    "unnecessary base64 encoding",
    "media error",
    "malformed message",
    "too many \"received\" headers",
    NULL,
};

static const char *const pat_syntaxerror[] = {
    "syntax error",
    "improper sequence of commands",
    "bad sequence of commands",
    "command unrecognized",
    "unrecognized command",
    "command not recognized",
    "malformed address",
    "may not follow",
    NULL,
};

static const char *const pat_systemfull[] = {
    "mail system full",
    "insufficient disk space",
    "insufficient system storage",
    "system storage",
    "mail spool full",
    "disk full",
    NULL,
};

static const char *const pat_mailererror[] = {
    " || exit ",
    "bin/procmail",
    "bin/maildrop",
    "command failed: ",
    "command died with status ",
    "command output:",
    "mailer error",
    "pipe to |/",
    "x-unix; ",
    "unknown mailer error",
    NULL,
};

static const char *const pat_systemerror[] = {
    "aliasing/forwarding loop broken",
    "can't create user output file",
    "could not load drd for domain",
    "internal error",
    "internal server error",
    "interrupted system call",
    "it encountered an error while being processed",
    "it would create a mail loop",
    "local configuration error",
    "local error in processing",
    "loop was found in the mail exchanger",
    "loops back to myself",
    "mail system configuration error",
    "queue file write error",
    "recipient deferred because there is no mdb",
    "remote server is misconfigured",
    "server configuration error",
    "service currently unavailable",
    "system config error",
    "timeout waiting for input",
    "unable to contact ldap server",
    "duplicated message-id",
    "system error",
    "service refuse",
    "resources temporarily unavailable",
    "temporary system problem",
    "local problem",
    NULL,
};

static const char *const pat_networkerror[] = {
    "could not connect and send the mail to",
    "dns records for the destination computer could not be found",
    "hop count exceeded",
    "host is unreachable",
    "host name lookup failure",
    "host not found, try again",
    "mail forwarding loop for ",
    "malformed name server reply",
    "malformed or unexpected name server reply",
    "maximum forwarding loop count exceeded",
    "message looping",
    "message probably in an endless loop",
    "no route to host",
    "too many hops",
    "unable to resolve route ",
    "unrouteable mail domain",
    "network error",
    "dns error",
    "wasn't able to establish an smtp connection",
    "network is unreachable",
    "host lookup did not complete",
    "name server timeout",
    "bounce between two servers",
    "possible mail loop",
    "indicate a mail loop",
    NULL,
};

static const char *const pat_expired[] = {
    "connection timed out",
    "could not find a gateway for",
    "delivery attempts will continue to be",
    "delivery time expired",
    "failed to deliver to domain ",
    "has been delayed",
    "have been failing for a long time",
    "message expired",
    "envelope expired",
    "message timed out",
    "retry time not reached for any host after a long failure period",
    "retry timeout exceeded",
    "server did not respond",
    "did not accept our requests to connect",
    "unable to deliver message after multiple retries",
    "was not reachable within the allowed queue period",
    "could not be delivered for more than",
    "could not deliver for the last",
    "undeliverable for",
    "queue.expired",
    "host not reachable",
    "was aborted after",
    "will continue trying",
    "will be retried for",
    "delivery failed * attempts",
    "cannot send message for",
    "could not be delivered for",
    NULL,
};

static const char *const pat_onhold[] = {
    "on hold",
    NULL,
};

/* Precedence when the wording names several failures: the more precise
 * reason first. Our own sending's problems that name a cause (DMARC, PTR,
 * reputation, rate) come before the address's; "mailbox full" before "user
 * unknown" (a full mailbox exists); a refused sender ("sender domain ...
 * does not exist") before an unknown user or host, so that our own sending
 * problem never passes for a bad address; the broad network and system
 * wording, and blocks, last. */
struct reason_table {
    classify_reason reason;
    const char *const *patterns;
};

static const struct reason_table reason_order[] = {
    {R(NOTCOMPLIANTRFC), pat_notcompliantrfc},
    {R(AUTHFAILURE), pat_authfailure},
    {R(REQUIREPTR), pat_requireptr},
    {R(BADREPUTATION), pat_badreputation},
    {R(VIRUSDETECTED), pat_virusdetected},
    {R(SPAMDETECTED), pat_spamdetected},
    {R(MAILBOXFULL), pat_mailboxfull},
    {R(EXCEEDLIMIT), pat_exceedlimit},
    {R(MESGTOOBIG), pat_mesgtoobig},
    {R(SUSPEND), pat_suspend},
    {R(HASMOVED), pat_hasmoved},
    {R(NORELAYING), pat_norelaying},
    {R(TOOMANYCONN), pat_toomanyconn},
    {R(SPEEDING), pat_speeding},
    {R(REJECTED), pat_rejected},
    {R(USERUNKNOWN), pat_userunknown},
    {R(NOTACCEPT), pat_notaccept},
    {R(NETWORKERROR), pat_networkerror},
    {R(HOSTUNKNOWN), pat_hostunknown},
    {R(FILTERED), pat_filtered},
    {R(POLICYVIOLATION), pat_policyviolation},
    {R(SECURITYERROR), pat_securityerror},
    {R(CONTENTERROR), pat_contenterror},
    {R(SYNTAXERROR), pat_syntaxerror},
    {R(SYSTEMFULL), pat_systemfull},
    {R(MAILERERROR), pat_mailererror},
    {R(EXPIRED), pat_expired},
    {R(SYSTEMERROR), pat_systemerror},
    {R(BLOCKED), pat_blocked},
    {R(ONHOLD), pat_onhold},
};

/* Catch-all wording, tried only after every table above found nothing and
 * after a generic status code's own fallback: it says that something was
 * refused or went wrong, barely what. */
static const struct reason_token reason_weak_wording[] = {
    {"access denied", R(REJECTED)},
    /* only a prefix: Postfix names the restriction class, not the reason
     * (smtp-replies 4.2); a refusal of the recipient at RCPT TO with nothing
     * more said is about the address (smtp-replies 4.19), alone it says
     * nothing */
    {"recipient address rejected*rcpt to", R(USERUNKNOWN)},
    {"connection refused", R(NETWORKERROR)},
    {"connection reset", R(NETWORKERROR)},
    {"has been in the queue too long", R(EXPIRED)},
    {"lost connection", R(NETWORKERROR)},
    /* refused before any envelope: the receiver refuses our server */
    {"in reply to helo command", R(BLOCKED)},
    {"in reply to ehlo command", R(BLOCKED)},
    {"after helo", R(BLOCKED)},
    {"after ehlo", R(BLOCKED)},
    {"giving up on", R(EXPIRED)},
};

/* ------------------------------------------------------ code tables */

/* How far a status code decides:
 *   CODE_DECIDES   the code names the failure; only wording for the reasons
 *                  in 'overrule' may override it;
 *   CODE_FALLBACK  the code is generic in practice: the wording decides,
 *                  and the code's reason applies when no wording matches. */
enum code_mode { CODE_DECIDES, CODE_FALLBACK };

struct reason_code {
    const char *code;      /* "5.1.1", or "4.4." for every detail of a subject */
    classify_reason reason;
    enum code_mode mode;
    uint64_t overrule;     /* reasons whose wording overrules a deciding code */
};

/* Reasons whose wording a deciding code's row may let overrule it:
 * OVR_SENDING, failures of our own sending (the address was never the
 * problem); OVR_ADDRESS, other states of an address that exists. */
#define OVR_SENDING (BIT(BLOCKED) | BIT(SPAMDETECTED) | BIT(NORELAYING) | BIT(REJECTED) | \
                     BIT(AUTHFAILURE) | BIT(REQUIREPTR) | BIT(BADREPUTATION) |            \
                     BIT(SPEEDING) | BIT(TOOMANYCONN) | BIT(MAILERERROR) | BIT(VIRUSDETECTED))
#define OVR_ADDRESS (BIT(MAILBOXFULL) | BIT(HASMOVED) | BIT(NOTACCEPT) | BIT(SUSPEND))
/* OVR_MESSAGE, failures of the message itself. */
#define OVR_MESSAGE (BIT(MESGTOOBIG) | BIT(EXCEEDLIMIT) | BIT(POLICYVIOLATION) | BIT(CONTENTERROR))

static const struct reason_code reason_status_codes[] = {
    /* A generic 5.1.1 whose text names a failure of the message (size,
     * SPF, policy) is that failure: wording overrules the code (issue 9). */
    {"5.1.1", R(USERUNKNOWN), CODE_DECIDES, OVR_ADDRESS | OVR_SENDING | OVR_MESSAGE},
    {"4.1.1", R(USERUNKNOWN), CODE_DECIDES, OVR_ADDRESS | OVR_SENDING},
    {"5.1.2", R(HOSTUNKNOWN), CODE_DECIDES, BIT(NOTACCEPT) | OVR_SENDING},
    {"4.1.2", R(HOSTUNKNOWN), CODE_DECIDES, BIT(NOTACCEPT) | OVR_SENDING},
    {"5.1.3", R(USERUNKNOWN), CODE_DECIDES, OVR_SENDING},
    {"5.1.4", R(USERUNKNOWN), CODE_FALLBACK, 0},
    {"5.1.6", R(HASMOVED), CODE_DECIDES, 0},
    {"4.1.6", R(HASMOVED), CODE_DECIDES, 0},
    {"5.1.7", R(REJECTED), CODE_DECIDES, 0},
    {"4.1.7", R(REJECTED), CODE_DECIDES, 0},
    {"5.1.8", R(REJECTED), CODE_DECIDES, 0},
    {"4.1.8", R(REJECTED), CODE_DECIDES, 0},
    {"5.1.10", R(NOTACCEPT), CODE_FALLBACK, 0},
    {"5.1.0", R(USERUNKNOWN), CODE_FALLBACK, 0},
    {"5.2.0", R(FILTERED), CODE_DECIDES, OVR_ADDRESS | OVR_SENDING | BIT(SPAMDETECTED)},
    {"5.2.1", R(SUSPEND), CODE_FALLBACK, 0},
    {"4.2.1", R(SUSPEND), CODE_FALLBACK, 0},
    {"5.2.2", R(MAILBOXFULL), CODE_DECIDES, 0},
    {"4.2.2", R(MAILBOXFULL), CODE_DECIDES, 0},
    {"5.2.3", R(EXCEEDLIMIT), CODE_DECIDES, 0},
    {"4.2.3", R(EXCEEDLIMIT), CODE_DECIDES, 0},
    {"5.2.4", R(SYSTEMERROR), CODE_FALLBACK, 0},
    {"5.3.0", R(SYSTEMERROR), CODE_FALLBACK, 0},
    {"4.3.0", R(ONHOLD), CODE_FALLBACK, 0},
    {"4.0.0", R(EXPIRED), CODE_FALLBACK, 0},
    {"5.3.1", R(SYSTEMFULL), CODE_DECIDES, BIT(MAILBOXFULL) | OVR_SENDING},
    {"4.3.1", R(SYSTEMFULL), CODE_DECIDES, BIT(MAILBOXFULL) | OVR_SENDING},
    {"5.3.2", R(NOTACCEPT), CODE_DECIDES, OVR_SENDING},
    {"4.3.2", R(NOTACCEPT), CODE_DECIDES, OVR_SENDING},
    {"5.3.4", R(MESGTOOBIG), CODE_DECIDES, 0},
    {"4.3.4", R(MESGTOOBIG), CODE_DECIDES, 0},
    {"5.3.5", R(SYSTEMERROR), CODE_FALLBACK, 0},
    {"5.4.", R(NETWORKERROR), CODE_FALLBACK, 0},
    {"4.4.", R(EXPIRED), CODE_FALLBACK, 0},
    {"5.4.1", R(ONHOLD), CODE_FALLBACK, 0},
    {"4.4.1", R(EXPIRED), CODE_FALLBACK, 0},
    {"4.4.2", R(EXPIRED), CODE_FALLBACK, 0},
    {"5.4.4", R(HOSTUNKNOWN), CODE_FALLBACK, 0},
    {"4.4.5", R(TOOMANYCONN), CODE_FALLBACK, 0},
    {"5.4.6", R(NETWORKERROR), CODE_DECIDES, 0},
    {"4.4.6", R(NETWORKERROR), CODE_DECIDES, 0},
    {"4.4.7", R(EXPIRED), CODE_FALLBACK, 0},
    {"5.4.7", R(EXPIRED), CODE_FALLBACK, 0},
    {"5.4.316", R(EXPIRED), CODE_FALLBACK, 0},
    {"4.5.", R(EXPIRED), CODE_FALLBACK, 0},
    {"4.5.3", R(TOOMANYCONN), CODE_FALLBACK, 0},
    {"5.5.3", R(TOOMANYCONN), CODE_FALLBACK, 0},
    {"5.5.2", R(SYNTAXERROR), CODE_FALLBACK, 0},
    {"5.5.4", R(SYNTAXERROR), CODE_FALLBACK, 0},
    {"5.5.5", R(SYNTAXERROR), CODE_FALLBACK, 0},
    {"5.5.6", R(SYNTAXERROR), CODE_FALLBACK, 0},
    {"5.6.", R(CONTENTERROR), CODE_FALLBACK, 0},
    {"4.6.", R(CONTENTERROR), CODE_FALLBACK, 0},
    {"5.7.", R(SECURITYERROR), CODE_FALLBACK, 0},
    {"4.7.", R(SECURITYERROR), CODE_FALLBACK, 0},
    {"5.7.7", R(SECURITYERROR), CODE_DECIDES, OVR_SENDING},
    {"5.7.8", R(SECURITYERROR), CODE_DECIDES, OVR_SENDING},
    /* IANA: the sender's account is disabled after AUTH; a few receivers
     * use it for a disabled recipient: the text decides */
    {"5.7.13", R(SUSPEND), CODE_FALLBACK, 0},
    {"5.7.17", R(HASMOVED), CODE_DECIDES, 0},
    {"5.7.18", R(HASMOVED), CODE_DECIDES, 0},
    {"5.7.20", R(AUTHFAILURE), CODE_DECIDES, 0},
    {"5.7.21", R(AUTHFAILURE), CODE_DECIDES, 0},
    {"5.7.22", R(AUTHFAILURE), CODE_DECIDES, 0},
    {"5.7.23", R(AUTHFAILURE), CODE_DECIDES, 0},
    {"5.7.24", R(AUTHFAILURE), CODE_DECIDES, 0},
    {"5.7.25", R(REQUIREPTR), CODE_DECIDES, 0},
    {"4.7.25", R(REQUIREPTR), CODE_DECIDES, 0},
    {"5.7.26", R(AUTHFAILURE), CODE_DECIDES, 0},
    {"4.7.26", R(AUTHFAILURE), CODE_DECIDES, 0},
    /* IANA: the *sender* address has a null MX, our side; Sendmail sends it
     * for a recipient host's null MX too ("Host does not accept mail") */
    {"5.7.27", R(REJECTED), CODE_DECIDES, BIT(NOTACCEPT)},
    {"5.7.29", R(AUTHFAILURE), CODE_DECIDES, 0},
    {"5.7.509", R(AUTHFAILURE), CODE_DECIDES, 0},
    {"5.7.515", R(AUTHFAILURE), CODE_DECIDES, 0},
    {"5.7.606", R(BLOCKED), CODE_DECIDES, 0},
    {"5.7.607", R(BLOCKED), CODE_DECIDES, 0},
    {"5.7.708", R(BLOCKED), CODE_DECIDES, 0},
    {"5.7.750", R(BLOCKED), CODE_DECIDES, 0},
    {"4.7.650", R(BADREPUTATION), CODE_DECIDES, 0},
    {"5.1.351", R(USERUNKNOWN), CODE_FALLBACK, 0},
};

/* Reply codes that say something when neither status nor wording does. */
static const struct reason_code reason_reply_codes[] = {
    {"551", R(HASMOVED), CODE_FALLBACK, 0},
    {"521", R(NOTACCEPT), CODE_FALLBACK, 0},
    {"556", R(NOTACCEPT), CODE_FALLBACK, 0},
    {"552", R(MAILBOXFULL), CODE_FALLBACK, 0},
    {"553", R(USERUNKNOWN), CODE_FALLBACK, 0},
    {"523", R(MESGTOOBIG), CODE_FALLBACK, 0},
    {"421", R(BLOCKED), CODE_FALLBACK, 0},
    {"451", R(SYSTEMERROR), CODE_FALLBACK, 0},
    {"452", R(SYSTEMFULL), CODE_FALLBACK, 0},
    {"503", R(SYNTAXERROR), CODE_FALLBACK, 0},
    {"500", R(SYNTAXERROR), CODE_FALLBACK, 0},
    {"501", R(SYNTAXERROR), CODE_FALLBACK, 0},
};

/* ------------------------------------------------------------- the index */

/* Every pattern of every table above, flattened once into one array and
 * indexed by its first three bytes, so that a diagnostic is read once, each
 * position looking only at the few patterns that start with its bytes. Built
 * on first use under g_once and read-only afterwards. */
#define INDEX_MAX 2048
#define INDEX_BUCKETS 8192

struct index_pattern {
    uint64_t head, head_mask; /* the first piece's first eight bytes, to reject fast */
    const char *text;
    uint16_t first_len;   /* length up to the first '*', or the whole */
    uint8_t reason;
    uint8_t table;        /* TABLE_TOKENS, TABLE_ORDER + i, ... */
    bool wild;            /* has '*': the rest must follow the first piece */
};

/* Which table a pattern came from; one bit each in reason_hits.tables. */
enum {
    TABLE_TOKENS = 0,
    TABLE_WEAK,
    TABLE_DOCUMENTED,
    TABLE_ORDER, /* + index in reason_order[] */
};
_Static_assert(TABLE_ORDER + N_ELEMS(reason_order) <= 64, "one bit per table");

struct index_range {
    uint16_t begin, end;  /* pattern ids of one table */
};

struct reason_index {
    unsigned char fold[256]; /* lower case; 0 for white space */
    struct index_pattern patterns[INDEX_MAX];
    uint16_t n;
    uint16_t bucket_start[INDEX_BUCKETS + 1];
    uint16_t bucket_ids[INDEX_MAX];
    struct index_range tokens, weak, documented; /* tables where the first line to match wins */
    struct index_range order[N_ELEMS(reason_order)];
};

/* What matched one diagnostic: the pattern ids, and the tables that had
 * at least one of them. */
struct reason_hits {
    uint64_t tables;
    uint64_t bits[INDEX_MAX / 64];
};

static unsigned
index_hash(const char *s)
{
    const unsigned char *u = (const unsigned char *)s;
    return ((unsigned)u[0] * 1031u + (unsigned)u[1] * 37u + u[2]) & (INDEX_BUCKETS - 1);
}

static uint64_t
index_head(const char *s, size_t len)
{
    uint64_t v = 0;
    memcpy(&v, s, len < 8 ? len : 8);
    return v;
}

static void
index_add(struct reason_index *ix, const char *text, classify_reason reason, unsigned table)
{
    const char *star = strchr(text, '*');
    size_t first = star != NULL ? (size_t)(star - text) : strlen(text);

    /* Programming errors in the tables, caught by the first unit test: the
     * text a pattern is matched against is lower case with single spaces. */
    if (ix->n >= INDEX_MAX || first < 3 || strstr(text, "  ") != NULL ||
        strstr(text, "**") != NULL || text[strlen(text) - 1] == '*')
        g_error("reason table: pattern \"%s\" cannot match, or too many patterns", text);
    for (const char *c = text; *c != '\0'; c++)
        if ((*c >= 'A' && *c <= 'Z') || *c == '\t' || *c == '\n' || *c == '\r')
            g_error("reason table: pattern \"%s\" is not lower case", text);
    ix->patterns[ix->n++] = (struct index_pattern){
        .head = index_head(text, first),
        .head_mask = index_head("\xff\xff\xff\xff\xff\xff\xff\xff", first),
        .text = text, .first_len = (uint16_t)first, .reason = (uint8_t)reason,
        .table = (uint8_t)table, .wild = star != NULL,
    };
}

static struct index_range
index_add_tokens(struct reason_index *ix, const struct reason_token *tokens, size_t n,
                 unsigned table)
{
    struct index_range r = {.begin = ix->n};
    for (size_t i = 0; i < n; i++)
        index_add(ix, tokens[i].pattern, tokens[i].reason, table);
    r.end = ix->n;
    return r;
}

static void
index_add_list(struct reason_index *ix, const char *const *patterns, classify_reason reason,
               unsigned table)
{
    for (; *patterns != NULL; patterns++)
        index_add(ix, *patterns, reason, table);
}

static gpointer
index_build(gpointer data)
{
    struct reason_index *ix = data;
    uint16_t count[INDEX_BUCKETS] = {0};

    for (unsigned c = 0; c < 256; c++)
        ix->fold[c] = (unsigned char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    ix->fold[' '] = ix->fold['\t'] = ix->fold['\r'] = ix->fold['\n'] = 0;

    ix->tokens = index_add_tokens(ix, reason_provider_tokens, N_ELEMS(reason_provider_tokens),
                                  TABLE_TOKENS);
    ix->documented.begin = ix->n;
    for (size_t i = 0; i < N_ELEMS(reason_documented); i++)
        index_add(ix, reason_documented[i].pattern, reason_documented[i].reason, TABLE_DOCUMENTED);
    ix->documented.end = ix->n;
    for (size_t i = 0; i < N_ELEMS(reason_order); i++) {
        ix->order[i].begin = ix->n;
        index_add_list(ix, reason_order[i].patterns, reason_order[i].reason,
                       (unsigned)(TABLE_ORDER + i));
        ix->order[i].end = ix->n;
    }
    ix->weak = index_add_tokens(ix, reason_weak_wording, N_ELEMS(reason_weak_wording),
                                TABLE_WEAK);

    for (uint16_t id = 0; id < ix->n; id++)
        count[index_hash(ix->patterns[id].text)]++;
    ix->bucket_start[0] = 0;
    for (unsigned b = 0; b < INDEX_BUCKETS; b++)
        ix->bucket_start[b + 1] = (uint16_t)(ix->bucket_start[b] + count[b]);
    memset(count, 0, sizeof count);
    for (uint16_t id = 0; id < ix->n; id++) {
        unsigned b = index_hash(ix->patterns[id].text);
        ix->bucket_ids[ix->bucket_start[b] + count[b]++] = id;
    }
    return ix;
}

static const struct reason_index *
index_get(void)
{
    static GOnce once = G_ONCE_INIT;
    static struct reason_index index;

    return g_once(&once, index_build, &index);
}

/* ------------------------------------------------------------- matching */

/* The diagnostic lower-cased, with runs of white space folded to one space. */
struct reason_text {
    char buf[REASON_TEXT_MAX];
    size_t len;
};

static void
reason_text_init(const struct reason_index *ix, struct reason_text *t, const char *s)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t n = 0;
    bool space = true; /* drops leading white space */

    for (; *u != '\0' && n < sizeof t->buf; u++) {
        unsigned char c = ix->fold[*u];
        if (c == 0) {
            if (!space)
                t->buf[n++] = ' ';
            space = true;
        } else {
            t->buf[n++] = (char)c;
            space = false;
        }
    }
    t->len = n;
}

/* The pieces of a '*' pattern after its first, in order, from pos on. */
static bool
reason_rest_matches(const char *pos, const char *end, const char *rest)
{
    for (;;) {
        const char *next = strchr(rest, '*');
        size_t n = next != NULL ? (size_t)(next - rest) : strlen(rest);
        if (n > 0) {
            const char *hit = memmem(pos, (size_t)(end - pos), rest, n);
            if (hit == NULL)
                return false;
            pos = hit + n;
        }
        if (next == NULL)
            return true;
        rest = next + 1;
    }
}

static bool
hits_has(const struct reason_hits *h, unsigned id)
{
    return (h->bits[id >> 6] >> (id & 63)) & 1;
}

static void
reason_scan(const struct reason_index *ix, const struct reason_text *t, struct reason_hits *h)
{
    const char *end = t->buf + t->len;

    memset(h, 0, sizeof *h);
    for (size_t i = 0; i + 3 <= t->len; i++) {
        unsigned b = index_hash(t->buf + i);
        unsigned k = ix->bucket_start[b], k_end = ix->bucket_start[b + 1];
        if (k == k_end)
            continue;
        uint64_t head = index_head(t->buf + i, t->len - i);
        for (; k < k_end; k++) {
            unsigned id = ix->bucket_ids[k];
            const struct index_pattern *p = &ix->patterns[id];
            if ((head & p->head_mask) != p->head || hits_has(h, id) ||
                p->first_len > t->len - i ||
                memcmp(t->buf + i, p->text, p->first_len) != 0)
                continue;
            if (p->wild && !reason_rest_matches(t->buf + i + p->first_len, end,
                                                p->text + p->first_len + 1))
                continue;
            h->bits[id >> 6] |= UINT64_C(1) << (id & 63);
            h->tables |= UINT64_C(1) << p->table;
        }
    }
}

static bool
hits_table(const struct reason_hits *h, unsigned table)
{
    return (h->tables >> table) & 1;
}

/* The first pattern of a range that matched, or NULL. */
static const struct index_pattern *
hits_first(const struct reason_index *ix, const struct reason_hits *h, struct index_range r,
           unsigned table)
{
    if (!hits_table(h, table))
        return NULL;
    for (unsigned id = r.begin; id < r.end; id++)
        if (hits_has(h, id))
            return &ix->patterns[id];
    return NULL;
}

/* The first pattern, in precedence order, of a reason in 'allowed' whose
 * table matched, or NULL. */
static const struct index_pattern *
reason_from_wording(const struct reason_index *ix, const struct reason_hits *h, uint64_t allowed)
{
    for (size_t i = 0; i < N_ELEMS(reason_order); i++) {
        if ((allowed & (UINT64_C(1) << reason_order[i].reason)) &&
            hits_table(h, (unsigned)(TABLE_ORDER + i)))
            return hits_first(ix, h, ix->order[i], (unsigned)(TABLE_ORDER + i));
    }
    return NULL;
}

/* The exact code's row, else the "x.y." row that prefixes it. The code's
 * first byte is compared before anything else: most rows differ there or in
 * the next three. */
static const struct reason_code *
reason_code_lookup(const struct reason_code *table, size_t n, const char *code)
{
    const struct reason_code *prefix_row = NULL;

    if (code == NULL || code[0] == '\0')
        return NULL;
    for (size_t i = 0; i < n; i++) {
        const char *row = table[i].code;
        if (row[0] != code[0] || row[1] != code[1] || row[2] != code[2])
            continue;
        size_t len = strlen(row);
        if (row[len - 1] != '.') {
            if (strcmp(code, row) == 0)
                return &table[i];
        } else if (strncmp(code, row, len) == 0) {
            prefix_row = &table[i];
        }
    }
    return prefix_row;
}

/* Records which rule decided and returns its reason. */
static classify_reason
reason_decided(classify_evidence *ev, const char *rule, const char *matched, const char *source,
               classify_reason reason)
{
    if (ev != NULL) {
        ev->rule = rule;
        ev->matched = matched;
        ev->source = source;
    }
    return reason;
}

static classify_reason
reason_by_pattern(classify_evidence *ev, const char *rule, const struct index_pattern *p)
{
    return reason_decided(ev, rule, p->text, NULL, (classify_reason)p->reason);
}

classify_reason
classify_reason_explain(const char *status, const char *reply_code, const char *diagnostic,
                        classify_evidence *ev)
{
    const struct reason_index *ix = index_get();
    struct reason_text t;
    struct reason_hits h;
    const struct reason_code *code;
    const struct index_pattern *p;

    if (ev != NULL)
        ev->final = ev->soft = false;
    reason_text_init(ix, &t, diagnostic != NULL ? diagnostic : "");
    reason_scan(ix, &t, &h);

    if ((p = hits_first(ix, &h, ix->tokens, TABLE_TOKENS)) != NULL)
        return reason_by_pattern(ev, "provider error token (reason.c reason_provider_tokens)", p);
    if ((p = hits_first(ix, &h, ix->documented, TABLE_DOCUMENTED)) != NULL) {
        const struct reason_rule *row = &reason_documented[p - &ix->patterns[ix->documented.begin]];
        if (ev != NULL) {
            ev->final = row->weight == RULE_FINAL;
            ev->soft = row->weight == RULE_SOFT;
        }
        return reason_decided(ev, "documented wording (reason.c reason_documented)", row->pattern,
                              row->source, row->reason);
    }

    code = reason_code_lookup(reason_status_codes, N_ELEMS(reason_status_codes), status);
    if (code != NULL && code->mode == CODE_DECIDES) {
        if ((p = reason_from_wording(ix, &h, code->overrule)) != NULL)
            return reason_by_pattern(ev, "wording that overrules the status code (reason.c pat_*)", p);
        return reason_decided(ev, "status code (reason.c reason_status_codes)", code->code, "RFC 3463",
                              code->reason);
    }
    if ((p = reason_from_wording(ix, &h, ~UINT64_C(0))) != NULL)
        return reason_by_pattern(ev, "wording (reason.c pat_* in reason_order)", p);
    if (code != NULL)
        return reason_decided(ev, "generic status code (reason.c reason_status_codes)", code->code,
                              "RFC 3463", code->reason);
    /* Catch-all wording never turns a temporary failure into a bad address. */
    p = hits_first(ix, &h, ix->weak, TABLE_WEAK);
    if (p != NULL && !(classify_is_hard((classify_reason)p->reason, "", "") &&
                       reason_is_temporary(status, reply_code)))
        return reason_by_pattern(ev, "catch-all wording (reason.c reason_weak_wording)", p);
    code = reason_code_lookup(reason_reply_codes, N_ELEMS(reason_reply_codes), reply_code);
    if (code != NULL)
        return reason_decided(ev, "reply code (reason.c reason_reply_codes)", code->code, "RFC 5321",
                              code->reason);
    if (t.len > 0)
        return reason_decided(ev, "text that no rule names", NULL, NULL, R(ONHOLD));
    return reason_decided(ev, "no diagnostic", NULL, NULL, R(UNDEFINED));
}

classify_reason
classify_reason_guess(const char *status, const char *reply_code, const char *diagnostic)
{
    return classify_reason_explain(status, reply_code, diagnostic, NULL);
}

/* ------------------------------------------------------------- verdict */

/* Wording that says a suspended or inactive mailbox will come back
 * (RFC 3463 X.2.1: "disabled, permanent or temporary"). */
static const char *const reason_temporary_state[] = { "temporar", "for the time being" };

/* How MTAs say that retries ran out (smtp-replies.md 4.20): the failure is
 * final, but its cause was temporary, so it is a soft bounce named by that
 * cause, never a bad address. */
static const char *const reason_retries_ran_out[] = {
    "retry timeout exceeded",               /* Exim */
    "have been failing for a long time",    /* Exim */
    "has been in the queue too long",       /* qmail */
    "cannot send message for",              /* Sendmail */
    "envelope expired",                     /* OpenSMTPD */
    "message expired",                      /* Microsoft 4.4.7 / 5.4.300 */
};

static bool
reason_says_any(const char *diagnostic, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (classify_find_ci(diagnostic, strlen(diagnostic), list[i]) != NULL)
            return true;
    return false;
}

static bool
reason_says_temporary(const char *diagnostic)
{
    return reason_says_any(diagnostic, reason_temporary_state, N_ELEMS(reason_temporary_state));
}

/* Why a failure whose reason names a bad address is soft after all, or
 * NULL. documented: the reason is the one the wording tables chose. */
static const char *
reason_soft_because(const classify_recipient *r, const classify_evidence *ev, bool documented)
{
    if (reason_says_any(r->diagnostic, reason_retries_ran_out, N_ELEMS(reason_retries_ran_out)))
        return "retries ran out on a temporary cause: a soft bounce, never a bad address";
    if (documented && ev->soft)
        return "the documented wording says the mailbox takes mail again later: soft";
    if (r->reason == R(SUSPEND) && reason_says_temporary(r->diagnostic))
        return "the text says the mailbox is suspended or inactive only for a time: soft";
    return NULL;
}

/* Why the verdict is what it is, for a recipient that is not soft by
 * reason_soft_because(). */
static const char *
reason_verdict_because(const classify_recipient *r, bool hard_by_code)
{
    if (r->hard && !hard_by_code)
        return "the documented wording says the address is bad, whatever the code says";
    if (r->hard && r->reason == R(SUSPEND))
        return "an account disabled or closed, refused with a permanent code, is hard";
    if (r->hard)
        return "the address itself is bad (unknown user or domain, moved, no mail accepted): hard at any stage";
    if (classify_default_verdict(r->reason) == CLASSIFY_VERDICT_PERMANENT)
        return "a bad-address reason under a temporary (4xx) code counts as soft";
    return "the reason's default verdict (reason.c reason_verdicts, handler.verdicts)";
}

void
classify_decide(classify_recipient *r)
{
    classify_evidence ev = {0};
    classify_reason guess = classify_reason_explain(r->status, r->reply_code, r->diagnostic, &ev);

    if (r->reason == R(UNDEFINED))
        r->reason = guess;
    else if (r->reason != guess)
        ev = (classify_evidence){ .rule = "the detector's own wording for this mail system (src/classify/mta)" };
    bool documented = guess == r->reason;
    bool hard_by_code = classify_is_hard(r->reason, r->status, r->reply_code);
    const char *soft = hard_by_code || (documented && ev.final) ? reason_soft_because(r, &ev, documented) : NULL;
    r->hard = (hard_by_code || (documented && ev.final)) && soft == NULL;
    r->verdict = r->hard ? CLASSIFY_VERDICT_PERMANENT : classify_default_verdict(r->reason);
    if (!r->hard && r->verdict == CLASSIFY_VERDICT_PERMANENT)
        r->verdict = CLASSIFY_VERDICT_TEMPORARY;
    ev.verdict_rule = soft != NULL ? soft : reason_verdict_because(r, hard_by_code);
    r->evidence = ev;
}
