-- Request counts of the public endpoints in fixed windows, shared by every API replica (the
-- API is this table's one writer). Unlogged: the counts are worth nothing after a crash, and
-- every public request writes here.
CREATE UNLOGGED TABLE rate_limits (
    key          text PRIMARY KEY,
    window_start timestamptz NOT NULL,
    hits         integer NOT NULL
);
CREATE INDEX rate_limits_window_start ON rate_limits (window_start);
