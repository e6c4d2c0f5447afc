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

/* Every wording rule names who documents it (its 'source', which `classify
 * --explain` prints): a line of ../shared/reference/smtp-replies.md (which
 * cites the providers' and MTAs' own pages and sources), an MTA's source, a
 * provider's error code page by way of Sisimai's Rhost/ module that cites
 * it, Sisimai's Reason/ or Lhost/ vocabulary for generic wording, or, for
 * generic wording in other words or languages, the RFC 3463 (or other RFC)
 * meaning it expresses ("..., other wording"). No rule quotes a sample's own
 * addresses, hosts or ids. */

/* 1. Decisive wording: provider error tokens and phrases exact enough to
 * overrule any status code. The first line to match wins. */
struct reason_token {
    const char *pattern;
    classify_reason reason;
    const char *source;
};

static const struct reason_token reason_provider_tokens[] = {
    /* Orange / France Telecom (OFR_nnn, LPNnnn_nnn) */
    {"ofr_416", R(USERUNKNOWN), "Sisimai Rhost/FrancePTT.pm:80"},
    {"ofr_506", R(SPAMDETECTED), "smtp-replies.md:592 (2.8 Orange)"},
    {"ofr005_505", R(SYSTEMERROR), "Sisimai Rhost/FrancePTT.pm:107"},
    {"lpn007_426", R(SUSPEND), "Sisimai Rhost/FrancePTT.pm:103"},
    {"lpn000_630", R(POLICYVIOLATION), "Sisimai Rhost/FrancePTT.pm:131"},
    {"ofr_999", R(BLOCKED), "smtp-replies.md:590 (2.8 Orange)"},
    /* Facebook recipient policy codes */
    {"rcp-p1", R(USERUNKNOWN), "Sisimai Lhost/Facebook.pm:29"},
    {"rcp-p2", R(FILTERED), "Sisimai Lhost/Facebook.pm:27"},
    {"rcp-p3", R(FILTERED), "Sisimai Lhost/Facebook.pm:36"},
    /* GoDaddy / secureserver.net */
    {"ib401", R(REJECTED), "GoDaddy bounce-back codes, godaddy.com help 3568 (Sisimai Rhost/GoDaddy.pm)"},
    {"ib501", R(BLOCKED), "GoDaddy bounce-back codes, godaddy.com help 3568 (Sisimai Rhost/GoDaddy.pm)"},
    {"ib506", R(REJECTED), "GoDaddy bounce-back codes, godaddy.com help 3568 (Sisimai Rhost/GoDaddy.pm)"},
    {"ib508", R(REJECTED), "GoDaddy bounce-back codes, godaddy.com help 3568 (Sisimai Rhost/GoDaddy.pm)"},
    {"ib510", R(TOOMANYCONN), "GoDaddy bounce-back codes, godaddy.com help 3568 (Sisimai Rhost/GoDaddy.pm)"},
    {"ib512", R(SPAMDETECTED), "GoDaddy bounce-back codes, godaddy.com help 3568 (Sisimai Rhost/GoDaddy.pm)"},
    {"ib605", R(SPAMDETECTED), "GoDaddy bounce-back codes, godaddy.com help 3568 (Sisimai Rhost/GoDaddy.pm)"},
    {"ib607", R(SPEEDING), "GoDaddy bounce-back codes, godaddy.com help 3568 (Sisimai Rhost/GoDaddy.pm)"},
    {"ib705", R(VIRUSDETECTED), "GoDaddy bounce-back codes, godaddy.com help 3568 (Sisimai Rhost/GoDaddy.pm)"},
    /* Cox acceptable-use codes */
    {"aup#cdrbl", R(BLOCKED), "Cox error codes (Sisimai Rhost/Cox.pm)"},
    {"aup#cxbl", R(BLOCKED), "Cox error codes (Sisimai Rhost/Cox.pm)"},
    {"aup#rbl", R(BLOCKED), "Cox error codes (Sisimai Rhost/Cox.pm)"},
    {"aup#cxdns", R(REQUIREPTR), "Cox error codes (Sisimai Rhost/Cox.pm)"},
    {"aup#cxcnct", R(TOOMANYCONN), "Cox error codes (Sisimai Rhost/Cox.pm)"},
    {"aup#cxmxrt", R(TOOMANYCONN), "Cox error codes (Sisimai Rhost/Cox.pm)"},
    {"aup#cxsndr", R(REJECTED), "Cox error codes (Sisimai Rhost/Cox.pm)"},
    {"aup#cxsmtp", R(REJECTED), "Cox error codes (Sisimai Rhost/Cox.pm)"},
    /* Spectrum / Charter incoming codes */
    {"aup#in-1000", R(BLOCKED), "Spectrum email error codes, spectrumbusiness.net (Sisimai Rhost/Spectrum.pm)"},
    {"aup#in-1260", R(BLOCKED), "Spectrum email error codes, spectrumbusiness.net (Sisimai Rhost/Spectrum.pm)"},
    {"aup#in-1300", R(TOOMANYCONN), "Spectrum email error codes, spectrumbusiness.net (Sisimai Rhost/Spectrum.pm)"},
    {"aup#in-1310", R(TOOMANYCONN), "Spectrum email error codes, spectrumbusiness.net (Sisimai Rhost/Spectrum.pm)"},
    {"aup#in-1320", R(TOOMANYCONN), "Spectrum email error codes, spectrumbusiness.net (Sisimai Rhost/Spectrum.pm)"},
    {"aup#in-1330", R(TOOMANYCONN), "Spectrum email error codes, spectrumbusiness.net (Sisimai Rhost/Spectrum.pm)"},
    /* Yahoo: deferral and block codes; unknown users are refused at the
     * end of DATA, which is not a content filter there */
    {"[tss04]", R(BADREPUTATION), "smtp-replies.md:476 (2.4 Yahoo)"},
    {"[tsm01]", R(SPAMDETECTED), "Yahoo Sender Hub codes (smtp-replies.md:476, 1229)"},
    {"[tss09]", R(BLOCKED), "Yahoo Sender Hub codes (smtp-replies.md:476, 1229)"},
    {"[bl21]", R(BLOCKED), "smtp-replies.md:490 (2.4 Yahoo)"},
    {"[bl22]", R(BLOCKED), "Yahoo Sender Hub codes (smtp-replies.md:490, 1229)"},
    {"[bl23]", R(BLOCKED), "Yahoo Sender Hub codes (smtp-replies.md:490, 1229)"},
    {"this user doesn't have a", R(USERUNKNOWN), "smtp-replies.md:471 (2.4 Yahoo)"},
    /* Microsoft / Outlook.com */
    {"ip reputation", R(BADREPUTATION), "smtp-replies.md:251 (2.1 Google)"},
    {"limits for how many messages can be sent", R(TOOMANYCONN),
        "RFC 3463 X.4.5 system congestion; RFC 5321 421, other wording"},
    /* Tencent QQ */
    {"ip frequency limited", R(TOOMANYCONN), "smtp-replies.md:666 (2.12 Tencent QQ Mail)"},
    {"connection frequency limited", R(TOOMANYCONN), "smtp-replies.md:666 (2.12 Tencent QQ Mail)"},
    {"domain frequency limited", R(TOOMANYCONN), "smtp-replies.md:664 (2.12 Tencent QQ Mail)"},
    /* Mimecast */
    {"host network not allowed", R(POLICYVIOLATION), "Sisimai Reason/Blocked.pm"},
    {"mcspamsignature", R(VIRUSDETECTED), "Mimecast SMTP error codes (Sisimai Rhost/Mimecast.pm)"},
    /* wording that is never about the address, whatever the code says */
    {"too many recipients this hour", R(SPEEDING), "Sisimai Reason/TooManyConn.pm"},
    {"sent too many messages this hour", R(SPEEDING), "Sisimai Rhost/GoDaddy.pm:32"},
    {"procmail: ", R(MAILERERROR), "Sisimai MDA.pm:27"},
    {"my name was rejected", R(BLOCKED), "smtp-replies.md:1028 (3.4 qmail)"},
    {"but greeting failed", R(BLOCKED), "smtp-replies.md:1028 (3.4 qmail)"},
    {"throttling failure", R(TOOMANYCONN), "Sisimai Reason/TooManyConn.pm:22"},
    {"sending quota exceeded", R(TOOMANYCONN), "smtp-replies.md:320 (2.1 Google)"},
    {"unusual rate of unsolicited mail", R(BLOCKED), "smtp-replies.md:254 (2.1 Google)"},
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
    /* our own account's sending quota, whatever code carries it (a 5.2.2
     * says "mailbox full", a 5.4.5 "congestion"): never the address's */
    {"email quota exceeded", R(SPEEDING), RULE_BY_REASON,
     "Google 550 5.7.1 'Email quota exceeded': the sender's quota (smtp-replies.md:294)"},
    {"sending limit exceeded", R(SPEEDING), RULE_BY_REASON,
     "Google 550 5.4.5 'Daily user sending limit exceeded', 5.7.1 relay limit (smtp-replies.md:293, 320)"},
    {"submission quota", R(SPEEDING), RULE_BY_REASON,
     "Microsoft 5.2.2 'Submission quota exceeded': the sender's rate, not a full mailbox (smtp-replies.md:361)"},
    {"daily limit for message recipients", R(SPEEDING), RULE_BY_REASON,
     "Microsoft 5.1.90: the sender's daily recipient limit (smtp-replies.md:360)"},
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

/* 3. One table per reason, in no particular order within a table, each
 * ending with a NULL pattern. */
struct reason_pattern {
    const char *pattern;
    const char *source;
};

static const struct reason_pattern pat_userunknown[] = {
    {"#5.1.1 bad address", "Sisimai Reason/UserUnknown.pm"},
    {"550 address invalid", "Sisimai Reason/UserUnknown.pm"},
    {"address does not exist", "smtp-replies.md:636 (2.11 Yandex)"},
    {"address not present in directory", "Sisimai Reason/UserUnknown.pm"},
    {"address unknown", "Sisimai Reason/UserUnknown.pm"},
    {"address*couldn't be found", "Sisimai Lhost/GSuite.pm:31"},
    {"address*could not be found", "Sisimai Reason/UserUnknown.pm:34"},
    {"address*wasn't found", "Sisimai Lhost/Office365.pm:115"},
    {"address wasn\xe2\x80\x99t found", "Microsoft 550 5.1.1 NDR, typographic apostrophe (Sisimai Lhost/Office365.pm)"},
    {"bad destination mailbox address", "smtp-replies.md:104 (1. Enhanced status codes)"},
    {"can't accept user", "Sisimai Reason/UserUnknown.pm"},
    {"destination addresses were unknown", "Sisimai Reason/UserUnknown.pm"},
    {"destination server rejected recipients", "Sisimai Reason/UserUnknown.pm"},
    {"email account that you tried to reach does not exist", "smtp-replies.md:216 (2.1 Google)"},
    {"email address does not exist", "Sisimai Reason/UserUnknown.pm"},
    {"email address could not be found", "Sisimai Reason/UserUnknown.pm"},
    {"inactive email address", "smtp-replies.md:506 (2.5 Apple iCloud Mail)"},
    {"invalid address", "Sisimai Reason/UserUnknown.pm"},
    {"invalid mailbox", "smtp-replies.md:618 (2.10 Mail.ru)"},
    {"invalid recipient", "smtp-replies.md:647 (2.11 Yandex)"},
    {"invalid user", "Sisimai MDA.pm:69"},
    {"is not a known user", "Sisimai Reason/UserUnknown.pm"},
    {"is not a valid mailbox", "Sisimai Reason/UserUnknown.pm"},
    {"mailbox does not exist", "Sisimai Reason/UserUnknown.pm"},
    {"mailbox invalid", "Sisimai Reason/UserUnknown.pm"},
    {"mailbox is unavailable", "Sisimai Reason/UserUnknown.pm"},
    {"mailbox not found", "smtp-replies.md:660 (2.12 Tencent QQ Mail)"},
    {"mailbox not present", "Sisimai Reason/UserUnknown.pm"},
    {"mailbox unavailable", "smtp-replies.md:78 (0. Basic SMTP reply codes)"},
    {"nessun utente simile in questo indirizzo", "Sisimai Reason/UserUnknown.pm"},
    {"no account by that name here", "Sisimai Reason/UserUnknown.pm"},
    {"no existe dicha persona", "Sisimai Reason/UserUnknown.pm"},
    {"no existe ese usuario", "RFC 3463 X.1.1 bad destination mailbox address, other wording"},
    {"no mail box available for this user", "Sisimai Reason/UserUnknown.pm"},
    {"no mailbox by that name", "RFC 3463 X.1.1 bad destination mailbox address, other wording"},
    {"no mailbox here by that name", "smtp-replies.md:1007 (3.4 qmail)"},
    {"no mailbox found", "Sisimai Reason/UserUnknown.pm"},
    {"no such address", "RFC 3463 X.1.1 bad destination mailbox address, other wording"},
    {"no such mailbox", "Sisimai Reason/UserUnknown.pm"},
    {"no such person at this address", "Sisimai Reason/UserUnknown.pm"},
    {"no such recipient", "Sisimai Reason/UserUnknown.pm"},
    {"no such user", "smtp-replies.md:562 (2.7 United Internet)"},
    {"not a valid recipient", "Sisimai Reason/UserUnknown.pm"},
    {"not a valid user", "RFC 3463 X.1.1 bad destination mailbox address, other wording"},
    {"not listed in domino directory", "smtp-replies.md:1156 (3.8 HCL)"},
    {"not a local address", "Sisimai Reason/UserUnknown.pm"},
    {"recipient address rejected: access denied", "smtp-replies.md:354 (2.2 Microsoft Exchange Online)"},
    {"recipient address rejected: invalid user", "Sisimai Reason/UserUnknown.pm"},
    {"recipient address rejected: unknown user", "Sisimai Reason/UserUnknown.pm"},
    {"recipient does not exist", "smtp-replies.md:354 (2.2 Microsoft Exchange Online)"},
    {"recipient is not local", "Sisimai Reason/UserUnknown.pm"},
    {"recipient not exist", "Sisimai Reason/UserUnknown.pm"},
    {"recipient not found", "smtp-replies.md:352 (2.2 Microsoft Exchange Online)"},
    {"recipient name is not recognized", "Sisimai Lhost/Exchange2003.pm:116"},
    {"recipient unknown", "Sisimai Reason/UserUnknown.pm"},
    {"recipnotfound", "smtp-replies.md:350 (2.2 Microsoft Exchange Online)"},
    {"recipientnotfound", "smtp-replies.md:352 (2.2 Microsoft Exchange Online)"},
    {"requested action not taken: mailbox unavailable", "smtp-replies.md:353 (2.2 Microsoft Exchange Online)"},
    {"sorry, user unknown", "Sisimai Reason/UserUnknown.pm"},
    {"sorry, your envelope recipients are invalid", "RFC 3463 X.1.1 bad destination mailbox address, other wording"},
    {"that domain or user does not exist", "Sisimai Reason/UserUnknown.pm"},
    {"the user's email name is not found", "Sisimai Reason/UserUnknown.pm"},
    {"there is no one at this address", "Sisimai Reason/UserUnknown.pm"},
    {"this address no longer accepts mail", "Sisimai Reason/UserUnknown.pm"},
    {"this email address is wrong or no longer valid", "Sisimai Reason/UserUnknown.pm"},
    {"this recipient is not in my validrcptto list", "Sisimai Reason/UserUnknown.pm"},
    {"unknown mailbox", "Sisimai Reason/UserUnknown.pm"},
    {"unknown recipient", "smtp-replies.md:757 (2.15 Filtering gateways)"},
    {"unknown user", "smtp-replies.md:562 (2.7 United Internet)"},
    {"unknown address", "Sisimai Lhost/AmazonSES.pm:302"},
    {"unknown e-mail address", "Sisimai Reason/UserUnknown.pm"},
    {"unknown local part", "smtp-replies.md:574 (2.7 United Internet)"},
    {"unknown or illegal alias", "RFC 3463 X.1.1 bad destination mailbox address, other wording"},
    {"user does not exist", "smtp-replies.md:505 (2.5 Apple iCloud Mail)"},
    {"user invalid", "RFC 3463 X.1.1 bad destination mailbox address, other wording"},
    {"user mailbox is not found", "RFC 3463 X.1.1 bad destination mailbox address, other wording"},
    {"user not exist", "Sisimai Reason/UserUnknown.pm"},
    {"user not found", "smtp-replies.md:618 (2.10 Mail.ru)"},
    {"user not known", "Sisimai Reason/UserUnknown.pm"},
    {"user unknown", "smtp-replies.md:574 (2.7 United Internet)"},
    {"userunknown", "Sisimai Data.pm:419"},
    {"utilisateur inconnu", "Sisimai Reason/UserUnknown.pm:138"},
    {"destinataire invalide", "Sisimai Rhost/FrancePTT.pm:78"},
    {"adresse inconnue", "RFC 3463 X.1.1 bad destination mailbox address, other wording"},
    {"vdeliver: invalid or unknown virtual user", "Sisimai Reason/UserUnknown.pm"},
    {"weil die adresse nicht gefunden wurde", "RFC 3463 X.1.1 bad destination mailbox address, other wording"},
    {"empfaenger unbekannt", "RFC 3463 X.1.1 bad destination mailbox address, other wording"},
    {"unbekannter empf", "RFC 3463 X.1.1 bad destination mailbox address, other wording"},
    {"account * does not exist", "smtp-replies.md:216 (2.1 Google)"},
    {"mailbox * does not exist", "smtp-replies.md:104 (1. Enhanced status codes)"},
    {"recipient * was not found in", "RFC 3463 X.1.1 bad destination mailbox address, other wording"},
    {"user * does not exist", "smtp-replies.md:471 (2.4 Yahoo)"},
    {"user * was not found", "RFC 3463 X.1.1 bad destination mailbox address, other wording"},
    {"user (*) unknown", "RFC 3463 X.1.1 bad destination mailbox address, other wording"},
    {"rcpt <* does not exist", "RFC 3463 X.1.1 bad destination mailbox address, other wording"},
    {"no such local user", "smtp-replies.md:856 (3.1 Postfix)"},
    {"unable to deliver message to <", "Sisimai Lhost/InterScanMSS.pm:48"},
    {"ディレクトリのリストにありません", "Sisimai Lhost/Notes.pm:27"}, /* Lotus Notes: not in the directory list */
    {"ディレクトリには見つかりません", "Sisimai Lhost/Domino.pm:31"}, /* Domino: not found in the directory */
    {"no such account", "RFC 3463 X.1.1 bad destination mailbox address, other wording"},
    {"account does not exist", "Sisimai Rhost/GoDaddy.pm:45"},
    {"user doesn't exist", "RFC 3463 X.1.1 bad destination mailbox address, other wording"},
    {"no user by that name", "RFC 3463 X.1.1 bad destination mailbox address, other wording"},
    {"recipient address invalid", "RFC 3463 X.1.1 bad destination mailbox address, other wording"},
    {"invalid recipient address", "smtp-replies.md:1051 (3.5 Microsoft Exchange Server)"},
    {"addressee unknown", "RFC 3463 X.1.1 bad destination mailbox address, other wording"},
    {"recipient is not valid", "RFC 3463 X.1.1 bad destination mailbox address, other wording"},
    {"mailbox name not allowed", "smtp-replies.md:81 (0. Basic SMTP reply codes)"},
    {"user is unknown", "smtp-replies.md:573 (2.7 United Internet)"},
    {"unknown recipient address", "Sisimai Reason/UserUnknown.pm"},
    {"not a valid address", "RFC 3463 X.1.1 bad destination mailbox address, other wording"},
    {"exrecipnotfound", "smtp-replies.md:351 (2.2 Microsoft Exchange Online)"},
    {"not listed in public name", "smtp-replies.md:1157 (3.8 HCL)"},
    {"benutzer unbekannt", "RFC 3463 X.1.1 bad destination mailbox address, other wording"},
    {"empfänger unbekannt", "RFC 3463 X.1.1 bad destination mailbox address, other wording"},
    {"usuario desconocido", "RFC 3463 X.1.1 bad destination mailbox address, other wording"},
    {"utente sconosciuto", "RFC 3463 X.1.1 bad destination mailbox address, other wording"},
    {"usuário desconhecido", "RFC 3463 X.1.1 bad destination mailbox address, other wording"},
    {"recent history of bouncing as an invalid address", "Sisimai Reason/UserUnknown.pm"},
    {"undeliverable address", "smtp-replies.md:830 (3.1 Postfix)"},
    {"no longer exists", "RFC 3463 X.1.1 bad destination mailbox address, other wording"},
    {"address not found", "smtp-replies.md:352 (2.2 Microsoft Exchange Online)"},
    {"mailbox not available", "RFC 3463 X.1.1 bad destination mailbox address, other wording"},
    {"not a valid e-mail address", "RFC 3463 X.1.1 bad destination mailbox address, other wording"},
    {"not a valid email address", "RFC 3463 X.1.1 bad destination mailbox address, other wording"},
    {"unknown account", "RFC 3463 X.1.1 bad destination mailbox address, other wording"},
    {"unbekannter benutzer", "RFC 3463 X.1.1 bad destination mailbox address, other wording"},
    {"adresse existiert nicht", "RFC 3463 X.1.1 bad destination mailbox address, other wording"},
    {"destinataire inconnu", "RFC 3463 X.1.1 bad destination mailbox address, other wording"},
    {"usuario no existe", "RFC 3463 X.1.1 bad destination mailbox address, other wording"},
    {"utente inesistente", "RFC 3463 X.1.1 bad destination mailbox address, other wording"},
    {"usuário inexistente", "RFC 3463 X.1.1 bad destination mailbox address, other wording"},
    {"onbekende gebruiker", "RFC 3463 X.1.1 bad destination mailbox address, other wording"},
    {NULL, NULL},
};

static const struct reason_pattern pat_mailboxfull[] = {
    {"account is exceeding their quota", "Sisimai Reason/MailboxFull.pm"},
    {"account is over quota", "smtp-replies.md:472 (2.4 Yahoo)"},
    {"account is temporarily over quota", "Sisimai Reason/MailboxFull.pm"},
    {"boite du destinataire pleine", "Sisimai Reason/MailboxFull.pm"},
    {"delivery failed: over quota", "Sisimai Reason/MailboxFull.pm"},
    {"disc quota exceeded", "Sisimai Reason/MailboxFull.pm"},
    {"disk quota exceeded", "smtp-replies.md:649 (2.11 Yandex)"},
    {"diskspace quota", "RFC 3463 X.2.2 mailbox full, other wording"},
    {"does not have enough space", "Sisimai Reason/MailboxFull.pm"},
    {"exceeding its mailbox quota", "Sisimai Reason/MailboxFull.pm"},
    {"full mailbox", "smtp-replies.md:361 (2.2 Microsoft Exchange Online)"},
    {"inbox is full", "RFC 3463 X.2.2 mailbox full, other wording"},
    {"inbox is out of storage space", "smtp-replies.md:226 (2.1 Google)"},
    {"out of storage space", "smtp-replies.md:226 (2.1 Google)"},
    {"insufficient storage space", "RFC 3463 X.2.2 mailbox full, other wording"},
    {"is over disk quota", "Sisimai Reason/MailboxFull.pm"},
    {"is over quota", "smtp-replies.md:227 (2.1 Google)"},
    {"mail file size exceeds the maximum size allowed for mail delivery", "Sisimai Reason/MailboxFull.pm"},
    {"mail quota exceeded", "smtp-replies.md:294 (2.1 Google)"},
    {"mailbox exceeded the local limit", "Sisimai Reason/MailboxFull.pm"},
    {"mailbox exceeds allowed size", "Sisimai Lhost/IMailServer.pm:37"},
    {"mailbox full", "smtp-replies.md:80 (0. Basic SMTP reply codes)"},
    {"mailbox is full", "smtp-replies.md:926 (3.2 Exim)"},
    {"mailbox is over quota", "RFC 3463 X.2.2 mailbox full, other wording"},
    {"mailbox limit has been exceeded", "RFC 3463 X.2.2 mailbox full, other wording"},
    {"mailbox over quota", "Sisimai Reason/MailboxFull.pm"},
    {"mailbox size limit exceeded", "smtp-replies.md:644 (2.11 Yandex)"},
    {"mailbox has exceeded", "Sisimai Rhost/ExchangeOnline.pm:228"},
    {"mailbox would exceed", "Sisimai Reason/MailboxFull.pm:49"},
    {"maildir over quota", "smtp-replies.md:564 (2.7 United Internet)"},
    {"message would exceed quota", "RFC 3463 X.2.2 mailbox full, other wording"},
    {"not enough disk space", "Sisimai MDA.pm:47"},
    {"not enough storage space", "Sisimai Reason/MailboxFull.pm:44"},
    {"over the allowed quota", "Sisimai Reason/MailboxFull.pm"},
    {"overquota", "Sisimai Rhost/FrancePTT.pm:84"},
    {"over quota", "smtp-replies.md:226 (2.1 Google)"},
    {"quota exceeded", "smtp-replies.md:116 (1. Enhanced status codes)"},
    {"quota violation", "Sisimai MDA.pm:91"},
    {"quotaexceeded", "smtp-replies.md:363 (2.2 Microsoft Exchange Online)"},
    {"reached disk quota", "Sisimai Reason/MailboxFull.pm:48"},
    {"recipient's mailbox is full", "Sisimai Reason/MailboxFull.pm"},
    {"number of messages in recipient's mailbox exceeded", "Sisimai Lhost/Biglobe.pm:30"},
    {"the user's space has been used up", "Sisimai Reason/MailboxFull.pm"},
    {"user has exceeded quota", "Sisimai Reason/MailboxFull.pm:54"},
    {"user has too many messages on the server", "smtp-replies.md:575 (2.7 United Internet)"},
    {"user is over quota", "Sisimai Reason/MailboxFull.pm"},
    {"user is over the quota", "Sisimai Reason/MailboxFull.pm"},
    {"user over quota", "Sisimai Reason/MailboxFull.pm"},
    {"would be over the allowed quota", "Sisimai Reason/MailboxFull.pm"},
    {"postfach voll", "RFC 3463 X.2.2 mailbox full, other wording"},
    {"speicherplatz", "RFC 3463 X.2.2 mailbox full, other wording"},
    {"casella piena", "RFC 3463 X.2.2 mailbox full, other wording"},
    {"buzon lleno", "RFC 3463 X.2.2 mailbox full, other wording"},
    {"mailbox * is full", "Sisimai MDA.pm:46"},
    {"mailbox * over quota", "smtp-replies.md:622 (2.10 Mail.ru)"},
    {"mailbox quota", "smtp-replies.md:116 (1. Enhanced status codes)"},
    {"quota full", "RFC 3463 X.2.2 mailbox full, other wording"},
    {"storage quota", "smtp-replies.md:609 (2.9 Deutsche Telekom T-Online)"},
    {"mail box full", "RFC 3463 X.2.2 mailbox full, other wording"},
    {"inbox full", "RFC 3463 X.2.2 mailbox full, other wording"},
    {"mailfolder is full", "Sisimai Reason/MailboxFull.pm"},
    {"account is full", "smtp-replies.md:649 (2.11 Yandex)"},
    {"storage limit", "Sisimai Rhost/GoDaddy.pm:44"},
    {"exceeded * quota", "smtp-replies.md:293 (2.1 Google)"},
    {"exceeds * quota", "RFC 3463 X.2.2 mailbox full, other wording"},
    {"caixa cheia", "RFC 3463 X.2.2 mailbox full, other wording"},
    {"boite pleine", "RFC 3463 X.2.2 mailbox full, other wording"},
    {"postfach ist voll", "RFC 3463 X.2.2 mailbox full, other wording"},
    {"mailbox ist voll", "RFC 3463 X.2.2 mailbox full, other wording"},
    {"quota dépassé", "RFC 3463 X.2.2 mailbox full, other wording"},
    {"boîte pleine", "RFC 3463 X.2.2 mailbox full, other wording"},
    {"boîte aux lettres pleine", "RFC 3463 X.2.2 mailbox full, other wording"},
    {"buzón lleno", "RFC 3463 X.2.2 mailbox full, other wording"},
    {"caixa postal cheia", "RFC 3463 X.2.2 mailbox full, other wording"},
    {"caixa de correio cheia", "RFC 3463 X.2.2 mailbox full, other wording"},
    {"mailbox vol", "RFC 3463 X.2.2 mailbox full, other wording"},
    {NULL, NULL},
};

static const struct reason_pattern pat_mesgtoobig[] = {
    {"exceeded maximum inbound message size", "Sisimai Reason/MesgTooBig.pm"},
    {"line limit exceeded", "Sisimai Reason/MesgTooBig.pm"},
    {"mail size limit exceeded", "Sisimai Reason/MesgTooBig.pm"},
    {"max message size exceeded", "Sisimai Reason/MesgTooBig.pm"},
    {"message file too big", "smtp-replies.md:852 (3.1 Postfix)"},
    {"message length exceeds administrative limit", "smtp-replies.md:117 (1. Enhanced status codes)"},
    {"message size exceeds fixed limit", "smtp-replies.md:845 (3.1 Postfix)"},
    {"message size exceeds maximum value", "smtp-replies.md:973 (3.3 Sendmail)"},
    {"message size exceeds the limit", "RFC 3463 X.3.4 message too big for system, other wording"},
    {"message too big", "smtp-replies.md:123 (1. Enhanced status codes)"},
    {"message too large", "smtp-replies.md:80 (0. Basic SMTP reply codes)"},
    {"message is too large", "Sisimai Rhost/ExchangeOnline.pm:170"},
    {"message is too big", "smtp-replies.md:168 (1. Enhanced status codes)"},
    {"size limit exceeded", "Sisimai Reason/MesgTooBig.pm"},
    {"message size exceeds", "smtp-replies.md:845 (3.1 Postfix)"},
    {"taille limite du message atteinte", "Sisimai Reason/MesgTooBig.pm"},
    {"exceeds size limit", "Sisimai Reason/MesgTooBig.pm"},
    {"exceeds the maximum size", "Sisimai Reason/MailboxFull.pm:31"},
    {"message size limits", "smtp-replies.md:229 (2.1 Google)"},
    {"exceeds the size limit", "Sisimai Reason/MesgTooBig.pm"},
    {"message exceeds the maximum", "RFC 3463 X.3.4 message too big for system, other wording"},
    {"recipsizelimit", "smtp-replies.md:1059 (3.5 Microsoft Exchange Server)"},
    {NULL, NULL},
};

static const struct reason_pattern pat_exceedlimit[] = {
    {"message header size exceeds limit", "Sisimai Reason/ExceedLimit.pm"},
    {"message exceeds the limit set by recipient",
        "RFC 3463 X.2.3 message length exceeds administrative limit, other wording"},
    {NULL, NULL},
};

static const struct reason_pattern pat_suspend[] = {
    {" is currently suspended", "Sisimai Reason/Suspend.pm:18"},
    {" temporary locked", "Sisimai Reason/Suspend.pm:19"},
    {"account has been suspended", "Sisimai Reason/Suspend.pm"},
    {"account has been disabled", "smtp-replies.md:473 (2.4 Yahoo)"},
    {"account has been deactivated", "RFC 3463 X.2.1 mailbox disabled, other wording"},
    {"account is disabled", "smtp-replies.md:165 (1. Enhanced status codes)"},
    {"account is inactive", "RFC 3463 X.2.1 mailbox disabled, other wording"},
    {"account is locked", "Sisimai MDA.pm:77"},
    {"account is suspended", "RFC 3463 X.2.1 mailbox disabled, other wording"},
    {"account disabled", "smtp-replies.md:165 (1. Enhanced status codes)"},
    {"account inactive", "RFC 3463 X.2.1 mailbox disabled, other wording"},
    {"boite du destinataire archivee", "Sisimai Reason/Suspend.pm"},
    {"email account that you tried to reach is disabled", "smtp-replies.md:221 (2.1 Google)"},
    {"email account that you tried to reach is inactive", "smtp-replies.md:220 (2.1 Google)"},
    {"has been disabled", "smtp-replies.md:473 (2.4 Yahoo)"},
    {"has been suspended", "Sisimai Reason/Suspend.pm"},
    {"inactive account", "smtp-replies.md:573 (2.7 United Internet)"},
    {"invalid/inactive user", "Sisimai Reason/Suspend.pm"},
    {"is a deactivated mailbox", "Sisimai Reason/Suspend.pm"},
    {"is unavailable: user is terminated", "smtp-replies.md:619 (2.10 Mail.ru)"},
    {"mailbox currently suspended", "Sisimai Reason/Suspend.pm"},
    {"mailbox disabled", "smtp-replies.md:115 (1. Enhanced status codes)"},
    {"mailbox has been disabled", "RFC 3463 X.2.1 mailbox disabled, other wording"},
    {"mailbox is disabled", "Sisimai Reason/Suspend.pm:31"},
    {"mailbox is frozen", "Sisimai Reason/Suspend.pm"},
    {"mailbox is inactive", "Sisimai Reason/UserUnknown.pm"},
    {"mailbox unavailable or access denied", "Sisimai Reason/Suspend.pm"},
    {"recipient rejected: temporarily inactive", "Sisimai Reason/Suspend.pm"},
    {"recipient suspend the service", "Sisimai Reason/Suspend.pm"},
    {"this account has been disabled or discontinued", "smtp-replies.md:473 (2.4 Yahoo)"},
    {"this account has been temporarily suspended", "RFC 3463 X.2.1 mailbox disabled, other wording"},
    {"user or domain is disabled", "RFC 3463 X.2.1 mailbox disabled, other wording"},
    {"user suspended", "smtp-replies.md:697 (2.13 NetEase)"},
    {"account is temporarily unavailable", "RFC 3463 X.2.1 mailbox disabled, other wording"},
    {"le compte du destinataire est bloque", "Sisimai Rhost/FrancePTT.pm:103"},
    {"mailbox * has been suspended", "Sisimai Reason/Suspend.pm"},
    {"has been deactivated", "RFC 3463 X.2.1 mailbox disabled, other wording"},
    {"temporarily disabled", "Sisimai SMTP/Status.pm:136"},
    {"account frozen", "RFC 3463 X.2.1 mailbox disabled, other wording"},
    {"account has expired", "RFC 3463 X.2.1 mailbox disabled, other wording"},
    {NULL, NULL},
};

static const struct reason_pattern pat_hasmoved[] = {
    {" has been replaced by ", "Sisimai Reason/HasMoved.pm:17"},
    {"destination mailbox has moved", "smtp-replies.md:109 (1. Enhanced status codes)"},
    {"mailbox has moved", "smtp-replies.md:109 (1. Enhanced status codes)"},
    {"recipient no longer on server", "RFC 3463 X.1.6 destination mailbox has moved, other wording"},
    {"user has moved", "RFC 3463 X.1.6 destination mailbox has moved, other wording"},
    {"address has changed", "RFC 3463 X.1.6 destination mailbox has moved, other wording"},
    {"no longer on server", "Sisimai Data.pm:665"},
    {"user not local", "smtp-replies.md:79 (0. Basic SMTP reply codes)"},
    {NULL, NULL},
};

static const struct reason_pattern pat_hostunknown[] = {
    {"domain does not exist", "smtp-replies.md:105 (1. Enhanced status codes)"},
    {"domain is not reachable", "Sisimai Reason/HostUnknown.pm"},
    {"domain must exist", "Sisimai Reason/HostUnknown.pm"},
    {"domain name not found", "smtp-replies.md:647 (2.11 Yandex)"},
    {"does not appear to be registered", "RFC 3463 X.1.2 bad destination system address, other wording"},
    {"host or domain name not found", "smtp-replies.md:647 (2.11 Yandex)"},
    {"host unknown", "smtp-replies.md:961 (3.3 Sendmail)"},
    {"host not found", "smtp-replies.md:865 (3.1 Postfix)"},
    {"mail domain mentioned in email address is unknown", "Sisimai Reason/HostUnknown.pm"},
    {"name or service not known", "Sisimai Reason/HostUnknown.pm"},
    {"no such domain", "smtp-replies.md:647 (2.11 Yandex)"},
    {"recipient address rejected: unknown domain", "Sisimai Reason/HostUnknown.pm:27"},
    {"recipient domain must exist", "Sisimai Reason/HostUnknown.pm"},
    {"the account or domain may not exist", "Sisimai Reason/HostUnknown.pm"},
    {"unknown domain", "Sisimai Reason/HostUnknown.pm:27"},
    {"unknown host", "smtp-replies.md:972 (3.3 Sendmail)"},
    {"unroutable address", "Sisimai Reason/HostUnknown.pm"},
    {"unrouteable address", "smtp-replies.md:647 (2.11 Yandex)"},
    {"couldn't find any host named", "smtp-replies.md:1008 (3.4 qmail)"},
    {"could not find any host named", "RFC 3463 X.1.2 bad destination system address, other wording"},
    {"domain * does not exist", "smtp-replies.md:865 (3.1 Postfix)"},
    {"553 * does not exist", "Sisimai Reason/HostUnknown.pm:34"},
    {"domain not found", "smtp-replies.md:217 (2.1 Google)"},
    {"no such host", "RFC 3463 X.1.2 bad destination system address, other wording"},
    {"nxdomain", "Sisimai Lhost/GSuite.pm:33"},
    {"all relevant mx records point to non-existent hosts", "smtp-replies.md:934 (3.2 Exim)"},
    {"all host address lookups failed permanently", "smtp-replies.md:935 (3.2 Exim)"},
    {"illegal host/domain name found", "Sisimai Lhost/MessagingServer.pm:28"},
    {"destination email system is unknown", "RFC 3463 X.1.2 bad destination system address, other wording"},
    {NULL, NULL},
};

static const struct reason_pattern pat_notaccept[] = {
    {"does not accept mail", "smtp-replies.md:73 (0. Basic SMTP reply codes)"},
    {"doesn't accept mail", "Sisimai Rhost/ExchangeOnline.pm:306"},
    {"does not receive email", "RFC 7505 null MX; RFC 3463 X.1.10, other wording"},
    {"mail receiving disabled", "RFC 7505 null MX; RFC 3463 X.1.10, other wording"},
    {"null mx", "smtp-replies.md:84 (0. Basic SMTP reply codes)"},
    {"nullmx", "smtp-replies.md:816 (3.1 Postfix)"},
    {"an mx or srv record indicated no smtp service", "Sisimai Lhost/Exim.pm:105"},
    {"no mx record found for domain", "Sisimai Reason/NotAccept.pm:23"},
    {"couldn't find a mail exchanger", "smtp-replies.md:1009 (3.4 qmail)"},
    {"could not find a mail exchanger", "RFC 7505 null MX; RFC 3463 X.1.10, other wording"},
    {"not accepting network messages", "smtp-replies.md:121 (1. Enhanced status codes)"},
    {"destination seem to reject all mails", "Sisimai Lhost/OpenSMTPD.pm:63"},
    {NULL, NULL},
};

static const struct reason_pattern pat_filtered[] = {
    {"because the recipient is only accepting mail from specific email addresses", "Sisimai Reason/Filtered.pm"},
    {"bounced address", "Sisimai Reason/Filtered.pm"},
    {"due to extended inactivity new mail is not currently being accepted", "Sisimai Reason/Filtered.pm:20"},
    {"has restricted sms e-mail", "Sisimai Reason/Filtered.pm"},
    {"is not accepting any mail", "Sisimai Reason/Filtered.pm"},
    {"refused due to recipient preferences", "Sisimai Reason/Filtered.pm"},
    {"resolver.rst.notauthorized", "Sisimai Reason/Filtered.pm"},
    {"this account is protected by", "Sisimai Reason/Filtered.pm"},
    {"user reject", "smtp-replies.md:396 (2.2 Microsoft Exchange Online)"},
    {"recipient id refuse to receive mail", "Sisimai Reason/Filtered.pm:30"},
    {"you have been blocked by the recipient", "Sisimai Reason/Filtered.pm"},
    {"message filtered", "Sisimai Reason/SpamDetected.pm"},
    {"rejected by the domain filter", "RFC 3463 X.2.0 / X.7.1: the recipient refuses this mail, other wording"},
    {"header error", "Sisimai Reason/PolicyViolation.pm"},
    {NULL, NULL},
};

static const struct reason_pattern pat_rejected[] = {
    {"access denied (in reply to mail from command)", "Sisimai Reason/Rejected.pm"},
    {"administrative prohibition", "smtp-replies.md:907 (3.2 Exim)"},
    {"all recipient addresses rejected : access denied", "Sisimai Reason/Rejected.pm"},
    {"by non-member to a members-only list", "Sisimai Reason/PolicyViolation.pm"},
    {"can not check your address", "RFC 3463 X.1.7 / X.1.8 bad sender address, other wording"},
    {"closed mailing list", "Sisimai Reason/PolicyViolation.pm"},
    {"domain of sender address", "smtp-replies.md:968 (3.3 Sendmail)"},
    {"email address is on senderfilterconfig list", "Sisimai Reason/Rejected.pm"},
    {"emetteur invalide", "smtp-replies.md:593 (2.8 Orange)"},
    {"empty envelope senders not allowed", "Sisimai Reason/Rejected.pm"},
    {"envelope blocked", "smtp-replies.md:752 (2.15 Filtering gateways)"},
    {"error: no third-party dsns", "Sisimai Reason/Rejected.pm"},
    {"from: domain is invalid", "Sisimai Rhost/GoDaddy.pm:33"},
    {"fully qualified email address required", "Sisimai Reason/Rejected.pm"},
    {"invalid sender", "smtp-replies.md:593 (2.8 Orange)"},
    {"is not a registered gateway user", "Sisimai Reason/Rejected.pm"},
    {"mail from not owned by user", "Sisimai Reason/Rejected.pm"},
    {"mailfrom domain is listed in spamhaus", "RFC 3463 X.1.7 / X.1.8 bad sender address, other wording"},
    {"not a member of this mailing list", "Sisimai Lhost/FML.pm:49"},
    {"not a member of this group", "RFC 3463 X.1.7 / X.1.8 bad sender address, other wording"},
    {"null sender is not allowed", "smtp-replies.md:702 (2.13 NetEase)"},
    {"returned mail not accepted here", "Sisimai Reason/Rejected.pm"},
    {"sender address has been blacklisted", "Sisimai Reason/Rejected.pm"},
    {"sender address rejected", "smtp-replies.md:812 (3.1 Postfix)"},
    {"sender email address rejected", "Sisimai Reason/Rejected.pm"},
    {"sender is in my badmailfrom list", "smtp-replies.md:1018 (3.4 qmail)"},
    {"sender is spammer", "Sisimai Reason/Rejected.pm"},
    {"sender not pre-approved", "Sisimai Reason/Rejected.pm"},
    {"sender rejected", "smtp-replies.md:764 (2.15 Filtering gateways)"},
    {"sender domain is empty", "Sisimai Reason/Rejected.pm"},
    {"sender verify failed", "smtp-replies.md:900 (3.2 Exim)"},
    {"sender was rejected", "smtp-replies.md:1027 (3.4 qmail)"},
    {"the message has been rejected by batv defense", "Sisimai Reason/Rejected.pm"},
    {"this server does not accept mail from", "Sisimai Reason/Rejected.pm"},
    {"unroutable sender address", "Sisimai Reason/Rejected.pm"},
    {"you are not allowed to post to this mailing list", "Sisimai Reason/Rejected.pm"},
    {"you are sending to/from an address that has been blacklisted", "Sisimai Reason/Rejected.pm"},
    {"your email address has been blacklisted", "Sisimai Reason/Blocked.pm"},
    {"sender address * does not exist", "smtp-replies.md:968 (3.3 Sendmail)"},
    {"sender domain * does not exist", "RFC 3463 X.1.7 / X.1.8 bad sender address, other wording"},
    {"permission to post messages to the group", "Sisimai Lhost/GoogleGroups.pm:27"},
    {"you may not have permission to post", "Sisimai Lhost/GoogleGroups.pm:27"},
    {"unresolvable rfc.5321 from domain", "RFC 3463 X.1.7 / X.1.8 bad sender address, other wording"},
    {"unresolvable rfc.5322 from domain", "RFC 3463 X.1.7 / X.1.8 bad sender address, other wording"},
    {NULL, NULL},
};

static const struct reason_pattern pat_blocked[] = {
    {" said: 550 blocked", "Sisimai Reason/Blocked.pm:18"},
    {"//www.spamcop.net/bl.", "RFC 3463 X.7.1: our sending host refused (smtp-replies.md:20), other wording"},
    {"spamhaus.org/query", "Sisimai Rhost/GoDaddy.pm:41"},
    {"bad sender ip address", "Sisimai Reason/Blocked.pm"},
    {"banned sending ip", "smtp-replies.md:415 (2.2 Microsoft Exchange Online)"},
    {"blacklisted by", "Sisimai Reason/Blocked.pm"},
    {"listed as an open relay", "RFC 3463 X.7.1: our sending host refused (smtp-replies.md:20), other wording"},
    {"blocked using ", "smtp-replies.md:389 (2.2 Microsoft Exchange Online)"},
    {"blocked - see http", "smtp-replies.md:753 (2.15 Filtering gateways)"},
    {"dnsbl:", "Sisimai Reason/Blocked.pm:59"},
    {"client host rejected: may not be mail exchanger", "Sisimai Reason/Blocked.pm"},
    {"client host rejected: was not authenticated", "Sisimai Reason/Blocked.pm"},
    {"confirm this mail server", "Sisimai Reason/Blocked.pm"},
    {"connection dropped", "Sisimai Reason/Blocked.pm"},
    {"connection was dropped by remote host", "Sisimai Reason/Blocked.pm"},
    {"connections not accepted from ip addresses on spamhaus",
        "RFC 3463 X.7.1: our sending host refused (smtp-replies.md:20), other wording"},
    {"currently sending spam", "Sisimai Reason/Blocked.pm:53"},
    {"dynamic/zombied/spam ips blocked", "Sisimai Reason/Blocked.pm"},
    {"esmtp not accepting connections", "Sisimai Reason/Blocked.pm"},
    {"not accepting connections", "Sisimai Reason/Blocked.pm:63"},
    {"extreme bad ip profile", "Sisimai Reason/Blocked.pm"},
    {"go away", "Sisimai Reason/Blocked.pm"},
    {"helo command rejected:", "smtp-replies.md:821 (3.1 Postfix)"},
    {"hosts with dynamic ip", "Sisimai Reason/Blocked.pm"},
    {"invalid ip for sending mail", "Sisimai Reason/Blocked.pm:75"},
    {"is in a black list", "smtp-replies.md:906 (3.2 Exim)"},
    {"is listed in a blocklist", "RFC 3463 X.7.1: our sending host refused (smtp-replies.md:20), other wording"},
    {"is not allowed to send mail from", "Sisimai Reason/Blocked.pm"},
    {"no access from mail server", "Sisimai Reason/Blocked.pm"},
    {"not currently accepting mail from your ip", "Sisimai Reason/Blocked.pm"},
    {"part of their network is on our block list", "smtp-replies.md:449 (2.3 Outlook.com)"},
    {"please use the smtp server of your isp", "Sisimai Reason/Blocked.pm"},
    {"refused - see http", "RFC 3463 X.7.1: our sending host refused (smtp-replies.md:20), other wording"},
    {"rejected - multi-blacklist", "RFC 3463 X.7.1: our sending host refused (smtp-replies.md:20), other wording"},
    {"rejecting open proxy", "Sisimai Reason/Blocked.pm"},
    {"sender ip address rejected", "Sisimai Reason/Blocked.pm"},
    {"server access forbidden by your ip",
        "RFC 3463 X.7.1: our sending host refused (smtp-replies.md:20), other wording"},
    {"service not available, closing transmission channel", "Sisimai Reason/Blocked.pm"},
    {"refused to talk to me", "smtp-replies.md:878 (3.1 Postfix)"},
    {"smtp error from remote mail server after initial connection", "Sisimai Reason/Blocked.pm:126"},
    {"sorry, your remotehost looks suspiciously like spammer", "Sisimai Reason/Blocked.pm"},
    {"too many spams from your ip", "Sisimai Reason/Blocked.pm"},
    {"too many unwanted messages have been sent",
        "RFC 3463 X.7.1: our sending host refused (smtp-replies.md:20), other wording"},
    {"was blocked by ", "Sisimai Reason/Blocked.pm:147"},
    {"we do not accept mail from dynamic ips", "Sisimai Reason/Blocked.pm"},
    {"you are not allowed to connect", "Sisimai Reason/Blocked.pm"},
    {"your network is temporary blacklisted", "Sisimai Reason/Blocked.pm"},
    {"your server requires confirmation", "Sisimai Reason/Blocked.pm"},
    {"messages from * weren't sent", "smtp-replies.md:449 (2.3 Outlook.com)"},
    {"access from ip address * blocked", "Sisimai Reason/Blocked.pm:21"},
    {"client host * blocked using", "smtp-replies.md:389 (2.2 Microsoft Exchange Online)"},
    {"ip * is blacklisted", "RFC 3463 X.7.1: our sending host refused (smtp-replies.md:20), other wording"},
    {"mail server at * is blocked", "Sisimai Reason/Blocked.pm:87"},
    {"message from * rejected based on blacklist", "Sisimai Reason/Blocked.pm:89"},
    {"server ip * listed as abusive", "Sisimai Reason/Blocked.pm:123"},
    {"your ip * is in rbl", "RFC 3463 X.7.1: our sending host refused (smtp-replies.md:20), other wording"},
    {"is blocked by rbl", "RFC 3463 X.7.1: our sending host refused (smtp-replies.md:20), other wording"},
    {"(bl)", "smtp-replies.md:605 (2.9 Deutsche Telekom T-Online)"},
    {"ip blocked", "smtp-replies.md:572 (2.7 United Internet)"},
    {"blocked by spamhaus", "RFC 3463 X.7.1: our sending host refused (smtp-replies.md:20), other wording"},
    {"listed at spamhaus", "RFC 3463 X.7.1: our sending host refused (smtp-replies.md:20), other wording"},
    {"listed on spamhaus", "smtp-replies.md:531 (2.6 Comcast)"},
    {"spamhaus", "smtp-replies.md:445 (2.3 Outlook.com)"},
    {"spamcop", "Sisimai Reason/Blocked.pm:73"},
    {"barracudacentral", "smtp-replies.md:755 (2.15 Filtering gateways)"},
    {"sorbs.net", "RFC 3463 X.7.1: our sending host refused (smtp-replies.md:20), other wording"},
    {"blocklist", "smtp-replies.md:389 (2.2 Microsoft Exchange Online)"},
    {"blacklist", "smtp-replies.md:668 (2.12 Tencent QQ Mail)"},
    {"block list", "smtp-replies.md:414 (2.2 Microsoft Exchange Online)"},
    {"black list", "smtp-replies.md:906 (3.2 Exim)"},
    {"rbl reject", "Sisimai Rhost/GoDaddy.pm:41"},
    {"ip address has been blocked", "Sisimai Rhost/Cox.pm:16"},
    {"ip has been blocked", "Sisimai Rhost/GoDaddy.pm:25"},
    {"not authorized to send email directly to our servers", "smtp-replies.md:281 (2.1 Google)"},
    {"traffic not accepted from this ip", "smtp-replies.md:418 (2.2 Microsoft Exchange Online)"},
    {"client host rejected", "smtp-replies.md:821 (3.1 Postfix)"},
    {"invalid helo", "RFC 3463 X.7.1: our sending host refused (smtp-replies.md:20), other wording"},
    {"bad helo", "smtp-replies.md:407 (2.2 Microsoft Exchange Online)"},
    {"helo rejected", "smtp-replies.md:878 (3.1 Postfix)"},
    {"ehlo rejected", "smtp-replies.md:1138 (3.7 OpenSMTPD)"},
    {"unregistered domains", "smtp-replies.md:419 (2.2 Microsoft Exchange Online)"},
    {"poor ip", "smtp-replies.md:474 (2.4 Yahoo)"},
    {"greylist", "smtp-replies.md:751 (2.15 Filtering gateways)"},
    {"graylist", "smtp-replies.md:403 (2.2 Microsoft Exchange Online)"},
    {"not in whitelist", "smtp-replies.md:247 (2.1 Google)"},
    {"permanently deferred", "smtp-replies.md:477 (2.4 Yahoo)"},
    {"connection rejected by policy", "RFC 3463 X.7.1: our sending host refused (smtp-replies.md:20), other wording"},
    {NULL, NULL},
};

static const struct reason_pattern pat_spamdetected[] = {
    {" - spam", "Sisimai Lhost/Amavis.pm:36"},
    {"/help/help_spam_16.htm", "Sisimai Reason/Suspend.pm:32"},
    {"554 5.7.0 reject, id=", "Sisimai Reason/SpamDetected.pm:21"},
    {"appears to be unsolicited", "Sisimai Reason/SpamDetected.pm"},
    {"blacklisted url in message", "Sisimai Reason/SpamDetected.pm"},
    {"block for spam", "Sisimai Reason/SpamDetected.pm"},
    {"blocked by policy: no spam please", "Sisimai Reason/SpamDetected.pm"},
    {"blocked by spamassassin", "Sisimai Reason/SpamDetected.pm"},
    {"classified as spam", "Sisimai Reason/SpamDetected.pm:111"},
    {"content filter rejection", "Sisimai Reason/SpamDetected.pm"},
    {"identified this email as a bulk email", "Sisimai Reason/SpamDetected.pm"},
    {"denied due to spam list", "Sisimai Reason/SpamDetected.pm"},
    {"high probability of spam", "Sisimai Reason/SpamDetected.pm"},
    {"is classified as spam", "Sisimai Reason/SpamDetected.pm:111"},
    {"mail appears to be unsolicited", "Sisimai Reason/SpamDetected.pm"},
    {"mail content denied", "smtp-replies.md:662 (2.12 Tencent QQ Mail)"},
    {"may consider spam", "Sisimai Reason/SpamDetected.pm"},
    {"message considered as spam", "RFC 3463 X.7.1: refused as spam (smtp-replies.md:21), other wording"},
    {"message contains spam content", "RFC 3463 X.7.1: refused as spam (smtp-replies.md:21), other wording"},
    {"message content rejected", "smtp-replies.md:850 (3.1 Postfix)"},
    {"message has been temporarily blocked by our filter",
        "RFC 3463 X.7.1: refused as spam (smtp-replies.md:21), other wording"},
    {"message is being rejected as it seems to be a spam", "Sisimai Reason/SpamDetected.pm"},
    {"message looks like spam", "smtp-replies.md:648 (2.11 Yandex)"},
    {"message refused by mailmarshal spamprofiler", "Sisimai Reason/SpamDetected.pm"},
    {"message rejected as spam", "smtp-replies.md:648 (2.11 Yandex)"},
    {"message rejected due to suspected spam content", "Sisimai Reason/SpamDetected.pm"},
    {"rejected for possible spam", "Sisimai Reason/Blocked.pm:90"},
    {"our email server thinks this email is spam", "Sisimai Reason/SpamDetected.pm"},
    {"probable spam", "Sisimai Reason/SpamDetected.pm"},
    {"reject bulk.advertising", "Sisimai Reason/SpamDetected.pm"},
    {"rejected: spamassassin score ", "RFC 3463 X.7.1: refused as spam (smtp-replies.md:21), other wording"},
    {"rejected - spam", "RFC 3463 X.7.1: refused as spam (smtp-replies.md:21), other wording"},
    {"rejecting banned content", "Sisimai Reason/SpamDetected.pm"},
    {"rejecting mail content", "Sisimai Reason/SpamDetected.pm"},
    {"related to content with spam-like characteristics", "Sisimai Reason/SpamDetected.pm"},
    {"sending address not accepted due to spam filter", "Sisimai Reason/SpamDetected.pm"},
    {"spam check", "Sisimai Reason/SpamDetected.pm"},
    {"spam content matched", "Sisimai Reason/SpamDetected.pm"},
    {"spam detected", "Sisimai Reason/SpamDetected.pm"},
    {"spam email", "Sisimai Reason/SpamDetected.pm"},
    {"spam message rejected", "smtp-replies.md:624 (2.10 Mail.ru)"},
    {"spam not accepted", "Sisimai Reason/SpamDetected.pm"},
    {"spam refused", "smtp-replies.md:1098 (3.6 Courier)"},
    {"spam rejection", "Sisimai Reason/SpamDetected.pm"},
    {"spam score ", "Sisimai Rhost/Mimecast.pm:255"},
    {"spambouncer identified spam", "Sisimai Reason/SpamDetected.pm"},
    {"spamming not allowed", "Sisimai Reason/SpamDetected.pm"},
    {"too much spam", "Sisimai Rhost/ExchangeOnline.pm:377"},
    {"detected as spam", "Sisimai Reason/SpamDetected.pm:49"},
    {"rejected by spam filtering engine", "Sisimai Reason/SpamDetected.pm:105"},
    {"classification as bulk mail", "Sisimai Reason/SpamDetected.pm:106"},
    {"looked like spam", "Sisimai Reason/SpamDetected.pm:108"},
    {"appears to be spam", "Sisimai Reason/SpamDetected.pm:114"},
    {"identified as spam", "Sisimai Reason/SpamDetected.pm:116"},
    {"scored as spam", "Sisimai Reason/SpamDetected.pm:117"},
    {"this message was rejected by recurrent pattern detection system", "Sisimai Reason/SpamDetected.pm"},
    {"spam message not queued", "Sisimai Reason/SpamDetected.pm:123"},
    {"we dont accept spam", "Sisimai Reason/SpamDetected.pm"},
    {"triggered a spam block", "Sisimai Reason/SpamDetected.pm:140"},
    {"unsolicited mail", "smtp-replies.md:254 (2.1 Google)"},
    {"unsolicited bulk", "smtp-replies.md:477 (2.4 Yahoo)"},
    {"rejected due to spam", "Sisimai Reason/SpamDetected.pm:40"},
    {"message content rejected, ube", "Sisimai Reason/SpamDetected.pm"},
    {"our filters rate at and above * percent probability of being spam",
        "RFC 3463 X.7.1: refused as spam (smtp-replies.md:21), other wording"},
    {"rejected by * (spam)", "RFC 3463 X.7.1: refused as spam (smtp-replies.md:21), other wording"},
    {"this message scored * spam points", "RFC 3463 X.7.1: refused as spam (smtp-replies.md:21), other wording"},
    {"mail rejete. mail rejected", "smtp-replies.md:592 (2.8 Orange)"},
    {"considered spam", "RFC 3463 X.7.1: refused as spam (smtp-replies.md:21), other wording"},
    {"suspected spam", "smtp-replies.md:667 (2.12 Tencent QQ Mail)"},
    {"likely spam", "RFC 3463 X.7.1: refused as spam (smtp-replies.md:21), other wording"},
    {"likely unsolicited", "smtp-replies.md:275 (2.1 Google)"},
    {"bulk mail", "Sisimai Reason/SpamDetected.pm:106"},
    {"content filter", "smtp-replies.md:648 (2.11 Yandex)"},
    {"spam message", "smtp-replies.md:624 (2.10 Mail.ru)"},
    {"suspicious due to the nature of the content", "smtp-replies.md:253 (2.1 Google)"},
    {"spam content", "Sisimai Reason/VirusDetected.pm:19"},
    {"spam filter", "Sisimai Reason/SpamDetected.pm:7"},
    {"marked as spam", "Sisimai Reason/SpamDetected.pm:97"},
    {"flagged as spam", "RFC 3463 X.7.1: refused as spam (smtp-replies.md:21), other wording"},
    {"message is spam", "RFC 3463 X.7.1: refused as spam (smtp-replies.md:21), other wording"},
    {NULL, NULL},
};

static const struct reason_pattern pat_securityerror[] = {
    {"account not subscribed to ses", "Sisimai Reason/SecurityError.pm"},
    {"authentication credentials invalid", "smtp-replies.md:76 (0. Basic SMTP reply codes)"},
    {"authentication failure", "Sisimai Reason/SecurityError.pm"},
    {"authentication required", "smtp-replies.md:74 (0. Basic SMTP reply codes)"},
    {"authentication turned on in your email client", "Sisimai Reason/SecurityError.pm"},
    {"authrequired", "smtp-replies.md:388 (2.2 Microsoft Exchange Online)"},
    {"executable files are not allowed in compressed files", "Sisimai Reason/SecurityError.pm"},
    {"insecure mail relay", "Sisimai Reason/SecurityError.pm"},
    {"sorry, you don't authenticate", "RFC 3463 X.7.0 / X.7.8 / X.7.10 security or authentication, other wording"},
    {"tls required but not supported", "Sisimai Reason/SecurityError.pm"},
    {"must issue a starttls command first", "smtp-replies.md:313 (2.1 Google)"},
    {"unauthenticated senders not allowed", "Sisimai Reason/SecurityError.pm"},
    {"user not authenticated", "RFC 3463 X.7.0 / X.7.8 / X.7.10 security or authentication, other wording"},
    {"verification failure", "Sisimai Reason/SecurityError.pm"},
    {"authentication is required", "Sisimai Reason/SecurityError.pm:37"},
    {"smtp authentication", "Sisimai Lhost/MessageLabs.pm:33"},
    {"delivery not authorized", "smtp-replies.md:153 (1. Enhanced status codes)"},
    {"not authorized to send", "smtp-replies.md:153 (1. Enhanced status codes)"},
    {"authentication failed; server * said: ",
        "RFC 3463 X.7.0 / X.7.8 / X.7.10 security or authentication, other wording"},
    {"is not authorized to perform ses:sendrawemail", "Sisimai Reason/SecurityError.pm:36"},
    {"security policies", "Sisimai Rhost/Mimecast.pm:265"},
    {"tls required", "smtp-replies.md:250 (2.1 Google)"},
    {"tls is required", "Sisimai Rhost/Mimecast.pm:164"},
    {"starttls is required", "RFC 3463 X.7.0 / X.7.8 / X.7.10 security or authentication, other wording"},
    {"encryption required", "smtp-replies.md:77 (0. Basic SMTP reply codes)"},
    {"must use tls", "RFC 3463 X.7.0 / X.7.8 / X.7.10 security or authentication, other wording"},
    {NULL, NULL},
};

static const struct reason_pattern pat_authfailure[] = {
    {"//support.google.com/a/answer/175365",
        "RFC 7208 SPF, RFC 6376 DKIM, RFC 7489 DMARC; RFC 3463 X.7.20-X.7.26, other wording"},
    {"dmarc policy", "smtp-replies.md:259 (2.1 Google)"},
    {"dmarc verification", "smtp-replies.md:410 (2.2 Microsoft Exchange Online)"},
    {"dmarc check", "smtp-replies.md:480 (2.4 Yahoo)"},
    {"fails to pass authentication checks", "smtp-replies.md:301 (2.1 Google)"},
    {"does not have authentication information", "smtp-replies.md:301 (2.1 Google)"},
    {"multiple authentication checks failed", "smtp-replies.md:178 (1. Enhanced status codes)"},
    {"sender policy framework", "smtp-replies.md:397 (2.2 Microsoft Exchange Online)"},
    {"spf check: fail", "Sisimai Reason/Blocked.pm"},
    {"spf record with a hard fail", "smtp-replies.md:299 (2.1 Google)"},
    {"spf=fail", "Sisimai ARF.pm:221"},
    {"spf: fail", "RFC 7208 SPF, RFC 6376 DKIM, RFC 7489 DMARC; RFC 3463 X.7.20-X.7.26, other wording"},
    {"spf validation", "smtp-replies.md:175 (1. Enhanced status codes)"},
    {"spf failure", "RFC 7208 SPF, RFC 6376 DKIM, RFC 7489 DMARC; RFC 3463 X.7.20-X.7.26, other wording"},
    {"spf fail", "smtp-replies.md:175 (1. Enhanced status codes)"},
    {"dkim validation", "smtp-replies.md:398 (2.2 Microsoft Exchange Online)"},
    {"dkim signature", "smtp-replies.md:172 (1. Enhanced status codes)"},
    {"unauthenticated email", "smtp-replies.md:283 (2.1 Google)"},
    {"the sender is unauthenticated", "smtp-replies.md:298 (2.1 Google)"},
    {"is not allowed to send from <",
        "RFC 7208 SPF, RFC 6376 DKIM, RFC 7489 DMARC; RFC 3463 X.7.20-X.7.26, other wording"},
    {"spf check failed", "smtp-replies.md:648 (2.11 Yandex)"},
    {"failed spf", "RFC 7208 SPF, RFC 6376 DKIM, RFC 7489 DMARC; RFC 3463 X.7.20-X.7.26, other wording"},
    {"dkim check failed", "RFC 7208 SPF, RFC 6376 DKIM, RFC 7489 DMARC; RFC 3463 X.7.20-X.7.26, other wording"},
    {"dkim verification failed", "RFC 7208 SPF, RFC 6376 DKIM, RFC 7489 DMARC; RFC 3463 X.7.20-X.7.26, other wording"},
    {"dmarc authentication", "RFC 7208 SPF, RFC 6376 DKIM, RFC 7489 DMARC; RFC 3463 X.7.20-X.7.26, other wording"},
    {"dmarc reject", "smtp-replies.md:259 (2.1 Google)"},
    {"either spf or dkim", "smtp-replies.md:260 (2.1 Google)"},
    {NULL, NULL},
};

static const struct reason_pattern pat_requireptr[] = {
    {"ip name lookup failed", "smtp-replies.md:964 (3.3 Sendmail)"},
    {"all mail servers must have a ptr record", "smtp-replies.md:543 (2.6 Comcast)"},
    {"bad dns ptr resource record", "smtp-replies.md:559 (2.7 United Internet)"},
    {"cannot find your hostname", "smtp-replies.md:824 (3.1 Postfix)"},
    {"fix reverse dns", "Sisimai Reason/Blocked.pm:65"},
    {"no ptr record", "RFC 3463 X.7.25 reverse DNS validation failed, other wording"},
    {"does not have a ptr record", "smtp-replies.md:249 (2.1 Google)"},
    {"please get a custom reverse dns name", "RFC 3463 X.7.25 reverse DNS validation failed, other wording"},
    {"ptr record setup", "Sisimai Reason/Blocked.pm"},
    {"invalid rdns", "Sisimai Reason/Blocked.pm:120"},
    {"sender ip reverse lookup rejected", "Sisimai Reason/Blocked.pm"},
    {"the corresponding forward dns entry does not point to the sending ip", "smtp-replies.md:249 (2.1 Google)"},
    {"unresolvable relay host name", "Sisimai Reason/Blocked.pm"},
    {"generic dns ptr", "Sisimai Reason/Blocked.pm:150"},
    {"mismatches client ip", "Sisimai Reason/Blocked.pm:55"},
    {"service permits * unverifyable sending ips", "Sisimai Reason/Blocked.pm:125"},
    {"reverse hostname", "smtp-replies.md:823 (3.1 Postfix)"},
    {"reverse dns", "smtp-replies.md:177 (1. Enhanced status codes)"},
    {"ptr record", "smtp-replies.md:249 (2.1 Google)"},
    {NULL, NULL},
};

static const struct reason_pattern pat_notcompliantrfc[] = {
    {"not rfc 5322 compliant", "smtp-replies.md:288 (2.1 Google)"},
    {"not rfc5322 compliant", "RFC 5322 message format, other wording"},
    {"not rfc 2822 compliant", "smtp-replies.md:1131 (3.7 OpenSMTPD)"},
    {"multiple*addresses in from: header", "Sisimai Rhost/GoogleApps.pm:104"},
    {"multiple from: header", "smtp-replies.md:289 (2.1 Google)"},
    {"multiple subject header", "RFC 5322 message format, other wording"},
    {"message is not rfc compliant", "RFC 5322 message format, other wording"},
    {"rfc 5322 section", "smtp-replies.md:413 (2.2 Microsoft Exchange Online)"},
    {"rfc5322 section", "RFC 5322 message format, other wording"},
    {"not compliant with rfc", "RFC 5322 message format, other wording"},
    {NULL, NULL},
};

static const struct reason_pattern pat_badreputation[] = {
    {"rate limited due to ip reputation", "Sisimai Rhost/ExchangeOnline.pm:151"},
    {"ip/domain reputation problems", "Sisimai Reason/Blocked.pm"},
    {"very low reputation", "smtp-replies.md:251 (2.1 Google)"},
    {"low reputation", "smtp-replies.md:251 (2.1 Google)"},
    {"poor reputation", "smtp-replies.md:295 (2.1 Google)"},
    {"bad reputation", "smtp-replies.md:606 (2.9 Deutsche Telekom T-Online)"},
    {"temporarily deferred due to unexpected volume or user complaints", "smtp-replies.md:476 (2.4 Yahoo)"},
    {"due to user complaints", "smtp-replies.md:475 (2.4 Yahoo)"},
    {NULL, NULL},
};

static const struct reason_pattern pat_speeding[] = {
    {"please try again slower", "RFC 3463 X.7.28 / X.4.5: sending rate, other wording"},
    {"receiving mail at a rate that prevents additional messages", "Sisimai Rhost/GoogleApps.pm:206"},
    {"sending rate", "Sisimai Reason/TooManyConn.pm:23"},
    {"rate limit exceeded", "Sisimai Reason.pm:499"},
    {"too many messages", "smtp-replies.md:684 (2.13 NetEase)"},
    {"too fast", "smtp-replies.md:409 (2.2 Microsoft Exchange Online)"},
    {"receiving mail too quickly", "Sisimai Rhost/GoogleApps.pm:196"},
    {"too quickly", "Sisimai Rhost/ExchangeOnline.pm:602"},
    {"rate limited", "smtp-replies.md:249 (2.1 Google)"},
    {NULL, NULL},
};

static const struct reason_pattern pat_toomanyconn[] = {
    {"all available ips are at maximum connection limit", "Sisimai Reason/TooManyConn.pm"},
    {"connection rate limit exceeded", "Sisimai Reason/TooManyConn.pm"},
    {"exceeds per-domain connection limit", "Sisimai Reason/TooManyConn.pm:20"},
    {"has exceeded the max emails per hour", "Sisimai Reason/TooManyConn.pm:21"},
    {"throttling failure: daily message quota exceeded", "Sisimai Reason/TooManyConn.pm"},
    {"throttling failure: maximum sending rate exceeded", "Sisimai Reason/TooManyConn.pm"},
    {"too many connections", "smtp-replies.md:588 (2.8 Orange)"},
    {"too many concurrent smtp connections", "smtp-replies.md:914 (3.2 Exim)"},
    {"too many errors from your ip", "Sisimai Reason/TooManyConn.pm"},
    {"too many recipients", "smtp-replies.md:137 (1. Enhanced status codes)"},
    {"too many smtp sessions", "Sisimai Reason/TooManyConn.pm:29"},
    {"trop de connexions", "smtp-replies.md:588 (2.8 Orange)"},
    {"frequency limited", "smtp-replies.md:664 (2.12 Tencent QQ Mail)"},
    {"too many simultaneous connections", "RFC 3463 X.4.5 system congestion; RFC 5321 421, other wording"},
    {"too many concurrent", "smtp-replies.md:683 (2.13 NetEase)"},
    {"max connections", "RFC 3463 X.4.5 system congestion; RFC 5321 421, other wording"},
    {"maximum number of connections", "RFC 3463 X.4.5 system congestion; RFC 5321 421, other wording"},
    {"connection limit", "smtp-replies.md:438 (2.3 Outlook.com)"},
    {"max message per connection", "RFC 3463 X.4.5 system congestion; RFC 5321 421, other wording"},
    {"too many messages in this connection", "smtp-replies.md:916 (3.2 Exim)"},
    {"denial of service", "RFC 3463 X.4.5 system congestion; RFC 5321 421, other wording"},
    {"server busy", "Sisimai Rhost/ExchangeOnline.pm:561"},
    {NULL, NULL},
};

static const struct reason_pattern pat_policyviolation[] = {
    {"an illegal attachment on your message", "Sisimai Reason/PolicyViolation.pm"},
    {"because the recipient is not accepting mail with", "Sisimai Reason/PolicyViolation.pm:19"},
    {"denied by policy", "Sisimai Reason/PolicyViolation.pm"},
    {"email not accepted for policy reasons", "smtp-replies.md:479 (2.4 Yahoo)"},
    {"local policy violation", "Sisimai Reason/PolicyViolation.pm"},
    {"message not accepted for policy reasons", "smtp-replies.md:480 (2.4 Yahoo)"},
    {"message rejected due to local policy", "smtp-replies.md:507 (2.5 Apple iCloud Mail)"},
    {"rejected for policy reasons", "smtp-replies.md:1162 (3.8 HCL)"},
    {"policy violation", "smtp-replies.md:384 (2.2 Microsoft Exchange Online)"},
    {"violates our email policy", "RFC 3463 X.7.1 delivery not authorized by policy, other wording"},
    {"email address used to send your message is not subscribed to this group", "Sisimai Reason/PolicyViolation.pm:37"},
    {"allowable number of posts without solving a captcha", "Sisimai Reason/PolicyViolation.pm:41"},
    {"policy rejection", "smtp-replies.md:560 (2.7 United Internet)"},
    {"administrative policy", "RFC 3463 X.7.1 delivery not authorized by policy, other wording"},
    {NULL, NULL},
};

static const struct reason_pattern pat_virusdetected[] = {
    {"it has a potentially executable attachment", "Sisimai Reason/VirusDetected.pm"},
    {"prohibited virus", "Sisimai Reason/VirusDetected.pm:19"},
    {"used by recent viruses or other malware", "Sisimai Reason/VirusDetected.pm:20"},
    {"virus detected", "Sisimai Reason/VirusDetected.pm"},
    {"virus found", "Sisimai ARF.pm:353"},
    {"malicious_url detected", "RFC 3463 X.7.1: malware refused, other wording"},
    {"infected with a virus", "Sisimai Reason.pm:531"},
    {"contains a virus", "Sisimai Lhost/Facebook.pm:78"},
    {"message contains malware", "RFC 3463 X.7.1: malware refused, other wording"},
    {"malware detected", "RFC 3463 X.7.1: malware refused, other wording"},
    {"infected", "smtp-replies.md:444 (2.3 Outlook.com)"},
    {"content presents a potential security issue", "smtp-replies.md:307 (2.1 Google)"},
    {NULL, NULL},
};

static const struct reason_pattern pat_norelaying[] = {
    {"as a relay", "Sisimai Reason/NoRelaying.pm"},
    {"email address is not verified.", "RFC 5321 3.6.2 relaying; RFC 3463 X.7.1, other wording"},
    {"is not permitted to relay", "Sisimai Reason/NoRelaying.pm:20"},
    {"requires authentication when attempting to send to a non-local e-mail address",
        "Sisimai Reason/NoRelaying.pm:21"},
    {"not a gateway", "Sisimai Reason/NoRelaying.pm"},
    {"not allowed to relay", "Sisimai Reason/NoRelaying.pm:23"},
    {"not an open relay", "Sisimai Reason/NoRelaying.pm:24"},
    {"not local host", "Sisimai Reason/NoRelaying.pm"},
    {"relay access denied", "smtp-replies.md:355 (2.2 Microsoft Exchange Online)"},
    {"relay denied", "smtp-replies.md:308 (2.1 Google)"},
    {"relay not permitted", "smtp-replies.md:386 (2.2 Microsoft Exchange Online)"},
    {"relaying denied", "smtp-replies.md:402 (2.2 Microsoft Exchange Online)"},
    {"relaying mail to * is not allowed", "Sisimai Reason/NoRelaying.pm"},
    {"relaying not allowed", "RFC 5321 3.6.2 relaying; RFC 3463 X.7.1, other wording"},
    {"unable to relay", "smtp-replies.md:386 (2.2 Microsoft Exchange Online)"},
    {"we don't handle mail for", "Sisimai Reason/NoRelaying.pm"},
    {"we do not relay", "RFC 5321 3.6.2 relaying; RFC 3463 X.7.1, other wording"},
    {"not in my list of allowed rcpthosts", "RFC 5321 3.6.2 relaying; RFC 3463 X.7.1, other wording"},
    {"isn't in my list of allowed rcpthosts", "smtp-replies.md:1017 (3.4 qmail)"},
    {"this system is not configured to relay mail", "Sisimai Reason/NoRelaying.pm"},
    {"relay not allowed", "smtp-replies.md:1124 (3.7 OpenSMTPD)"},
    {"relaying is not allowed", "RFC 5321 3.6.2 relaying; RFC 3463 X.7.1, other wording"},
    {"open relay not allowed", "Sisimai Rhost/Mimecast.pm:98"},
    {NULL, NULL},
};

static const struct reason_pattern pat_contenterror[] = {
    {"duplicate header", "smtp-replies.md:288 (2.1 Google)"},
    {"header line format error", "RFC 3463 X.6.x message content or media error, other wording"},
    {"headers too large", "Sendmail collect.c: 552 5.6.0 'Headers too large'"},
    {"improper use of 8-bit data in message header", "Sisimai Reason/ContentError.pm"},
    {"message header size, or recipient list, exceeds policy limit", "Sisimai Reason/ContentError.pm"},
    {"message mime complexity exceeds the policy maximum", "Sisimai Reason/ContentError.pm"},
    {"routing loop detected -- too many received: headers", "smtp-replies.md:1099 (3.6 Courier)"},
    {"invalid mime headers", "Sisimai Reason.pm:278"},
    {"improperly-formatted binary content", "Sisimai Reason/ContentError.pm:24"},
    {"unnecessary base64 encoding", "Sisimai Reason/ContentError.pm:25"},
    {"media error", "smtp-replies.md:141 (1. Enhanced status codes)"},
    {"malformed message", "smtp-replies.md:1131 (3.7 OpenSMTPD)"},
    {"too many \"received\" headers", "Sisimai Lhost/Exim.pm:131"},
    {NULL, NULL},
};

static const struct reason_pattern pat_syntaxerror[] = {
    {"syntax error", "smtp-replies.md:68 (0. Basic SMTP reply codes)"},
    {"improper sequence of commands", "Sisimai Reason.pm:471"},
    {"bad sequence of commands", "smtp-replies.md:71 (0. Basic SMTP reply codes)"},
    {"command unrecognized", "smtp-replies.md:68 (0. Basic SMTP reply codes)"},
    {"unrecognized command", "smtp-replies.md:326 (2.1 Google)"},
    {"command not recognized", "RFC 3463 X.5.2 syntax error; RFC 5321 500/501, other wording"},
    {"malformed address", "smtp-replies.md:69 (0. Basic SMTP reply codes)"},
    {"may not follow", "Sisimai Lhost/Exim.pm:114"},
    {NULL, NULL},
};

static const struct reason_pattern pat_systemfull[] = {
    {"mail system full", "smtp-replies.md:120 (1. Enhanced status codes)"},
    {"insufficient disk space", "Sendmail srvrsmtp.c: 452 4.4.5 'Insufficient disk space'"},
    {"insufficient system storage", "smtp-replies.md:66 (0. Basic SMTP reply codes)"},
    {"system storage", "smtp-replies.md:66 (0. Basic SMTP reply codes)"},
    {"mail spool full", "RFC 3463 X.3.1 mail system full, other wording"},
    {"disk full", "smtp-replies.md:859 (3.1 Postfix)"},
    {NULL, NULL},
};

static const struct reason_pattern pat_mailererror[] = {
    {" || exit ", "Sisimai Data.pm:521"},
    {"bin/procmail", "Sisimai Reason/MailerError.pm"},
    {"bin/maildrop", "Sisimai Reason/MailerError.pm"},
    {"command failed: ", "RFC 3463 X.3.0: the local delivery program failed, other wording"},
    {"command died with status ", "RFC 3463 X.3.0: the local delivery program failed, other wording"},
    {"command output:", "smtp-replies.md:564 (2.7 United Internet)"},
    {"mailer error", "smtp-replies.md:980 (3.3 Sendmail)"},
    {"pipe to |/", "Sisimai Lhost/Exim.pm:228"},
    {"x-unix; ", "Sisimai Data.pm:552"},
    {"unknown mailer error", "smtp-replies.md:980 (3.3 Sendmail)"},
    {NULL, NULL},
};

static const struct reason_pattern pat_systemerror[] = {
    {"aliasing/forwarding loop broken", "Sisimai Reason/SystemError.pm"},
    {"can't create user output file", "Sisimai Reason/SystemError.pm"},
    {"could not load drd for domain", "Sisimai Reason/SystemError.pm"},
    {"internal error", "smtp-replies.md:980 (3.3 Sendmail)"},
    {"internal server error", "Sisimai Reason/SystemError.pm:22"},
    {"interrupted system call", "Sisimai Reason/SystemError.pm"},
    {"it encountered an error while being processed", "Sisimai Reason/SystemError.pm"},
    {"it would create a mail loop", "Sisimai Reason/SystemError.pm"},
    {"local configuration error", "smtp-replies.md:979 (3.3 Sendmail)"},
    {"local error in processing", "smtp-replies.md:65 (0. Basic SMTP reply codes)"},
    {"loop was found in the mail exchanger", "Sisimai Reason/SystemError.pm"},
    {"loops back to myself", "smtp-replies.md:872 (3.1 Postfix)"},
    {"mail system configuration error", "smtp-replies.md:862 (3.1 Postfix)"},
    {"queue file write error", "Sisimai Reason/SystemError.pm"},
    {"recipient deferred because there is no mdb", "RFC 3463 X.3.0 / X.3.5 system error, other wording"},
    {"remote server is misconfigured", "Sisimai Reason/SystemError.pm"},
    {"server configuration error", "smtp-replies.md:849 (3.1 Postfix)"},
    {"service currently unavailable", "Sisimai Reason/SystemError.pm"},
    {"system config error", "Sisimai Reason/SystemError.pm"},
    {"timeout waiting for input", "Sisimai Reason/SystemError.pm"},
    {"unable to contact ldap server", "Sisimai Lhost/X4.pm:113"},
    {"duplicated message-id", "Sisimai Lhost/FML.pm:53"},
    {"system error", "smtp-replies.md:715 (2.14 Zoho Mail)"},
    {"service refuse", "Sisimai Rhost/FrancePTT.pm:33"},
    {"resources temporarily unavailable", "smtp-replies.md:486 (2.4 Yahoo)"},
    {"temporary system problem", "smtp-replies.md:239 (2.1 Google)"},
    {"local problem", "smtp-replies.md:908 (3.2 Exim)"},
    {NULL, NULL},
};

static const struct reason_pattern pat_networkerror[] = {
    {"could not connect and send the mail to", "Sisimai Reason/NetworkError.pm"},
    {"dns records for the destination computer could not be found", "Sisimai Reason/NetworkError.pm"},
    {"hop count exceeded", "smtp-replies.md:381 (2.2 Microsoft Exchange Online)"},
    {"host is unreachable", "Sisimai Reason/NetworkError.pm"},
    {"host name lookup failure", "smtp-replies.md:986 (3.3 Sendmail)"},
    {"host not found, try again", "smtp-replies.md:866 (3.1 Postfix)"},
    {"mail forwarding loop for ", "smtp-replies.md:861 (3.1 Postfix)"},
    {"malformed name server reply", "Sisimai Reason/NetworkError.pm"},
    {"malformed or unexpected name server reply", "Sisimai Reason/NetworkError.pm"},
    {"maximum forwarding loop count exceeded", "Sisimai Reason/NetworkError.pm"},
    {"message looping", "Sisimai Reason/NetworkError.pm"},
    {"message probably in an endless loop", "RFC 3463 X.4.x network and routing, other wording"},
    {"no route to host", "smtp-replies.md:869 (3.1 Postfix)"},
    {"too many hops", "smtp-replies.md:851 (3.1 Postfix)"},
    {"unable to resolve route ", "Sisimai Reason/NetworkError.pm:32"},
    {"unrouteable mail domain", "Sisimai Reason/NetworkError.pm"},
    {"network error", "Sisimai Lhost/OpenSMTPD.pm:72"},
    {"dns error", "Sisimai Lhost/Gmail.pm:78"},
    {"wasn't able to establish an smtp connection", "smtp-replies.md:1012 (3.4 qmail)"},
    {"network is unreachable", "smtp-replies.md:943 (3.2 Exim)"},
    {"host lookup did not complete", "RFC 3463 X.4.x network and routing, other wording"},
    {"name server timeout", "smtp-replies.md:986 (3.3 Sendmail)"},
    {"bounce between two servers", "RFC 3463 X.4.x network and routing, other wording"},
    {"possible mail loop", "smtp-replies.md:381 (2.2 Microsoft Exchange Online)"},
    {"indicate a mail loop", "Sisimai Rhost/GoogleApps.pm:98"},
    {NULL, NULL},
};

static const struct reason_pattern pat_expired[] = {
    {"connection timed out", "smtp-replies.md:869 (3.1 Postfix)"},
    {"could not find a gateway for", "Sisimai Reason/Expired.pm"},
    {"delivery attempts will continue to be", "Sisimai Reason/Expired.pm"},
    {"delivery time expired", "smtp-replies.md:133 (1. Enhanced status codes)"},
    {"failed to deliver to domain ", "Sisimai Reason/Expired.pm:22"},
    {"has been delayed", "Sisimai Reason/Expired.pm"},
    {"have been failing for a long time", "smtp-replies.md:939 (3.2 Exim)"},
    {"message expired", "smtp-replies.md:371 (2.2 Microsoft Exchange Online)"},
    {"envelope expired", "Sisimai Lhost/OpenSMTPD.pm:55"},
    {"message timed out", "Sisimai Reason/Expired.pm"},
    {"retry time not reached for any host after a long failure period", "Sisimai Reason/Expired.pm"},
    {"retry timeout exceeded", "Sisimai Lhost/Exim.pm:134"},
    {"server did not respond", "Sisimai Reason/Expired.pm"},
    {"did not accept our requests to connect", "Sisimai Lhost/Gmail.pm:80"},
    {"unable to deliver message after multiple retries", "Sisimai Reason/Expired.pm"},
    {"was not reachable within the allowed queue period", "Sisimai Reason/Expired.pm"},
    {"could not be delivered for more than", "Sisimai Reason/Expired.pm:35"},
    {"could not deliver for the last", "DragonFly dma: 'Could not deliver for the last N seconds. Giving up.'"},
    {"undeliverable for", "RFC 3463 X.4.7 delivery time expired, other wording"},
    {"queue.expired", "Sisimai Lhost/Exchange2007.pm:62"},
    {"host not reachable", "Sisimai Lhost/Zoho.pm:27"},
    {"was aborted after", "RFC 3463 X.4.7 delivery time expired, other wording"},
    {"will continue trying", "RFC 3463 X.4.7 delivery time expired, other wording"},
    {"will be retried for", "Sisimai Lhost/Gmail.pm:45"},
    {"delivery failed * attempts", "Sisimai Lhost/IMailServer.pm:40"},
    {"cannot send message for", "RFC 3463 X.4.7 delivery time expired, other wording"},
    {"could not be delivered for", "Sisimai Lhost/Sendmail.pm:132"},
    {NULL, NULL},
};

static const struct reason_pattern pat_onhold[] = {
    {"on hold", "Sisimai Reason/OnHold.pm:18"},
    {NULL, NULL},
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
    const struct reason_pattern *patterns;
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
    {"access denied", R(REJECTED), "smtp-replies.md:355 (2.2 Microsoft Exchange Online)"},
    /* only a prefix: Postfix names the restriction class, not the reason
     * (smtp-replies 4.2); a refusal of the recipient at RCPT TO with nothing
     * more said is about the address (smtp-replies 4.19), alone it says
     * nothing */
    {"recipient address rejected*rcpt to", R(USERUNKNOWN), "Sisimai Reason/UserUnknown.pm:82"},
    {"connection refused", R(NETWORKERROR), "smtp-replies.md:370 (2.2 Microsoft Exchange Online)"},
    {"connection reset", R(NETWORKERROR), "smtp-replies.md:984 (3.3 Sendmail)"},
    {"has been in the queue too long", R(EXPIRED), "Sisimai Lhost/X4.pm:93"},
    {"lost connection", R(NETWORKERROR), "smtp-replies.md:870 (3.1 Postfix)"},
    /* refused before any envelope: the receiver refuses our server */
    {"in reply to helo command", R(BLOCKED),
        "Postfix smtp(8) '(in reply to HELO command)': refused before the envelope (smtp-replies.md:796)"},
    {"in reply to ehlo command", R(BLOCKED),
        "Postfix smtp(8) '(in reply to EHLO command)': refused before the envelope (smtp-replies.md:796)"},
    {"after helo", R(BLOCKED),
        "Exim 'SMTP error from remote mail server after HELO': refused before the envelope (smtp-replies.md:930)"},
    {"after ehlo", R(BLOCKED),
        "Exim 'SMTP error from remote mail server after EHLO': refused before the envelope (smtp-replies.md:930)"},
    {"giving up on", R(EXPIRED), "Sisimai Reason/Expired.pm"},
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
    const char *source;   /* who documents it */
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
index_add(struct reason_index *ix, const char *text, const char *source, classify_reason reason,
          unsigned table)
{
    const char *star = strchr(text, '*');
    size_t first = star != NULL ? (size_t)(star - text) : strlen(text);

    /* Programming errors in the tables, caught by the first unit test: the
     * text a pattern is matched against is lower case with single spaces. */
    if (ix->n >= INDEX_MAX || first < 3 || strstr(text, "  ") != NULL ||
        strstr(text, "**") != NULL || text[strlen(text) - 1] == '*')
        g_error("reason table: pattern \"%s\" cannot match, or too many patterns", text);
    if (source == NULL || *source == '\0')
        g_error("reason table: pattern \"%s\" names no source", text);
    for (const char *c = text; *c != '\0'; c++)
        if ((*c >= 'A' && *c <= 'Z') || *c == '\t' || *c == '\n' || *c == '\r')
            g_error("reason table: pattern \"%s\" is not lower case", text);
    ix->patterns[ix->n++] = (struct index_pattern){
        .head = index_head(text, first),
        .head_mask = index_head("\xff\xff\xff\xff\xff\xff\xff\xff", first),
        .text = text, .source = source, .first_len = (uint16_t)first, .reason = (uint8_t)reason,
        .table = (uint8_t)table, .wild = star != NULL,
    };
}

static struct index_range
index_add_tokens(struct reason_index *ix, const struct reason_token *tokens, size_t n,
                 unsigned table)
{
    struct index_range r = {.begin = ix->n};
    for (size_t i = 0; i < n; i++)
        index_add(ix, tokens[i].pattern, tokens[i].source, tokens[i].reason, table);
    r.end = ix->n;
    return r;
}

static void
index_add_list(struct reason_index *ix, const struct reason_pattern *patterns, classify_reason reason,
               unsigned table)
{
    for (; patterns->pattern != NULL; patterns++)
        index_add(ix, patterns->pattern, patterns->source, reason, table);
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
        index_add(ix, reason_documented[i].pattern, reason_documented[i].source, reason_documented[i].reason,
                  TABLE_DOCUMENTED);
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
    return reason_decided(ev, rule, p->text, p->source, (classify_reason)p->reason);
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
