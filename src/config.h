/*
 * config.h - the configuration file, read with libyaml.
 *
 * The file holds one top-level section per environment (production, develop,
 * ...); --env picks one. ${VAR} in any scalar is replaced from the
 * environment. Every error names the file, line and key. The original
 * service's keys (handler.*, amqp.*) keep their meaning; everything new has a
 * default, documented in config.template.yml.
 */
#ifndef BOUNCEDEMAILS_CONFIG_H
#define BOUNCEDEMAILS_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include "classify/classify.h"

typedef enum config_payload {
    CONFIG_PAYLOAD_EMPTY = 0,  /* an empty POST body, as the original sent */
    CONFIG_PAYLOAD_JSON,       /* {"address","reason","status","diagnostic","time"} */
} config_payload;

typedef struct config_header {
    char *name;
    char *value;               /* may hold a secret: never log it */
} config_header;

typedef struct config_domain {
    char *name;                /* as configured, lower case, e.g. "openhpi.de"; matched by
                                  its registrable domain (config_find_domain) */
    char *base_url;            /* contains {address}, unless xikolo resolves it */
    bool xikolo;               /* url_resolver: xikolo */
    config_payload payload;
    config_header *headers;
    size_t n_headers;
} config_domain;

typedef struct config_handler {
    char *dbfile;                          /* SQLite file */
    char *permanent_bounced_emails_path;   /* raw bounces of permanent failures, gzipped */
    int archive_compression_level;         /* gzip level of those files, 0 (stored) to 9 (0) */
    int temporary_threshold;               /* escalate when the count exceeds this (3) */
    int temporary_window_days;             /* counts older than this start again (30) */
    /* Per-reason verdict, the classifier's defaults with the config's overrides applied. */
    classify_verdict verdicts[CLASSIFY_REASON_COUNT];
    bool verdict_named[CLASSIFY_REASON_COUNT]; /* the config names this reason: its verdict
                                                  overrides the classifier's reading */
    bool complaint_suspends;               /* complaints are handled like permanent (true) */
    char *verp_delimiter;                  /* "+" : no-reply+user=example.com@openhpi.de;
                                              "" turns VERP decoding off */
    char *verp_at_sign;                    /* "=" : stands for the recipient's @ */
    char *verp_secret;                     /* signs VERP return paths (verp.h); secret, or NULL */
    bool require_signed_verp;              /* only a signed return path suspends (false) */
    int verp_valid_weeks;                  /* a signature is accepted this many weeks after its own (4) */
    int max_recipients_per_bounce;         /* a report naming more is quarantined (100) */
    config_domain *domains;
    size_t n_domains;
} config_handler;

typedef struct config_store {
    char *backend;             /* "sqlite" (default) or "postgresql" */
    char *url;                 /* postgresql connection URI (secret: may hold a password) */
} config_store;

typedef struct config_notify {
    int connect_timeout_ms;    /* 5000 */
    int timeout_ms;            /* whole request, 30000 */
    int max_in_flight;         /* notifications claimed at once, in flight or held, 512 */
    int concurrency;           /* concurrent requests (keep-alive connections) a platform, 8 */
    int retry_initial_s;       /* first backoff, 30 */
    int retry_max_s;           /* backoff ceiling, 3600 */
    int max_attempts;          /* then given up (still listed, and `outbox retry` revives it), 50 */
    int resolver_cache_s;      /* how long a xikolo answer is kept, 3600 */
    char *tls_ca_file;         /* CAs that verify an https:// platform; NULL: the system's */
    bool stdin_handoff;        /* `stdin` runs leave their notifications to a running daemon, true */
} config_notify;

typedef struct config_amqp {
    bool enabled;              /* true when amqp.url is set */
    char *url;                 /* secret: holds a password */
    char *queue;               /* "bouncedemails" */
    int prefetch;              /* basic.qos prefetch count, 500 */
    int heartbeat_s;           /* 30 */
    int batch;                 /* messages committed (and acked) together, at most, 250 */
    char *tls_ca_file;         /* CAs that verify an amqps:// broker, Debian's bundle */
    size_t max_message_size;   /* bytes; larger messages are quarantined by reference; smtp's */
} config_amqp;

typedef enum config_bare_newline {
    CONFIG_BARE_NEWLINE_REJECT,    /* a bare LF refuses the message (Postfix's reject) */
    CONFIG_BARE_NEWLINE_STRICT,    /* a bare LF or CR does */
    CONFIG_BARE_NEWLINE_NORMALIZE, /* a bare LF is taken as CRLF */
} config_bare_newline;

typedef struct config_smtp {
    bool enabled;              /* false unless smtp.enabled or run-smtpserver */
    char *host;                /* 127.0.0.1 */
    int port;                  /* 2525 */
    char *hostname;            /* name in the greeting; default the machine's */
    size_t max_message_size;   /* bytes, 26214400 */
    size_t max_line_length;    /* bytes including CRLF, 4096 */
    int max_recipients;        /* 100 */
    int max_connections;       /* 512 */
    int max_connections_per_client; /* 32 */
    int command_timeout_s;     /* 300 */
    int data_timeout_s;        /* 600 */
    char **allow_networks;     /* CIDR list, default 127.0.0.0/8 and ::1/128 */
    size_t n_allow_networks;
    char *tls_certificate;     /* PEM paths; STARTTLS only when both are set */
    char *tls_key;
    size_t max_memory;         /* message bytes held by all sessions, 256 MiB */
    char **recipient_domains;  /* accepted recipients' domains; none: every recipient */
    size_t n_recipient_domains;
    config_bare_newline bare_newline; /* what a bare LF or CR in a message gets */
    bool require_tls;          /* MAIL only after STARTTLS */
} config_smtp;

typedef struct config_metrics {
    char *listen;              /* "host:port" of the HTTP endpoint, "127.0.0.1:9473"; NULL: off */
} config_metrics;
typedef struct config_retention {
    int fingerprint_days;      /* message fingerprints (duplicate detection), 30 */
    int event_days;            /* the event log, 400 */
    int quarantine_days;       /* quarantined messages, 90 */
    int notbounce_days;        /* kept non-bounces, 7 */
    /* 0 days: kept for ever. */
    size_t quarantine_max_bytes; /* beyond: only the headers and a hash are kept, 1 MiB */
    int interval_s;            /* how often the daemon prunes, 3600 */
    int batch;                 /* rows removed per transaction, 500 */
} config_retention;

typedef struct config {
    char *path;                /* the file it was read from */
    char *env;                 /* the section */
    config_handler handler;
    config_store store;
    config_notify notify;
    config_amqp amqp;
    config_smtp smtp;
    config_metrics metrics;
    config_retention retention;
    void *domain_index;        /* private to config.c: registrable domain -> domain */
} config;

/* The file to read when --config is not given: ./config.yml if it exists,
 * else /etc/bouncedemails/config.yml. */
const char *config_default_path(void);
/* The paths config_default_path() tries, in order, for an error that says
 * where no file was found: "config.yml, /etc/bouncedemails/config.yml". */
const char *config_default_paths_tried(void);

/* Reads section env of the file at path. Returns NULL and writes
 * "FILE:LINE: KEY: what is wrong" into err on any error; the caller exits
 * with 78 (EX_CONFIG). No secret value (header values, URLs) is ever written
 * into err. Not thread-safe (it reads the environment): call it at start-up. */
config *config_load(const char *path, const char *env, char *err, size_t err_len);
void config_free(config *cfg);

/* The configured domain that address (or a host name) belongs to, compared by
 * registrable domain (libpsl) and ASCII case-insensitively, or NULL. Cheap
 * (no allocation) and safe from any number of threads. */
const config_domain *config_find_domain(const config *cfg, const char *address_or_host);

#endif
