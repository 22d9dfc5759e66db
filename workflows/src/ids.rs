//! Workflow ids as business keys: one helper builds them so that starting a workflow twice for
//! the same invoice collides on the id (reject-duplicate) instead of creating a second run.

const INVOICE_PREFIX: &str = "invoice";
const SEPARATOR: char = ':';

/// The workflow id of an invoice's workflow: `invoice:<org id>:<invoice id>`.
///
/// Both ids are UUIDs in their canonical text form, so neither contains the `:` separator and
/// the id can be split back into its parts by [`parse_invoice_workflow_id`].
pub fn invoice_workflow_id(org_id: &str, invoice_id: &str) -> String {
    debug_assert!(
        !org_id.contains(SEPARATOR) && !invoice_id.contains(SEPARATOR),
        "ids inside a workflow id must not contain '{SEPARATOR}'"
    );
    format!("{INVOICE_PREFIX}{SEPARATOR}{org_id}{SEPARATOR}{invoice_id}")
}

/// Splits an invoice workflow id back into `(org id, invoice id)`.
///
/// Returns `None` for any other workflow id (ping runs, ids of other workflow kinds), so ops
/// tooling listing workflows can map runs back to invoices without guessing.
pub fn parse_invoice_workflow_id(workflow_id: &str) -> Option<(&str, &str)> {
    let rest = workflow_id.strip_prefix(INVOICE_PREFIX)?.strip_prefix(SEPARATOR)?;
    let (org_id, invoice_id) = rest.split_once(SEPARATOR)?;
    let well_formed =
        !org_id.is_empty() && !invoice_id.is_empty() && !invoice_id.contains(SEPARATOR);
    well_formed.then_some((org_id, invoice_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORG: &str = "0190f3f4-8c1e-7a4b-9d2e-3f5a6b7c8d9e";
    const INVOICE: &str = "0190f3f5-1111-7222-8333-444455556666";

    #[test]
    fn builds_the_documented_shape() {
        assert_eq!(invoice_workflow_id(ORG, INVOICE), format!("invoice:{ORG}:{INVOICE}"));
    }

    #[test]
    fn parse_round_trips() {
        let id = invoice_workflow_id(ORG, INVOICE);
        assert_eq!(parse_invoice_workflow_id(&id), Some((ORG, INVOICE)));
    }

    #[test]
    fn parse_rejects_other_ids() {
        for id in [
            "",
            "invoice",
            "invoice:",
            "invoice:org",
            "invoice::inv",
            "invoice:org:",
            "invoice:org:inv:extra",
            "invoices:org:inv",
            "ping:abc",
        ] {
            assert_eq!(parse_invoice_workflow_id(id), None, "{id:?}");
        }
    }

    #[test]
    fn different_invoices_get_different_ids() {
        assert_ne!(invoice_workflow_id(ORG, INVOICE), invoice_workflow_id(INVOICE, ORG));
    }
}
