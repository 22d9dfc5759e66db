-- Live updates for the web app: every change to an invoice (its row, or a new timeline event)
-- is announced on the `invoice_changes` channel. Each API replica LISTENs once and pushes the
-- changes of the caller's organisation to its WebSocket clients (`/api/ws`), so it does not
-- matter which replica a client is connected to or which process wrote the row.
--
-- The payload stays far below NOTIFY's 8000-byte limit: ids, the status and what happened.
CREATE FUNCTION notify_invoice_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'invoices' THEN
        PERFORM pg_notify('invoice_changes', json_build_object(
            'org', NEW.org_id, 'invoice', NEW.id, 'status', NEW.status,
            'what', lower(TG_OP), 'at', NEW.updated_at)::text);
    ELSE
        PERFORM pg_notify('invoice_changes', json_build_object(
            'org', NEW.org_id, 'invoice', NEW.invoice_id,
            'status', (SELECT status FROM invoices WHERE id = NEW.invoice_id),
            'what', NEW.kind, 'at', NEW.occurred_at)::text);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER invoices_notify_change
    AFTER INSERT OR UPDATE ON invoices
    FOR EACH ROW EXECUTE FUNCTION notify_invoice_change();

CREATE TRIGGER invoice_events_notify_change
    AFTER INSERT ON invoice_events
    FOR EACH ROW EXECUTE FUNCTION notify_invoice_change();

-- The analytics dashboard: views by device and checkouts per invoice, in date ranges.
CREATE INDEX invoice_events_org_kind_idx ON invoice_events (org_id, kind, occurred_at);
CREATE INDEX invoices_org_issue_idx ON invoices (org_id, currency, issue_date);
