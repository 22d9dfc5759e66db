//! `/api/analytics/dashboard`: the analytics dashboard's figures for one currency, aggregated
//! in one SQL statement over invoices, payments and timeline events.
//!
//! The filters narrow the invoices every figure is drawn from, so every chart changes at once:
//! `channel` keeps invoices with a payment through that channel (and counts only those
//! payments), `device` keeps invoices viewed on that device class (and counts only those views).

use axum::extract::State;
use chrono::{Datelike, Duration, NaiveDate, Utc};
use invoice_domain::{Device, PaymentMethod, TimelineKind};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Auth;
use crate::error::{ApiError, ApiResult, ErrorBody, FieldErrors};
use crate::extract::{Json, Query};
use crate::state::AppState;

/// The longest range one request may ask for.
const MAX_DAYS: i64 = 731;
/// The default range: the last 90 days.
const DEFAULT_DAYS: i64 = 90;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(dashboard))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct DashboardParams {
    /// First day (UTC, inclusive). Default: 89 days before `to`.
    pub from: Option<NaiveDate>,
    /// Last day (UTC, inclusive). Default: today.
    pub to: Option<NaiveDate>,
    /// ISO 4217 code. Default: the currency most of the organisation's invoices are in.
    pub currency: Option<String>,
    /// A payment channel. (Text here, so that a wrong one is a field error like any other.)
    #[param(value_type = Option<PaymentMethod>)]
    pub channel: Option<String>,
    /// A device class of hosted-page views.
    #[param(value_type = Option<Device>)]
    pub device: Option<String>,
}

/// Headline figures. Money is in minor units of `currency`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Kpis {
    /// Payments received in the range, net of refunds.
    pub collected: i64,
    /// Still due today on open invoices (sent, overdue, partially paid, needing attention).
    pub outstanding: i64,
    /// Share of the value invoiced in the range that has been collected; null if none.
    pub collection_rate: Option<f64>,
    /// Mean days from issue to full payment, over invoices paid in the range; null if none.
    pub average_days_to_pay: Option<f64>,
    /// Invoices issued in the range (not void).
    pub invoice_count: i64,
    /// Of those, paid in full.
    pub paid_count: i64,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DailyRevenue {
    pub date: NaiveDate,
    /// Collected that day, net of refunds.
    pub collected: i64,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChannelRevenue {
    pub channel: PaymentMethod,
    /// Net of refunds.
    pub amount: i64,
    /// Payments (refunds not counted).
    pub count: i64,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeviceViews {
    pub device: Device,
    pub views: i64,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FunnelStage {
    pub stage: FunnelStep,
    /// Invoices created in the range that reached the stage.
    pub count: i64,
}

/// The stages of the funnel, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FunnelStep {
    Created,
    Sent,
    Viewed,
    CheckoutStarted,
    Paid,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Cohort {
    /// Monday of the issue week.
    pub week: NaiveDate,
    /// Value issued that week (not void).
    pub invoiced: i64,
    pub invoice_count: i64,
    /// Eight cells: the share of `invoiced` collected by the end of week k after the issue
    /// week (k = 0 is the issue week itself); null for weeks not reached yet or no invoices.
    pub collected_share: Vec<Option<f64>>,
}

/// Everything the dashboard draws, for one currency and range.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Dashboard {
    pub currency: String,
    /// Every currency the organisation has invoices in.
    pub currencies: Vec<String>,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub kpis: Kpis,
    /// Every day of the range, in order, zero when nothing came in.
    pub daily: Vec<DailyRevenue>,
    pub channels: Vec<ChannelRevenue>,
    pub devices: Vec<DeviceViews>,
    /// Always the five stages, in order.
    pub funnel: Vec<FunnelStage>,
    /// Twelve issue-week cohorts, the oldest first, the last holding `to`.
    pub cohorts: Vec<Cohort>,
}

/// The parts of the dashboard Postgres assembles.
#[derive(Debug, Deserialize)]
struct Figures {
    kpis: Kpis,
    daily: Vec<DailyRevenue>,
    channels: Vec<ChannelRevenue>,
    devices: Vec<DeviceViews>,
    funnel: Vec<FunnelStage>,
    cohorts: Vec<Cohort>,
}

/// The analytics dashboard: revenue, outstanding, collection, channels, devices, funnel and
/// cohorts, for one currency and date range. Every role may read it.
#[utoipa::path(get, path = "/api/analytics/dashboard", tag = "analytics", params(DashboardParams),
    security(("bearer" = [])),
    responses((status = 200, body = Dashboard), (status = 401, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub(crate) async fn dashboard(
    State(state): State<AppState>,
    auth: Auth,
    Query(params): Query<DashboardParams>,
) -> ApiResult<Json<Dashboard>> {
    let (from, to) = validate(&params)?;
    let currencies = sqlx::query_scalar!(
        r#"SELECT currency AS "currency!" FROM invoices WHERE org_id = $1
           GROUP BY currency ORDER BY count(*) DESC, currency"#,
        auth.org_id
    )
    .fetch_all(&state.db)
    .await?;
    let currency = match &params.currency {
        Some(currency) => currency.clone(),
        None => match currencies.first() {
            Some(busiest) => busiest.clone(),
            None => {
                sqlx::query_scalar!(
                    "SELECT default_currency FROM organizations WHERE id = $1",
                    auth.org_id
                )
                .fetch_one(&state.db)
                .await?
            }
        },
    };
    let figures = figures(&state, &auth, &currency, from, to, &params).await?;
    Ok(Json(Dashboard {
        currency,
        currencies,
        from,
        to,
        kpis: figures.kpis,
        daily: figures.daily,
        channels: figures.channels,
        devices: figures.devices,
        funnel: figures.funnel,
        cohorts: figures.cohorts,
    }))
}

fn validate(params: &DashboardParams) -> ApiResult<(NaiveDate, NaiveDate)> {
    let mut errors = FieldErrors::new();
    let to = params.to.unwrap_or_else(|| Utc::now().date_naive());
    let from = params.from.unwrap_or(to - Duration::days(DEFAULT_DAYS - 1));
    if from > to {
        errors.add("from", "invalid_range", "Must not be after `to`.");
    } else if (to - from).num_days() >= MAX_DAYS {
        errors.add(
            "from",
            "range_too_long",
            format!("The range may span at most {MAX_DAYS} days."),
        );
    }
    if to.year() > 9999 || from.year() < 1 {
        errors.add("to", "invalid_date", "Out of range.");
    }
    if let Some(currency) = &params.currency
        && !(currency.len() == 3 && currency.bytes().all(|b| b.is_ascii_uppercase()))
    {
        errors.add("currency", "invalid_currency", "Must be an ISO 4217 code such as EUR.");
    }
    if let Some(channel) = &params.channel
        && PaymentMethod::parse(channel).is_none()
    {
        let names: Vec<&str> = PaymentMethod::ALL.iter().map(|m| m.as_str()).collect();
        errors.add("channel", "unknown_channel", format!("Must be one of {}.", names.join(", ")));
    }
    if let Some(device) = &params.device
        && Device::parse(device).is_none()
    {
        let names: Vec<&str> = Device::ALL.iter().map(|d| d.as_str()).collect();
        errors.add("device", "unknown_device", format!("Must be one of {}.", names.join(", ")));
    }
    errors.into_result()?;
    Ok((from, to))
}

/// One statement: the filtered invoices (`s`) and their payments (`pay`) once, then every
/// figure over them, assembled as JSON.
async fn figures(
    state: &AppState,
    auth: &Auth,
    currency: &str,
    from: NaiveDate,
    to: NaiveDate,
    params: &DashboardParams,
) -> ApiResult<Figures> {
    let json = sqlx::query_scalar!(
        r#"
WITH s AS (
    SELECT i.id, i.status, i.issue_date, i.total, i.amount_due, i.created_at, i.sent_at, i.paid_at
    FROM invoices i
    WHERE i.org_id = $1 AND i.currency = $2
      AND ($5::text IS NULL OR EXISTS (
          SELECT 1 FROM payments p WHERE p.invoice_id = i.id AND p.method = $5))
      AND ($6::text IS NULL OR EXISTS (
          SELECT 1 FROM invoice_events e
          WHERE e.invoice_id = i.id AND e.kind = $7 AND e.data->>'device' = $6))
),
issued AS (
    SELECT * FROM s WHERE s.status NOT IN ('draft', 'void') AND s.issue_date IS NOT NULL
),
pay AS (
    SELECT p.invoice_id, p.amount, p.method, p.paid_at, (p.paid_at AT TIME ZONE 'UTC')::date AS day
    FROM payments p JOIN s ON s.id = p.invoice_id
    WHERE p.org_id = $1 AND ($5::text IS NULL OR p.method = $5)
),
views AS (
    SELECT e.invoice_id, e.data->>'device' AS device, (e.occurred_at AT TIME ZONE 'UTC')::date AS day
    FROM invoice_events e JOIN s ON s.id = e.invoice_id
    WHERE e.org_id = $1 AND e.kind = $7 AND ($6::text IS NULL OR e.data->>'device' = $6)
),
created AS (
    SELECT s.* FROM s WHERE (s.created_at AT TIME ZONE 'UTC')::date BETWEEN $3 AND $4
),
weeks AS (
    SELECT (date_trunc('week', $4::date) - make_interval(weeks => g))::date AS week
    FROM generate_series(0, 11) AS g
),
cohorts AS (
    SELECT w.week, COALESCE(sum(i.total), 0)::bigint AS invoiced, count(i.id) AS invoice_count
    FROM weeks w LEFT JOIN issued i ON i.issue_date >= w.week AND i.issue_date < w.week + 7
    GROUP BY w.week
),
cells AS (
    SELECT c.week, k,
           CASE WHEN c.invoiced = 0 OR c.week + 7 * k > CURRENT_DATE THEN NULL
                ELSE round((SELECT COALESCE(sum(p.amount), 0) FROM pay p JOIN issued i ON i.id = p.invoice_id
                            WHERE i.issue_date >= c.week AND i.issue_date < c.week + 7
                              AND p.day < c.week + 7 * (k + 1))::numeric / c.invoiced, 4)::float8
           END AS share
    FROM cohorts c CROSS JOIN generate_series(0, 7) AS k
)
SELECT json_build_object(
    'kpis', json_build_object(
        'collected', (SELECT COALESCE(sum(amount), 0) FROM pay WHERE day BETWEEN $3 AND $4)::bigint,
        'outstanding', (SELECT COALESCE(sum(amount_due), 0) FROM s
                        WHERE status IN ('open', 'sent', 'overdue', 'partially_paid', 'needs_attention'))::bigint,
        'collectionRate', (SELECT CASE WHEN sum(i.total) > 0 THEN round(
                               (SELECT COALESCE(sum(p.amount), 0) FROM pay p JOIN issued i2 ON i2.id = p.invoice_id
                                WHERE i2.issue_date BETWEEN $3 AND $4)::numeric / sum(i.total), 4)::float8 END
                           FROM issued i WHERE i.issue_date BETWEEN $3 AND $4),
        'averageDaysToPay', (SELECT round(avg((paid_at AT TIME ZONE 'UTC')::date - issue_date), 1)::float8
                             FROM issued WHERE status = 'paid' AND (paid_at AT TIME ZONE 'UTC')::date BETWEEN $3 AND $4),
        'invoiceCount', (SELECT count(*) FROM issued WHERE issue_date BETWEEN $3 AND $4),
        'paidCount', (SELECT count(*) FROM issued WHERE issue_date BETWEEN $3 AND $4 AND status = 'paid')),
    'daily', (SELECT json_agg(json_build_object('date', d.day, 'collected', COALESCE(t.collected, 0)) ORDER BY d.day)
              FROM (SELECT generate_series($3::date, $4::date, interval '1 day')::date AS day) d
              LEFT JOIN (SELECT day, sum(amount)::bigint AS collected FROM pay GROUP BY day) t ON t.day = d.day),
    'channels', COALESCE((SELECT json_agg(json_build_object('channel', method, 'amount', amount, 'count', n)
                                          ORDER BY amount DESC, method)
                          FROM (SELECT method, sum(amount)::bigint AS amount, count(*) FILTER (WHERE amount > 0) AS n
                                FROM pay WHERE day BETWEEN $3 AND $4 GROUP BY method) c), '[]'::json),
    'devices', COALESCE((SELECT json_agg(json_build_object('device', device, 'views', n) ORDER BY n DESC, device)
                         FROM (SELECT device, count(*) AS n FROM views
                               WHERE day BETWEEN $3 AND $4 AND device IS NOT NULL GROUP BY device) v), '[]'::json),
    'funnel', json_build_array(
        json_build_object('stage', 'created', 'count', (SELECT count(*) FROM created)),
        json_build_object('stage', 'sent', 'count', (SELECT count(*) FROM created WHERE sent_at IS NOT NULL)),
        json_build_object('stage', 'viewed', 'count',
            (SELECT count(*) FROM created c WHERE EXISTS (SELECT 1 FROM views v WHERE v.invoice_id = c.id))),
        json_build_object('stage', 'checkout_started', 'count',
            (SELECT count(*) FROM created c WHERE EXISTS (
                SELECT 1 FROM invoice_events e WHERE e.invoice_id = c.id AND e.kind = $8))),
        json_build_object('stage', 'paid', 'count', (SELECT count(*) FROM created WHERE paid_at IS NOT NULL))),
    'cohorts', (SELECT json_agg(json_build_object(
                    'week', c.week, 'invoiced', c.invoiced, 'invoiceCount', c.invoice_count,
                    'collectedShare', (SELECT json_agg(x.share ORDER BY x.k) FROM cells x WHERE x.week = c.week))
                ORDER BY c.week)
                FROM cohorts c)
) AS "figures!"
"#,
        auth.org_id,
        currency,
        from,
        to,
        params.channel.as_deref(),
        params.device.as_deref(),
        TimelineKind::Viewed.as_str(),
        TimelineKind::CheckoutStarted.as_str(),
    )
    .fetch_one(&state.db)
    .await?;
    serde_json::from_value(json)
        .map_err(|err| ApiError::Internal(anyhow::anyhow!("dashboard figures: {err}")))
}
