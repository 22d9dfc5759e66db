-- Live updates have one producer: these triggers. (The worker used to send a second kind of
-- notification on the same channel, in a shape the API could not read; it no longer does.)
--
-- A deleted draft is announced too (`what: delete`, no status), so it disappears from every
-- open browser. The payload keeps the shape of migration 005.
CREATE OR REPLACE FUNCTION notify_invoice_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'invoices' AND TG_OP = 'DELETE' THEN
        PERFORM pg_notify('invoice_changes', json_build_object(
            'org', OLD.org_id, 'invoice', OLD.id, 'status', NULL,
            'what', 'delete', 'at', now())::text);
    ELSIF TG_TABLE_NAME = 'invoices' THEN
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

DROP TRIGGER invoices_notify_change ON invoices;
CREATE TRIGGER invoices_notify_change
    AFTER INSERT OR UPDATE OR DELETE ON invoices
    FOR EACH ROW EXECUTE FUNCTION notify_invoice_change();
