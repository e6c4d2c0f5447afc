/* cmd_admin.c: to be written. */
