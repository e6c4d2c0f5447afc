/* rfc3464.c: to be written. */
