//! The invoice workflow's search attributes (declared in temporal/search-attributes.txt):
//! what support searches by in the Temporal UI. No personal data: ids, number, status, money.

use temporalio_workflow::common::{SearchAttributeKey, SearchAttributeUpdate, Timestamp};

use super::messages::InvoiceWorkflowInput;
use super::workflow::InvoiceWorkflow;

pub const INVOICE_STATUS: SearchAttributeKey<String> = SearchAttributeKey::keyword("InvoiceStatus");
pub const INVOICE_NUMBER: SearchAttributeKey<String> = SearchAttributeKey::keyword("InvoiceNumber");
pub const ORG_ID: SearchAttributeKey<String> = SearchAttributeKey::keyword("OrgId");
pub const CUSTOMER_ID: SearchAttributeKey<String> = SearchAttributeKey::keyword("CustomerId");
pub const DUE_DATE: SearchAttributeKey<Timestamp> = SearchAttributeKey::datetime("DueDate");
pub const AMOUNT_DUE: SearchAttributeKey<i64> = SearchAttributeKey::int("AmountDue");
pub const CURRENCY: SearchAttributeKey<String> = SearchAttributeKey::keyword("Currency");

/// The current values of every attribute.
pub(super) fn updates(w: &InvoiceWorkflow) -> Vec<SearchAttributeUpdate> {
    let view = w.state.view();
    let mut updates = at_start(w.state.input());
    updates.push(INVOICE_STATUS.value_set(view.status.as_str().to_owned()));
    updates.push(AMOUNT_DUE.value_set(view.amount_due));
    if let Some(number) = view.number {
        updates.push(INVOICE_NUMBER.value_set(number));
    }
    updates
}

/// What is known before the run starts, set with the start itself: a run is found by its
/// organisation (`OrgId`, the ops page's visibility query) even if it fails before its first
/// projection.
pub fn at_start(input: &InvoiceWorkflowInput) -> Vec<SearchAttributeUpdate> {
    let mut updates = vec![
        ORG_ID.value_set(input.org_id.to_string()),
        CUSTOMER_ID.value_set(input.customer_id.to_string()),
        CURRENCY.value_set(input.content.currency.code().to_owned()),
    ];
    if let Some(midnight) = input.content.due_date.and_hms_opt(0, 0, 0) {
        updates.push(DUE_DATE.value_set(Timestamp::new(midnight.and_utc().timestamp(), 0)));
    }
    updates
}
