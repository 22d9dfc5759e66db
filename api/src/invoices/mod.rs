//! `/api/invoices`: creating an invoice starts its workflow; actions (finalize, void, resend,
//! remind, payments, retry) are updates of that workflow; reads come from Postgres, which the
//! workflow's activities keep current.

mod actions;
mod content;
mod create;
mod edit;
mod pdf;
mod read;
mod view;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;

#[cfg(feature = "dev-tools")]
pub(crate) use create::start_invoice;
pub(crate) use read::load_timeline;
pub use read::{ListParams, ListQuery, TimelineEntry, list_query};
pub use view::InvoiceView;
pub(crate) use view::fetch_invoice;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(read::list_invoices, create::create_invoice))
        .routes(routes!(read::get_invoice, edit::update_invoice, edit::delete_invoice))
        .routes(routes!(read::timeline))
        .routes(routes!(pdf::download_pdf))
        .routes(routes!(actions::finalize))
        .routes(routes!(actions::void))
        .routes(routes!(actions::resend))
        .routes(routes!(actions::remind))
        .routes(routes!(actions::retry))
        .routes(routes!(actions::record_payment))
}
