/*
 * smtp_data.h - the decoder of an SMTP DATA stream, private to the SMTP
 * listener: finds the end of the data, removes dot-stuffing, and reports
 * bare line ends.
 *
 * Only <CRLF>.<CRLF> ends the data (RFC 5321 4.1.1.4), so that "\n.\n",
 * "\n.\r\n" or "\r\n.\n" cannot end a message early and let the rest run as
 * commands (SMTP smuggling). A bare LF (not after a CR) is passed on as CRLF
 * and a bare CR (not before an LF) as it is; both are recorded, and the
 * session refuses the message as smtp.bare_newline says. A line that began
 * after a bare LF can never end the data.
 */
#ifndef BOUNCEDEMAILS_SMTP_DATA_H
#define BOUNCEDEMAILS_SMTP_DATA_H

#include <stddef.h>

typedef enum smtp_data_state {
    SMTP_DATA_BOL,        /* at a line's start after CRLF: a dot here may end the data */
    SMTP_DATA_BOL_LF,     /* at a line's start after a bare LF: a dot here is only stuffing */
    SMTP_DATA_DOT,        /* a dot at a line's start after CRLF (withheld) */
    SMTP_DATA_DOT_CR,     /* that dot and a CR (both withheld) */
    SMTP_DATA_TEXT,       /* inside a line */
    SMTP_DATA_CR,         /* a CR inside a line */
    SMTP_DATA_END,        /* <CRLF>.<CRLF> seen: nothing more is read */
} smtp_data_state;

/* Bare line ends seen, as bits. */
#define SMTP_DATA_BARE_LF 1u
#define SMTP_DATA_BARE_CR 2u

typedef struct smtp_data {
    smtp_data_state state;
    unsigned bare;        /* SMTP_DATA_BARE_* seen so far */
} smtp_data;

/* Receives decoded message bytes, in order. */
typedef void (*smtp_data_emit)(void *arg, const char *bytes, size_t len);

/* Ready for the data after the DATA command's line. */
void smtp_data_init(smtp_data *d);

/* Decodes the next len bytes of input, passing the message's bytes to emit
 * (the final CRLF of the last line included, the terminating dot line not).
 * Returns how many bytes were consumed: all of them, unless the data ended
 * (state SMTP_DATA_END), in which case what follows is the client's next
 * command. Input may be split anywhere between calls. */
size_t smtp_data_feed(smtp_data *d, const char *in, size_t len, smtp_data_emit emit, void *arg);

/* "LF" when bare has it, else "CR": for the reply and the log. */
const char *smtp_data_bare_name(unsigned bare);

#endif
