-- no-transaction
-- SES's bounce and complaint events name the provider's message id: this finds the email that
-- bounced, and with it the invoice. email_sends already holds rows, so the index is built
-- without blocking sends (CONCURRENTLY, outside a transaction); IF NOT EXISTS lets a build
-- that was interrupted be run again after dropping the invalid index it left.
CREATE INDEX CONCURRENTLY IF NOT EXISTS email_sends_provider_message_idx
    ON email_sends (provider_message_id);
