/* reason.c: to be written. */
