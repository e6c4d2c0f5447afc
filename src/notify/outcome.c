/*
 * outcome.c - what a platform's answer means for an outbox item, how long
 * to wait before asking again, and how long a claim lasts. Kept apart from
 * the HTTP machinery so that the rules can be tested on their own.
 */
#include "notify/notify.h"

#include <stddef.h>

/* Status ranges, first match wins. 408 and 429 are the platform asking us to
 * come back later, so they are retried although they are 4xx. */
static const struct {
    long lo, hi;
    notify_outcome outcome;
} notify_outcomes[] = {
    { 200, 299, NOTIFY_DONE },
    { 404, 404, NOTIFY_UNKNOWN },
    { 410, 410, NOTIFY_UNKNOWN },
    { 408, 408, NOTIFY_RETRY },
    { 429, 429, NOTIFY_RETRY },
    { 100, 499, NOTIFY_GIVE_UP },
    { 500, 599, NOTIFY_RETRY },
};

notify_outcome notify_outcome_of_status(long status)
{
    for (size_t i = 0; i < sizeof notify_outcomes / sizeof notify_outcomes[0]; i++)
        if (status >= notify_outcomes[i].lo && status <= notify_outcomes[i].hi)
            return notify_outcomes[i].outcome;
    return NOTIFY_RETRY;
}

long notify_backoff_s(const config_notify *cn, int attempt, double jitter)
{
    long ceiling = cn->retry_max_s > 0 ? cn->retry_max_s : 0;
    long base = cn->retry_initial_s > 0 ? cn->retry_initial_s : 0;
    if (base > ceiling)
        base = ceiling;
    /* Doubling stops at the ceiling, so a large attempt count cannot overflow. */
    for (int i = 1; i < attempt && base < ceiling; i++)
        base = base > ceiling / 2 ? ceiling : base * 2;
    long spread = base / 2;
    long cut = (long)((double)spread * jitter);
    if (cut < 0)
        cut = 0;
    if (cut > spread)
        cut = spread;
    return base - cut;
}

long notify_retry_delay_s(const config_notify *cn, int attempt, long retry_after, double jitter)
{
    if (retry_after <= 0)
        return notify_backoff_s(cn, attempt, jitter);
    long ceiling = cn->retry_max_s > 0 ? cn->retry_max_s : 0;
    return retry_after < ceiling ? retry_after : ceiling;
}

/* For the store and the clocks of the processes that share the outbox. */
#define NOTIFY_LEASE_MARGIN_S 10

long notify_lease_s(const config_notify *cn)
{
    long request_s = 2 * (cn->timeout_ms / 1000 + 1);
    return NOTIFY_HOLD_S + request_s + NOTIFY_LEASE_MARGIN_S;
}

bool notify_may_start(time_t claimed, time_t now)
{
    return now - claimed <= NOTIFY_HOLD_S;
}
