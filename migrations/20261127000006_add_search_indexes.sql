-- Invoice search at scale (make bench: 1 000 000 invoices in one organisation).
--
-- Text search (`q`) matches substrings of the number, the client's name and email and the line
-- descriptions. Trigram indexes let those be found without reading every invoice; the list
-- query asks for the matching ids from each index (a UNION) and sorts only those.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE INDEX invoices_text_trgm_idx ON invoices
    USING gin (number gin_trgm_ops, client_name gin_trgm_ops, client_email gin_trgm_ops);
CREATE INDEX invoice_lines_description_trgm_idx ON invoice_lines
    USING gin (description gin_trgm_ops);

-- Issue-date ranges, newest first: the matching rows are found and ordered in the index alone.
CREATE INDEX invoices_org_issue_created_idx ON invoices (org_id, issue_date, created_at, id);
