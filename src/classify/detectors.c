/* detectors.c: to be written. */
