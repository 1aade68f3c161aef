"""The outbox: messages written in the transaction of whatever caused them, then sent by the
worker's dispatcher over a channel (Expo, a webhook, the log), retried with backoff and
never sent twice. It sits below every domain so that any of them can enqueue a message
without knowing who plans or reads it."""
