/*
 * smtp_data.c - the DATA decoder: a byte-level state machine (see
 * smtp_data.h for what it accepts). Bytes that pass through unchanged are
 * handed to emit in runs as long as the input allows; only a stuffed dot, a
 * bare LF and the terminating line break a run.
 */
#include "ingress/smtp_data.h"

#include <stdbool.h>

void smtp_data_init(smtp_data *d)
{
    d->state = SMTP_DATA_BOL;
    d->bare = 0;
}

const char *smtp_data_bare_name(unsigned bare)
{
    return bare & SMTP_DATA_BARE_LF ? "LF" : "CR";
}

static void smtp_data_mark(smtp_data *d, unsigned bare)
{
    d->bare |= bare;
}

static void smtp_data_flush(const char *in, size_t run, size_t i, smtp_data_emit emit, void *arg)
{
    if (i > run) emit(arg, in + run, i - run);
}

/* A bare LF at in[i]: the line ends as if it were CRLF, but the next line
 * cannot end the data. Returns where the next run begins. */
static size_t smtp_data_bare_lf(smtp_data *d, const char *in, size_t run, size_t i, smtp_data_emit emit, void *arg)
{
    smtp_data_mark(d, SMTP_DATA_BARE_LF);
    smtp_data_flush(in, run, i, emit, arg);
    emit(arg, "\r\n", 2);
    d->state = SMTP_DATA_BOL_LF;
    return i + 1;
}

size_t smtp_data_feed(smtp_data *d, const char *in, size_t len, smtp_data_emit emit, void *arg)
{
    size_t i, run = 0;   /* in[run..i) is content not yet emitted */
    for (i = 0; i < len && d->state != SMTP_DATA_END; i++) {
        char c = in[i];
        switch (d->state) {
        case SMTP_DATA_BOL:
        case SMTP_DATA_BOL_LF:
            if (c == '.') {   /* removed: stuffing, or the start of the end */
                smtp_data_flush(in, run, i, emit, arg);
                run = i + 1;
                d->state = d->state == SMTP_DATA_BOL ? SMTP_DATA_DOT : SMTP_DATA_TEXT;
                break;
            }
            d->state = SMTP_DATA_TEXT;
            /* fallthrough */
        case SMTP_DATA_TEXT:
            if (c == '\r')
                d->state = SMTP_DATA_CR;
            else if (c == '\n')
                run = smtp_data_bare_lf(d, in, run, i, emit, arg);
            else
                while (i + 1 < len && in[i + 1] != '\r' && in[i + 1] != '\n') i++;
            break;
        case SMTP_DATA_CR:
            if (c == '\n') {
                d->state = SMTP_DATA_BOL;
                break;
            }
            smtp_data_mark(d, SMTP_DATA_BARE_CR);
            d->state = c == '\r' ? SMTP_DATA_CR : SMTP_DATA_TEXT;
            break;
        case SMTP_DATA_DOT:
            if (c == '\r') {
                run = i + 1;   /* the CR is withheld until we know what follows */
                d->state = SMTP_DATA_DOT_CR;
            } else if (c == '\n') {
                run = smtp_data_bare_lf(d, in, run, i, emit, arg);
            } else {
                d->state = SMTP_DATA_TEXT;
            }
            break;
        case SMTP_DATA_DOT_CR:
            if (c == '\n') {
                run = i + 1;
                d->state = SMTP_DATA_END;
                break;
            }
            smtp_data_mark(d, SMTP_DATA_BARE_CR);
            emit(arg, "\r", 1);
            d->state = c == '\r' ? SMTP_DATA_CR : SMTP_DATA_TEXT;
            break;
        case SMTP_DATA_END:
            break;
        }
    }
    smtp_data_flush(in, run, i, emit, arg);
    return i;
}
