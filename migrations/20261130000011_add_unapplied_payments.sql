-- Money the payment provider confirmed that no invoice took: the invoice's workflow refused it
-- (voided meanwhile, already paid, another currency) or its run had ended. Each needs a person
-- (refund it, or apply it by hand), so it is listed for ops instead of only logged. The API's
-- webhook is this table's one writer; one row per provider event.
CREATE TABLE unapplied_payments (
    event_id    text PRIMARY KEY,
    org_id      uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    invoice_id  uuid REFERENCES invoices (id) ON DELETE SET NULL,
    provider    text NOT NULL,
    amount      bigint NOT NULL,
    currency    text NOT NULL,
    reference   text,
    reason      text NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX unapplied_payments_org_idx ON unapplied_payments (org_id, received_at DESC);
