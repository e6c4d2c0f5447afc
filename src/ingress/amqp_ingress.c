/* amqp_ingress.c: to be written. */
