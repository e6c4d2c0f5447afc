/* smtp_session.c: to be written. */
