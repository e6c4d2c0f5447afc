/* autoreply.c: to be written. */
