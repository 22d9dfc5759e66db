-- The hosted invoice page and card payments.

-- The client's link to the invoice (`/i/<token>`): 256 random bits, set at finalization by the
-- worker, cleared when the invoice is voided (a revoked link answers 404 like a random one).
ALTER TABLE invoices ADD COLUMN public_token text UNIQUE;

-- Invoices finalized before this migration get their link too (two random UUIDs: 244 random
-- bits, in the same 43-character URL-safe form the worker writes). Their PDFs, already
-- rendered, do not show it; emails sent from now on do.
UPDATE invoices
SET public_token = translate(rtrim(encode(decode(
        replace(gen_random_uuid()::text, '-', '') || replace(gen_random_uuid()::text, '-', ''),
        'hex'), 'base64'), '='), '+/', '-_')
WHERE number IS NOT NULL AND status <> 'void';

-- Payment provider events (Stripe, or the local test checkout in Stripe's format), stored once
-- each by the API's webhook handler, the only writer of this table. `processed_at` stays NULL
-- until the event has reached the invoice's workflow, so a delivery that failed half-way is
-- processed again when the provider retries it, and a replay of a processed one is a no-op.
CREATE TABLE payment_provider_events (
    id           text PRIMARY KEY,
    provider     text NOT NULL,
    type         text NOT NULL,
    org_id       uuid REFERENCES organizations (id) ON DELETE SET NULL,
    invoice_id   uuid REFERENCES invoices (id) ON DELETE SET NULL,
    -- applied, ignored: <why>, refused: <the workflow's reason>
    outcome      text,
    received_at  timestamptz NOT NULL DEFAULT now(),
    processed_at timestamptz
);

-- Refunds find their invoice by the payment they refund (Stripe's payment intent id).
CREATE INDEX payments_reference_idx ON payments (reference) WHERE reference IS NOT NULL;
