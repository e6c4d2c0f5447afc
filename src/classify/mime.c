/* mime.c: to be written. */
