/* cmd_classify.c: to be written. */
