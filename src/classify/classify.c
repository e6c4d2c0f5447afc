/* classify.c: to be written. */
