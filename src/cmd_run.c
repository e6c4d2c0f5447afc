/* cmd_run.c: to be written. */
