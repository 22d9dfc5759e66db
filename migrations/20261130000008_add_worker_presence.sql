-- Workers announce themselves here (the worker is this table's one writer; the API reads it):
-- which payment provider each uses, so that `/ready` of an API configured differently says so
-- instead of clients paying through a checkout the API does not accept events from.
CREATE TABLE worker_presence (
    worker_id        text PRIMARY KEY,
    payment_provider text NOT NULL CHECK (payment_provider IN ('stripe', 'test', 'none')),
    started_at       timestamptz NOT NULL DEFAULT now(),
    seen_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX worker_presence_seen_at ON worker_presence (seen_at);
