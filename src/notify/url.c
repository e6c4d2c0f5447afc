/* url.c: to be written. */
