/* report_json.c: to be written. */
