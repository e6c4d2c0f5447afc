/*
 * store_pg_url.h - store.url taken apart into libpq's connection keywords by
 * us, and the redaction of what it holds from every message; shared only by
 * the files of the store module.
 *
 * libpq splits a URI at the first "/" after "://" and at the first ":" and
 * "@", so a password holding one of them ("postgresql://bd:S3cret/Pw@db/x")
 * ends up as a host name or port, quoted back in its error messages. Here
 * the user information ends at the last "@" before the query, and the
 * password is everything after the first ":" in it, percent-decoded: "/",
 * ":" and "@" may stand as they are, "?" and "%" must be percent-encoded. A
 * string that does not start with postgresql:// or postgres:// is a libpq
 * key=value connection string.
 */
#ifndef BOUNCEDEMAILS_STORE_PG_URL_H
#define BOUNCEDEMAILS_STORE_PG_URL_H

#include <stddef.h>

#define PG_URL_MAX_KEYS 48
#define PG_URL_MAX_SECRETS 4

typedef struct pg_url {
    size_t n;
    char *keys[PG_URL_MAX_KEYS + 1];     /* NULL-terminated, for PQconnectdbParams */
    char *values[PG_URL_MAX_KEYS + 1];
    char *secrets[PG_URL_MAX_SECRETS];   /* every spelling of the password, and the user information */
} pg_url;

/* Fills u from url. Our defaults (application_name, connect_timeout) come
 * first, so that the URL may change them; client_encoding and options come
 * last, where they win: the URL's options after ours (server_options). On
 * failure returns -1 with a message in err that quotes nothing from the
 * URL; pg_url_free() is safe either way. */
int pg_url_parse(const char *url, const char *const defaults[][2], const char *server_options, pg_url *u,
                 char *err, size_t err_len);
void pg_url_free(pg_url *u);

/* msg with every secret of u replaced by "***", on one line. Newly
 * allocated (g_free). */
char *pg_url_redact(const pg_url *u, const char *msg);

#endif
