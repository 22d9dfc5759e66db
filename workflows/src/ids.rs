//! Workflow ids as business keys: one helper builds them so that starting a workflow twice for
//! the same invoice collides on the id (reject-duplicate) instead of creating a second run.

use invoice_domain::{InvoiceId, OrgId};

const INVOICE_PREFIX: &str = "invoice";
const SEPARATOR: char = ':';

/// The workflow id of an invoice's workflow: `invoice:<org id>:<invoice id>`.
pub fn invoice_workflow_id(org_id: OrgId, invoice_id: InvoiceId) -> String {
    format!("{INVOICE_PREFIX}{SEPARATOR}{org_id}{SEPARATOR}{invoice_id}")
}

/// The prefix every invoice workflow id of an organisation starts with.
pub fn org_workflow_prefix(org_id: OrgId) -> String {
    format!("{INVOICE_PREFIX}{SEPARATOR}{org_id}{SEPARATOR}")
}

/// Splits an invoice workflow id back into its organisation and invoice.
///
/// Returns `None` for any other workflow id (ids of other workflow kinds), so ops tooling
/// listing workflows can map runs back to invoices without guessing.
pub fn parse_invoice_workflow_id(workflow_id: &str) -> Option<(OrgId, InvoiceId)> {
    let rest = workflow_id.strip_prefix(INVOICE_PREFIX)?.strip_prefix(SEPARATOR)?;
    let (org_id, invoice_id) = rest.split_once(SEPARATOR)?;
    Some((org_id.parse().ok()?, invoice_id.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORG: &str = "0190f3f4-8c1e-7a4b-9d2e-3f5a6b7c8d9e";
    const INVOICE: &str = "0190f3f5-1111-7222-8333-444455556666";

    fn ids() -> (OrgId, InvoiceId) {
        (ORG.parse().unwrap(), INVOICE.parse().unwrap())
    }

    #[test]
    fn builds_the_documented_shape() {
        let (org, invoice) = ids();
        assert_eq!(invoice_workflow_id(org, invoice), format!("invoice:{ORG}:{INVOICE}"));
        assert!(invoice_workflow_id(org, invoice).starts_with(&org_workflow_prefix(org)));
    }

    #[test]
    fn parse_round_trips() {
        let (org, invoice) = ids();
        let id = invoice_workflow_id(org, invoice);
        assert_eq!(parse_invoice_workflow_id(&id), Some((org, invoice)));
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
            &format!("invoice:{ORG}:{INVOICE}:extra"),
            &format!("invoices:{ORG}:{INVOICE}"),
            &format!("invoice:{ORG}:not-a-uuid"),
            "ping:abc",
        ] {
            assert_eq!(parse_invoice_workflow_id(id), None, "{id:?}");
        }
    }
}
