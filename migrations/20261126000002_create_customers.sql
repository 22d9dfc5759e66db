-- Customers (the clients an organisation invoices). Scoped by organisation like everything else.

CREATE TABLE customers (
    id         uuid PRIMARY KEY,
    org_id     uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    email      text,
    -- {line1, line2, city, region, postalCode, country}; shape validated by the API.
    address    jsonb,
    tax_id     text,
    currency   text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    -- IANA time zone: reminders go out at 09:00 local time.
    time_zone  text NOT NULL,
    -- BCP 47 language tag for emails and documents.
    locale     text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Keyset pagination: newest first, ties broken by id.
CREATE INDEX customers_org_created_idx ON customers (org_id, created_at DESC, id DESC);
CREATE INDEX customers_org_email_idx ON customers (org_id, lower(email));
