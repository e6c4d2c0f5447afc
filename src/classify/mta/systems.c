/*
 * systems.c - the mail systems whose bounce fits the shared layout scanner
 * once their signature is seen, described as data: which From, Subject or
 * opening text identifies them, where their list of failed recipients
 * starts and ends, how a recipient line looks, and the wording of their own
 * that names a reason. Systems that need code of their own have a file of
 * their own.
 *
 * The reason wording of each system is its own notice template, as Sisimai
 * records it in the Lhost/ module of the same name (Yahoo, X1-X6,
 * Activehunter, Zoho, MailFoundry, IMailServer, Exchange2003, mFILTER,
 * Notes, Domino, KDDI, InterScanMSS, EZweb, Biglobe, AmazonWorkMail,
 * Exchange2007, Office365, Verizon, Facebook); Exchange's status names are
 * also in ../shared/reference/smtp-replies.md 3.5, Facebook's codes in
 * Sisimai Lhost/Facebook.pm.
 */
#include "classify/detectors.h"
#include "classify/mta/mta.h"

#define L(...) ((const char *const[]){ __VA_ARGS__, NULL })
#define R(...) ((const mta_reason_rule[]){ __VA_ARGS__, { NULL, 0 } })

/* Yahoo! Mail (qmail lineage): "Sorry, we were unable to deliver your
 * message to the following address." then "<address>:" blocks. */
static const mta_system sys_yahoo = {
    .text = L("Sorry, we were unable to deliver your message"),
    .layout = {
        .begin = L("to the following address"),
        .end = L("--- Below this line is a copy of the message"),
        .command = MTA_COMMAND_RCPT,
        .flags = MTA_RCPT_BARE | MTA_RCPT_COLON,
    },
};

/* Yahoo!'s current notice: "I'm afraid I wasn't able to deliver the
 * following message.", then a summary of the message whose "To:" line is
 * the recipient, then "---Below this line is a copy of the message.". */
static const mta_system sys_yahoo_summary = {
    .from = L("@yahoo."),
    .text = L("wasn't able to deliver the following message"),
    .layout = {
        .begin = L("wasn't able to deliver the following message"),
        .end = L("Below this line is a copy of the message"),
        .prefix = L("To:"),
        .command = MTA_COMMAND_RCPT,
        .flags = MTA_RCPT_PREFIXED,
    },
};

/* A web-mail system ("X2" in Sisimai's naming) of the same lineage:
 * "Unable to deliver message to the following address(es)." */
static const mta_system sys_x2 = {
    .text = L("Unable to deliver message to the following address(es)"),
    .layout = {
        .begin = L("Unable to deliver message to the following address(es)"),
        .end = L("--- Original message follows", "Content-Type: message/rfc822"),
        .reasons = R({ "account is over quota", CLASSIFY_REASON_MAILBOXFULL },
                     { "this message has been in the queue too long", CLASSIFY_REASON_EXPIRED },
                     { "account has been disabled or discontinued", CLASSIFY_REASON_SUSPEND }),
        .flags = MTA_RCPT_BARE | MTA_RCPT_COLON,
    },
};

/* "X1": "---The following addresses had delivery errors---" then
 * "address [reason]". */
static const mta_system sys_x1 = {
    .text = L("The following addresses had delivery errors"),
    .layout = {
        .begin = L("The following addresses had delivery errors"),
        .flags = MTA_RCPT_BARE | MTA_RCPT_TEXT,
    },
};

/* Activehunter: sendmail-like text with ">>> address <address>" lines. */
static const mta_system sys_activehunter = {
    .subject = L("FAILURE NOTICE :"),
    .text = L("following addresses had permanent fatal errors"),
    .layout = {
        .begin = L("following addresses had permanent fatal errors"),
        .prefix = L(">>>"),
        .flags = MTA_RCPT_BARE | MTA_RCPT_TEXT,
    },
};

/* Zoho Mail: "address Invalid Address, ERROR_CODE :550, ..." lines, or in its
 * delay warnings "[Status: Error, Address: <address>, ResponseCode 421, ...]";
 * the original's headers follow directly in the same part. */
static const mta_system sys_zoho = {
    .from = L("zoho"),
    .text = L("This message was created automatically by mail delivery"),
    .layout = {
        .begin = L("This is a permanent error", "following addresses had fatal errors"),
        .end = L("\nReceived:", "Content-Type: message/rfc822"),
        .prefix = L("[Status: Error, Address:", "[Status: Warning, Address:"),
        .delayed = L("THIS IS A WARNING MESSAGE ONLY"),
        .flags = MTA_RCPT_BARE | MTA_RCPT_TEXT,
    },
};

/* MailFoundry: "Unable to deliver message to: <address>" and the reason
 * under it. */
static const mta_system sys_mailfoundry = {
    .text = L("Unable to deliver message to:"),
    .layout = {
        .prefix = L("Unable to deliver message to:"),
        .flags = MTA_RCPT_PREFIXED,
    },
};

/* Ipswitch IMail Server: one sentence per failure with the address in it. */
static const mta_system sys_imailserver = {
    .subject = L("Undeliverable Mail"),
    .layout = {
        .end = L("Original message follows", "Content-Type: message/rfc822"),
        .prefix = L("Unknown user:", "User mailbox exceeds allowed size:", "Delivery failed",
                    "undeliverable to", "Requested action not taken: mailbox unavailable",
                    "Mail rejected", "Message rejected"),
        .reasons = R({ "Unknown user:", CLASSIFY_REASON_USERUNKNOWN },
                     { "User mailbox exceeds allowed size", CLASSIFY_REASON_MAILBOXFULL },
                     { "Requested action not taken: mailbox unavailable", CLASSIFY_REASON_USERUNKNOWN },
                     { "Delivery failed", CLASSIFY_REASON_EXPIRED }),
        .flags = MTA_RCPT_PREFIXED,
    },
};

/* Microsoft Exchange 2000/2003 (and its IMC): "did not reach the following
 * recipient(s):" then "address on <date>" and the MSEXCH diagnostic, whose
 * hexadecimal code names the failure. */
static const char *const sys_exchange2003_text[] = {
    "did not reach the following recipient", "following recipient(s) could not be reached",
    "did not reach some or all of the intended recipients", NULL,
};

static const char *const sys_exchange2003_begin[] = {
    "did not reach the following recipient", "following recipient(s) could not be reached", NULL,
};

static const mta_reason_rule sys_exchange2003_reasons[] = {
    { "000C05A6", CLASSIFY_REASON_USERUNKNOWN },
    { "000C0595", CLASSIFY_REASON_FILTERED },
    { "000B099C", CLASSIFY_REASON_ONHOLD },
    { "000B09AA", CLASSIFY_REASON_ONHOLD },
    { "000B09B6", CLASSIFY_REASON_ONHOLD },
    { "00010256", CLASSIFY_REASON_SYSTEMERROR },
    { "000D06B5", CLASSIFY_REASON_SYSTEMERROR },
    { "00120270", CLASSIFY_REASON_NETWORKERROR },
    { "00050311", CLASSIFY_REASON_CONTENTERROR },
    { "000502CC", CLASSIFY_REASON_CONTENTERROR },
    { "000B0981", CLASSIFY_REASON_SECURITYERROR },
    { "The recipient name is not recognized", CLASSIFY_REASON_USERUNKNOWN },
    { NULL, 0 },
};

static const mta_system sys_exchange2003 = {
    .text = sys_exchange2003_text,
    .layout = {
        .begin = sys_exchange2003_begin,
        .end = L("Content-Type: message/rfc822", "Content-Type: text/rfc822-headers"),
        .reasons = sys_exchange2003_reasons,
        .flags = MTA_RCPT_BARE | MTA_RCPT_TEXT,
    },
};

/* The same notice from Exchange's X.400 connector, which names the
 * recipient by its X.400 address with the SMTP one inside
 * ("c=US;a= ;p=Org;o=Site;dda:SMTP=user@example.com; on <date>"). */
static const mta_system sys_exchange2003_x400 = {
    .text = sys_exchange2003_text,
    .layout = {
        .begin = sys_exchange2003_begin,
        .end = L("Content-Type: message/rfc822", "Content-Type: text/rfc822-headers"),
        .prefix = L("c="),
        .reasons = sys_exchange2003_reasons,
        .flags = MTA_RCPT_PREFIXED,
    },
};

bool
classify_detect_exchange2003(const classify_msg *msg, classify_report *report)
{
    return mta_detect_system(&sys_exchange2003, msg, report) ||
           mta_detect_system(&sys_exchange2003_x400, msg, report);
}

/* m-FILTER (Digital Arts): the address alone, then "-------server message". */
static const mta_system sys_mfilter = {
    .subject = L("failure notice", "Returned mail", "Undeliver"),
    .text = L("m-FILTER"),
    .layout = {
        .end = L("-------original message", "Content-Type: message/rfc822"),
        .flags = MTA_RCPT_BARE,
    },
};

/* Lotus Notes' SMTP MTA: the reason above the address. */
static const mta_system sys_notes = {
    .subject = L("Undeliverable message"),
    .text = L("------- Failure Reasons"),
    .layout = {
        .begin = L("------- Failure Reasons"),
        .end = L("------- Returned Message", "Content-Type: message/rfc822"),
        .reasons = R({ "User not listed in public Name & Address Book", CLASSIFY_REASON_USERUNKNOWN },
                     { "ディレクトリのリストにありません", CLASSIFY_REASON_USERUNKNOWN },
                     { "Message has exceeded maximum hop count", CLASSIFY_REASON_NETWORKERROR }),
        .flags = MTA_RCPT_BARE | MTA_DIAG_BEFORE,
    },
};

/* IBM Lotus Domino: "was not delivered to:" the address, "because:" the
 * reason, in the server's language. */
static const mta_system sys_domino = {
    .subject = L("DELIVERY FAILURE:", "DELIVERY_FAILURE:"),
    .layout = {
        .begin = L("was not delivered to:"),
        .end = L("Content-Type: message/rfc822", "Content-Type: text/rfc822-headers"),
        .reasons = R({ "not listed in Domino Directory", CLASSIFY_REASON_USERUNKNOWN },
                     { "not listed in public Name & Address Book", CLASSIFY_REASON_USERUNKNOWN },
                     { "non répertorié dans l'annuaire Domino", CLASSIFY_REASON_USERUNKNOWN },
                     { "Domino ディレクトリには見つかりません", CLASSIFY_REASON_USERUNKNOWN },
                     { "Cannot route mail to user", CLASSIFY_REASON_FILTERED },
                     { "Several matches found in Domino Directory", CLASSIFY_REASON_SYSTEMERROR }),
        .flags = MTA_RCPT_BARE,
    },
};

/* KDDI (au, dion.ne.jp): "Could not be delivered to: <address>". */
static const mta_system sys_kddi = {
    .text = L("Could not be delivered to:"),
    .layout = {
        .prefix = L("Could not be delivered to:"),
        .reasons = R({ "As their mailbox is full", CLASSIFY_REASON_MAILBOXFULL },
                     { "Due to the following SMTP relay error", CLASSIFY_REASON_SYSTEMERROR },
                     { "As the remote domain doesnt exist", CLASSIFY_REASON_HOSTUNKNOWN }),
        .flags = MTA_RCPT_PREFIXED,
    },
};

/* Trend Micro InterScan MSS: "Unable to deliver message to <address>" or
 * its SMTP transcript ("Sent <<< RCPT TO:<address>", "Received >>> 550 ..."). */
static const mta_system sys_trendmicro = {
    .text = L("InterScan Messaging Security Suite", "Sent <<< RCPT TO:", "Unable to deliver message to <"),
    .layout = {
        .prefix = L("Unable to deliver message to", "Reason: Unable to deliver message to",
                    "Sent <<< RCPT TO:"),
        .command = MTA_COMMAND_RCPT,
        .flags = MTA_RCPT_PREFIXED,
    },
};

/* "X6": "We had trouble delivering your message. Full details follow:". */
static const mta_system sys_x6 = {
    .text = L("We had trouble delivering your message"),
    .layout = {
        .prefix = L("The following recipients returned", "SMTP Server <"),
        .flags = MTA_RCPT_PREFIXED,
    },
};

/* au by KDDI's EZweb: "<address>" or "Recipient: <address>" lines, with
 * Japanese and English explanations above. */
static const mta_system sys_ezweb = {
    .from = L("Postmaster@ezweb.ne.jp", "Mailer-Daemon@ezweb.ne.jp"),
    .layout = {
        .end = L("Content-Type: message/rfc822", "Content-Type: text/rfc822-headers",
                 "\nReceived:"),
        .prefix = L("Recipient:"),
        .reasons = R({ "The user(s) account is temporarily over quota", CLASSIFY_REASON_MAILBOXFULL },
                     { "The user(s) account is disabled", CLASSIFY_REASON_SUSPEND },
                     { "The user(s) account is temporarily limited", CLASSIFY_REASON_SUSPEND },
                     { "Your message was not delivered within", CLASSIFY_REASON_EXPIRED }),
        /* Said with no remote answer under it, it is the recipient's own
         * domain filter refusing the sender. */
        .notice = R({ "was rejected by a remote mail server", CLASSIFY_REASON_FILTERED }),
        .flags = MTA_RCPT_BARE | MTA_RCPT_COLON | MTA_RCPT_DOTS | MTA_DIAG_BEFORE,
    },
};

/* BIGLOBE: "----- The following addresses had delivery problems -----". */
static const mta_system sys_biglobe = {
    .text = L("The following addresses had delivery problems"),
    .layout = {
        .begin = L("The following addresses had delivery problems"),
        .reasons = R({ "mailbox exceeded the local limit", CLASSIFY_REASON_MAILBOXFULL }),
        .flags = MTA_RCPT_BARE,
    },
};

/* Amazon WorkMail: "An error occurred while trying to deliver the mail to
 * the following recipients:" then the address and a technical report. */
static const mta_system sys_amazonworkmail = {
    .text = L("An error occurred while trying to deliver the mail to the following recipients"),
    .layout = {
        .begin = L("to the following recipients"),
        .flags = MTA_RCPT_BARE,
    },
};

/* Exchange 2007 and later, Office 365 and Outlook.com: "Delivery has failed
 * to these recipients or groups:" then "address<mailto:address>" and the
 * explanation; the administrators' part, whose heading is translated with
 * the rest, repeats the address with the remote server's answer
 * ("#550 5.1.1 RESOLVER.ADR.RecipNotFound; not found ##"). */
#define EXCHANGE_ADMIN_HEADINGS                                                   \
    "Diagnostic information for administrators",                                 \
    "Informations de diagnostic pour les administrateurs",                       \
    "Informazioni di diagnostica per gli amministratori",                        \
    "Diagnoseinformationen für Administratoren",                                 \
    "Información de diagnóstico para administradores",                           \
    "管理者向けの診断情報"

/* Exchange's own status names (the enhanced code's text). */
static const mta_reason_rule exchange_reasons[] = {
    { "SMTPSEND.DNS.NonExistentDomain", CLASSIFY_REASON_HOSTUNKNOWN },
    { "SMTPSEND.DNS.MxLoopback", CLASSIFY_REASON_NETWORKERROR },
    { "RESOLVER.ADR.RecipNotFound", CLASSIFY_REASON_USERUNKNOWN },
    { "RESOLVER.ADR.ExRecipNotFound", CLASSIFY_REASON_USERUNKNOWN },
    { "RESOLVER.ADR.RecipientNotFound", CLASSIFY_REASON_USERUNKNOWN },
    { "RESOLVER.ADR.BadPrimary", CLASSIFY_REASON_SYSTEMERROR },
    { "RESOLVER.ADR.RecipLimit", CLASSIFY_REASON_TOOMANYCONN },
    { "RESOLVER.ADR.InvalidInSmtp", CLASSIFY_REASON_SYSTEMERROR },
    { "RESOLVER.ADR.Ambiguous", CLASSIFY_REASON_SYSTEMERROR },
    { "RESOLVER.RST.AuthRequired", CLASSIFY_REASON_SECURITYERROR },
    { "RESOLVER.RST.NotAuthorized", CLASSIFY_REASON_REJECTED },
    { "RESOLVER.RST.RecipSizeLimit", CLASSIFY_REASON_MESGTOOBIG },
    { "QUEUE.Expired", CLASSIFY_REASON_EXPIRED },
    { NULL, 0 },
};

static const mta_system sys_office365 = {
    .text = L("Delivery has failed to these recipients or", "Your message couldn't be delivered",
              "Your message wasn't delivered", EXCHANGE_ADMIN_HEADINGS),
    .layout = {
        .begin = L("Delivery has failed to these recipients or", "Your message couldn't be delivered",
                   "Your message wasn't delivered", EXCHANGE_ADMIN_HEADINGS),
        .end = L("Original message headers:", "Original Message Headers", "Message Hops",
                 "En-têtes de message d'origine", "Intestazioni originali del messaggio",
                 "Ursprüngliche Nachrichtenkopfzeilen", "Content-Type: message/rfc822",
                 "Content-Type: text/rfc822-headers"),
        .reasons = exchange_reasons,
        .flags = MTA_RCPT_BARE | MTA_RCPT_TEXT | MTA_RCPT_COL0,
    },
};

/* Office 365's current layout: "Your message to address couldn't be
 * delivered.", the explanation, and the administrators' details ("Reported
 * error: 550 5.1.10 RESOLVER.ADR.RecipientNotFound"). */
static const mta_system sys_office365_modern = {
    /* Microsoft's non-delivery subjects, in the languages it sends them in. */
    .subject = L("Undeliverable", "Unzustellbar", "Non remis", "Non recapitabile",
                 "Non distribuibile", "Onbestelbaar", "No se puede entregar",
                 "Não é possível entregar", "Olevererbart", "配信不能", "无法投递",
                 "Niedostarczalne"),
    .text = L("Office365", "Office 365", "office.com", "Microsoft", "Outlook"),
    .layout = {
        .end = L("Message Hops", "Original Message Headers", "Original message headers:",
                 "Content-Type: message/rfc822", "Content-Type: text/rfc822-headers"),
        .prefix = L("Your message to"),
        .reasons = exchange_reasons,
        .command = MTA_COMMAND_RCPT,
        .flags = MTA_RCPT_PREFIXED,
    },
};

/* "X3": "Delivery to the following recipients failed permanently:" then
 * "* address" lines and a "Technical details:" box. */
static const mta_system sys_x3 = {
    .text = L("This is an automatically generated Delivery Status Notification"),
    .layout = {
        .begin = L("to the following recipients failed", "to the following recipients was aborted"),
        .prefix = L("*"),
        .notice = R({ "was aborted after", CLASSIFY_REASON_EXPIRED }),
        .flags = MTA_RCPT_BARE,
    },
};

/* A Japanese carrier-grade MTA: "Your delivery to the following address has
 * been failed." then "Delivery failed: address" and the remote answer. */
static const mta_system sys_x7 = {
    .text = L("Your delivery to the following address has been failed"),
    .layout = {
        .prefix = L("Delivery failed:"),
        .flags = MTA_RCPT_PREFIXED,
    },
};

/* Verizon's MMS gateway: "Message could not be delivered to mobile." and
 * the error, then the original's summary whose To: is the recipient. */
static const mta_system sys_verizon = {
    .text = L("Message could not be delivered to mobile"),
    .layout = {
        .begin = L("Original Message:"),
        .end = L("Subject:"),
        .prefix = L("To:"),
        .notice = R({ "No valid recipients", CLASSIFY_REASON_USERUNKNOWN }),
        .flags = MTA_RCPT_PREFIXED,
    },
};

/* Facebook's mail servers: a DSN written into the text part, with
 * Facebook's own response codes (RCP-P1, POL-P2, ...). */
static const mta_system sys_facebook = {
    .from = L("@mx.facebook.com"),
    .layout = {
        .prefix = L("Final-Recipient:"),
        .end = L("Content-Disposition: inline", "Content-Type: message/rfc822"),
        .reasons = R({ "RCP-P1", CLASSIFY_REASON_USERUNKNOWN }, { "INT-P1", CLASSIFY_REASON_USERUNKNOWN },
                     { "INT-P3", CLASSIFY_REASON_USERUNKNOWN }, { "INT-P4", CLASSIFY_REASON_USERUNKNOWN },
                     { "RCP-P2", CLASSIFY_REASON_FILTERED }, { "RCP-P3", CLASSIFY_REASON_FILTERED },
                     { "POL-P1", CLASSIFY_REASON_BLOCKED }, { "POL-P2", CLASSIFY_REASON_BLOCKED },
                     { "MSG-P1", CLASSIFY_REASON_MESGTOOBIG }, { "INT-P2", CLASSIFY_REASON_MESGTOOBIG },
                     { "MSG-P2", CLASSIFY_REASON_CONTENTERROR }, { "MSG-P3", CLASSIFY_REASON_CONTENTERROR },
                     { "POL-P6", CLASSIFY_REASON_CONTENTERROR }, { "POL-P7", CLASSIFY_REASON_CONTENTERROR },
                     { "POL-P3", CLASSIFY_REASON_NOTACCEPT }, { "POL-P4", CLASSIFY_REASON_NOTACCEPT },
                     { "POL-T1", CLASSIFY_REASON_NOTACCEPT }, { "POL-T2", CLASSIFY_REASON_NOTACCEPT },
                     { "POL-T3", CLASSIFY_REASON_NOTACCEPT }, { "DNS-P1", CLASSIFY_REASON_REJECTED },
                     { "DNS-P2", CLASSIFY_REASON_REJECTED }, { "DNS-T1", CLASSIFY_REASON_REJECTED },
                     { "DNS-P3", CLASSIFY_REASON_REJECTED }, { "DNS-T2", CLASSIFY_REASON_REJECTED },
                     { "CON-T1", CLASSIFY_REASON_SYSTEMERROR }, { "RCP-T1", CLASSIFY_REASON_SYSTEMERROR },
                     { "CON-T2", CLASSIFY_REASON_TOOMANYCONN }, { "CON-T3", CLASSIFY_REASON_TOOMANYCONN },
                     { "POL-P5", CLASSIFY_REASON_VIRUSDETECTED }, { "RCP-T4", CLASSIFY_REASON_SUSPEND }),
        .flags = MTA_RCPT_PREFIXED,
    },
};

/* MailMarshal SMTP: "Could not be delivered because of" and the error above
 * "The following recipients were affected:" and the indented addresses. */
static const mta_system sys_mailmarshal = {
    .subject = L("Undeliverable Mail: \""),
    .layout = {
        .begin = L("Could not be delivered because of"),
        .end = L("Original Sender:", "Sender-MTA:", "Content-Type: message/rfc822"),
        .flags = MTA_RCPT_BARE | MTA_DIAG_BEFORE,
    },
};

/* fml, the mailing-list manager, refusing a post: the list's address is the
 * recipient that failed. */
static const mta_system sys_fml = {
    .from = L("-admin@"),
    .text = L("not a member of this mailing list", "Duplicated Message-ID in", "Security Alert"),
    .layout = {
        .end = L("Original mail as follows:"),
        .prefix = L("You are not a member of this mailing list", "Duplicated Message-ID in",
                    "Security Alert"),
        .reasons = R({ "not a member", CLASSIFY_REASON_REJECTED },
                     { "Duplicated Message-ID", CLASSIFY_REASON_SYSTEMERROR },
                     { "Security Alert", CLASSIFY_REASON_SECURITYERROR }),
        .flags = MTA_RCPT_PREFIXED,
    },
};

#define MTA_SYSTEM_DETECTOR(name)                                                         \
    bool classify_detect_##name(const classify_msg *msg, classify_report *report)        \
    {                                                                                     \
        return mta_detect_system(&sys_##name, msg, report);                               \
    }


bool
classify_detect_yahoo(const classify_msg *msg, classify_report *report)
{
    return mta_detect_system(&sys_yahoo, msg, report) ||
           mta_detect_system(&sys_yahoo_summary, msg, report);
}
MTA_SYSTEM_DETECTOR(x2)
MTA_SYSTEM_DETECTOR(x1)
MTA_SYSTEM_DETECTOR(activehunter)
MTA_SYSTEM_DETECTOR(zoho)
MTA_SYSTEM_DETECTOR(mailfoundry)
MTA_SYSTEM_DETECTOR(imailserver)
MTA_SYSTEM_DETECTOR(mfilter)
MTA_SYSTEM_DETECTOR(notes)
MTA_SYSTEM_DETECTOR(domino)
MTA_SYSTEM_DETECTOR(kddi)
MTA_SYSTEM_DETECTOR(trendmicro)
MTA_SYSTEM_DETECTOR(x6)
MTA_SYSTEM_DETECTOR(ezweb)
MTA_SYSTEM_DETECTOR(biglobe)
MTA_SYSTEM_DETECTOR(amazonworkmail)
MTA_SYSTEM_DETECTOR(office365)
MTA_SYSTEM_DETECTOR(x3)
MTA_SYSTEM_DETECTOR(x7)
MTA_SYSTEM_DETECTOR(verizon)
MTA_SYSTEM_DETECTOR(facebook)
MTA_SYSTEM_DETECTOR(mailmarshal)
MTA_SYSTEM_DETECTOR(fml)
MTA_SYSTEM_DETECTOR(office365_modern)
