/* arf.c: to be written. */
