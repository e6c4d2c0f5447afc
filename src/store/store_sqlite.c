/* store_sqlite.c: to be written. */
