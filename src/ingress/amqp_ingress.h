/*
 * amqp_ingress.h - the RabbitMQ consumer (rabbitmq-c). It takes bounces from
 * amqp.queue, commits them through the policy in batches and acknowledges
 * only what is committed. It reconnects with backoff when the broker goes.
 */
#ifndef BOUNCEDEMAILS_AMQP_INGRESS_H
#define BOUNCEDEMAILS_AMQP_INGRESS_H

#include "config.h"
#include "policy/policy.h"

typedef struct amqp_ingress amqp_ingress;

/* p is used only from the consumer's own thread. */
amqp_ingress *amqp_ingress_new(const config *cfg, policy *p);
int amqp_ingress_start(amqp_ingress *in);
/* Stops taking messages, commits and acknowledges what is in hand, closes
 * the connection and joins the thread. */
void amqp_ingress_stop(amqp_ingress *in);
void amqp_ingress_free(amqp_ingress *in);

#endif
