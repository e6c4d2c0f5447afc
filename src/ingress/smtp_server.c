/* smtp_server.c: to be written. */
