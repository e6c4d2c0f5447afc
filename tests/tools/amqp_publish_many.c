/*
 * amqp_publish_many.c - publishes many bounces to a queue quickly, for the
 * crash-safety test and the queue benchmark (amqp-publish starts a process
 * per message).
 *
 *   amqp_publish_many URL QUEUE COUNT FILE...
 *
 * Publishes COUNT persistent messages to QUEUE through the default exchange,
 * cycling through the FILEs; every "{n}" in a file is replaced by the
 * message's number, so that each message is distinct.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <amqp.h>
#include <amqp_tcp_socket.h>
#include <glib.h>

static int publish_fail(const char *what)
{
    fprintf(stderr, "amqp_publish_many: %s failed\n", what);
    return 1;
}

int main(int argc, char **argv)
{
    struct amqp_connection_info info;
    if (argc < 5) {
        fprintf(stderr, "usage: amqp_publish_many URL QUEUE COUNT FILE...\n");
        return 64;
    }
    long count = strtol(argv[3], NULL, 10);
    int n_files = argc - 4;
    char **templates = calloc((size_t)n_files, sizeof *templates);
    for (int i = 0; i < n_files; i++)
        if (!g_file_get_contents(argv[4 + i], &templates[i], NULL, NULL)) return publish_fail(argv[4 + i]);

    char *url = strdup(argv[1]);
    if (amqp_parse_url(url, &info) != AMQP_STATUS_OK) return publish_fail("parsing the URL");
    amqp_connection_state_t conn = amqp_new_connection();
    amqp_socket_t *sock = amqp_tcp_socket_new(conn);
    if (amqp_socket_open(sock, info.host, info.port) != AMQP_STATUS_OK) return publish_fail("connecting");
    if (amqp_login(conn, info.vhost, 0, 131072, 0, AMQP_SASL_METHOD_PLAIN, info.user, info.password)
            .reply_type != AMQP_RESPONSE_NORMAL)
        return publish_fail("login");
    amqp_channel_open(conn, 1);
    amqp_queue_declare(conn, 1, amqp_cstring_bytes(argv[2]), 0, 1, 0, 0, amqp_empty_table);
    if (amqp_get_rpc_reply(conn).reply_type != AMQP_RESPONSE_NORMAL) return publish_fail("queue.declare");

    amqp_basic_properties_t props = { ._flags = AMQP_BASIC_DELIVERY_MODE_FLAG, .delivery_mode = 2 };
    for (long n = 0; n < count; n++) {
        char number[32];
        snprintf(number, sizeof number, "%ld", n);
        char **parts = g_strsplit(templates[n % n_files], "{n}", -1);
        char *body = g_strjoinv(number, parts);
        g_strfreev(parts);
        int rc = amqp_basic_publish(conn, 1, amqp_empty_bytes, amqp_cstring_bytes(argv[2]), 0, 0, &props,
                                    amqp_cstring_bytes(body));
        g_free(body);
        if (rc != AMQP_STATUS_OK) return publish_fail("basic.publish");
    }
    amqp_channel_close(conn, 1, AMQP_REPLY_SUCCESS);
    amqp_connection_close(conn, AMQP_REPLY_SUCCESS);
    amqp_destroy_connection(conn);
    for (int i = 0; i < n_files; i++) g_free(templates[i]);
    free(templates);
    free(url);
    return 0;
}
