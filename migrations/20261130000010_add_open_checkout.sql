-- The invoice's open checkout session as its workflow projects it (id, url, amount, currency,
-- expiresAt, provider; NULL when none is open). The hosted page sends a payer who presses Pay
-- again to it without a workflow update, so repeated clicks do not grow the run's history.
ALTER TABLE invoices ADD COLUMN checkout jsonb;
