#!/bin/sh
# Postfix pipe script: publishes the bounce on standard input to the
# bouncedemails queue (amqp-publish from Debian's amqp-tools). Install it as
# /usr/local/bin/send_message_to_rabbitmq.sh and point the no-reply alias at it:
#   no-reply: "|/usr/local/bin/send_message_to_rabbitmq.sh"
# The URL holds a password: keep this file readable by root and Postfix only,
# or set BOUNCEDEMAILS_AMQP_URL in the environment instead.
# The envelope recipient, when Postfix's local(8) passes it, travels as a
# message header so that the service routes by it. -p makes the message
# persistent, so that it survives a broker restart.
url=${BOUNCEDEMAILS_AMQP_URL:-amqp://bouncedemails:PASSWORD@rabbitmq.example.org/bouncedemails}
queue=${BOUNCEDEMAILS_AMQP_QUEUE:-bouncedemails}
if [ -n "${ORIGINAL_RECIPIENT:-}" ]; then
  exec amqp-publish -u "$url" -r "$queue" -p -H "x-original-recipient: $ORIGINAL_RECIPIENT"
fi
exec amqp-publish -u "$url" -r "$queue" -p
