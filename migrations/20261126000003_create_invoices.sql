-- Invoices and everything that happens to them. Written only by the worker's activities (the
-- workflow is the owner of an invoice's state); the API reads these tables.

-- Organisation settings the invoices use: who the seller is (printed on every invoice), how
-- to pay, and when reminders go out (days relative to the due date, at 09:00 customer time).
ALTER TABLE organizations
    ADD COLUMN seller_details       jsonb,
    ADD COLUMN payment_instructions text,
    ADD COLUMN reminder_offsets     integer[] NOT NULL DEFAULT '{-3,0,3,7,14}';

-- Gapless invoice numbers per organisation and year: the row is locked while a number is
-- taken, inside the same transaction that stamps it on the invoice.
CREATE TABLE invoice_number_counters (
    org_id     uuid    NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    year       integer NOT NULL,
    last_value integer NOT NULL,
    PRIMARY KEY (org_id, year)
);

CREATE TABLE invoices (
    id              uuid PRIMARY KEY,
    org_id          uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    customer_id     uuid NOT NULL REFERENCES customers (id) ON DELETE RESTRICT,
    -- `invoice:<org>:<invoice>`; one workflow per invoice.
    workflow_id     text NOT NULL UNIQUE,
    -- Assigned at finalization, e.g. INV-2026-00042.
    number          text,
    status          text NOT NULL CHECK (status IN ('draft', 'open', 'sent', 'overdue', 'partially_paid',
                                                    'paid', 'void', 'needs_attention', 'refunded')),
    currency        text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    issue_date      date,
    due_date        date NOT NULL,
    -- Percentages with four decimal places, as given.
    tax_rate        numeric(9, 4) NOT NULL DEFAULT 0,
    discount_rate   numeric(9, 4) NOT NULL DEFAULT 0,
    -- Minor units of `currency`.
    subtotal        bigint NOT NULL,
    discount_total  bigint NOT NULL,
    tax_total       bigint NOT NULL,
    total           bigint NOT NULL,
    amount_paid     bigint NOT NULL DEFAULT 0,
    amount_due      bigint GENERATED ALWAYS AS (total - amount_paid) STORED,
    notes           text,
    reference       text,
    -- The client as printed on the invoice, frozen at finalization.
    client_name     text NOT NULL,
    client_email    text,
    client_snapshot jsonb,
    -- Object-store key of the rendered PDF (content-addressed).
    pdf_key         text,
    attention_reason text,
    -- The next thing the workflow will do on its own: {"kind": "...", "at": "..."}.
    next_action     jsonb,
    -- Version of the workflow state this row reflects; a write with a lower one is stale.
    version         bigint NOT NULL DEFAULT 0,
    created_by      text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    finalized_at    timestamptz,
    sent_at         timestamptz,
    paid_at         timestamptz,
    voided_at       timestamptz,
    UNIQUE (org_id, number)
);

-- Lists: newest first within an organisation, filtered by status, customer, dates, amounts.
CREATE INDEX invoices_org_created_idx ON invoices (org_id, created_at DESC, id DESC);
CREATE INDEX invoices_org_status_idx ON invoices (org_id, status, created_at DESC, id DESC);
CREATE INDEX invoices_org_customer_idx ON invoices (org_id, customer_id, created_at DESC, id DESC);
CREATE INDEX invoices_org_due_idx ON invoices (org_id, due_date);

CREATE TABLE invoice_lines (
    invoice_id  uuid    NOT NULL REFERENCES invoices (id) ON DELETE CASCADE,
    position    integer NOT NULL,
    org_id      uuid    NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    description text    NOT NULL,
    quantity    numeric(15, 4) NOT NULL,
    unit_price  bigint  NOT NULL,
    amount      bigint  NOT NULL,
    PRIMARY KEY (invoice_id, position)
);

CREATE TABLE payments (
    id          uuid PRIMARY KEY,
    org_id      uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    invoice_id  uuid NOT NULL REFERENCES invoices (id) ON DELETE CASCADE,
    -- Provider event id or the client's idempotency key: one payment per event, ever.
    event_id    text NOT NULL,
    -- Negative for refunds.
    amount      bigint NOT NULL,
    currency    text NOT NULL,
    -- card, bank_transfer, wallet, cash, check, manual, other
    method      text NOT NULL,
    reference   text,
    paid_at     timestamptz NOT NULL,
    recorded_by text NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (invoice_id, event_id)
);

CREATE INDEX payments_org_paid_idx ON payments (org_id, paid_at);

-- The timeline: every change to an invoice, in order, with who did it.
CREATE TABLE invoice_events (
    id          bigserial PRIMARY KEY,
    org_id      uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    invoice_id  uuid NOT NULL REFERENCES invoices (id) ON DELETE CASCADE,
    -- created, finalized, pdf_rendered, email_sent, reminder_sent, viewed, payment_recorded,
    -- status_changed, failed, retried, voided, ...
    kind        text NOT NULL,
    -- "user:<id>", "api_key:<id>", "system", "client"
    actor       text NOT NULL,
    data        jsonb NOT NULL DEFAULT '{}',
    occurred_at timestamptz NOT NULL,
    -- Makes a retried activity's append a no-op.
    dedup_key   text NOT NULL,
    UNIQUE (invoice_id, dedup_key)
);

CREATE INDEX invoice_events_invoice_idx ON invoice_events (invoice_id, id);

-- Every email handed to a provider, keyed by the idempotency key the workflow derived
-- (`<invoice id>:<step>:<n>`), so a retried send activity never sends twice.
-- One row per email the workflows asked for, claimed before the provider is called: `sending`
-- until the provider accepted it, then `sent` with its message id. A `sending` row found by a
-- retry means the worker died during the provider call: the email may or may not have gone, so
-- it is not sent again without a person deciding (no email goes twice).
CREATE TABLE email_sends (
    idempotency_key     text PRIMARY KEY,
    org_id              uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    invoice_id          uuid NOT NULL REFERENCES invoices (id) ON DELETE CASCADE,
    kind                text NOT NULL,
    recipient           text NOT NULL,
    status              text NOT NULL DEFAULT 'sending' CHECK (status IN ('sending', 'sent')),
    provider_message_id text,
    claimed_at          timestamptz NOT NULL DEFAULT now(),
    sent_at             timestamptz,
    CHECK ((status = 'sent') = (provider_message_id IS NOT NULL))
);
