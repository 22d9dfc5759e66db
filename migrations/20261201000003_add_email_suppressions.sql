-- Addresses no invoice email goes to any more: SES reported a permanent bounce (no such
-- mailbox) or a complaint (the client marked our email as spam). The worker writes a row when
-- it reads the event from the SES events queue; the send activity refuses to mail a suppressed
-- address, so the invoice waits in `needs_attention` until someone corrects the customer's
-- email (the new address is not suppressed) and resends. Per organisation: one seller's bad
-- address says nothing about another's client.
CREATE TABLE email_suppressions (
    org_id              uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    -- Lower-cased.
    address             text NOT NULL CHECK (address = lower(address)),
    reason              text NOT NULL CHECK (reason IN ('bounce', 'complaint')),
    -- The receiving server's answer or the complaint's feedback type, for support.
    detail              text,
    -- The email that bounced.
    invoice_id          uuid REFERENCES invoices (id) ON DELETE SET NULL,
    provider_message_id text NOT NULL,
    suppressed_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, address)
);

