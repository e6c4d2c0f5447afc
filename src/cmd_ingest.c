/* cmd_ingest.c: to be written. */
