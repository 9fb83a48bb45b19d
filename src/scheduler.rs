//! The scheduler: time-driven work that no request starts. It renews subscriptions whose
//! period has ended (each period invoiced exactly once, however many schedulers run), checks
//! whether their invoices were paid, writes lapsed credits into the ledger, and makes each
//! organisation's weekly digest once its week is over.
//!
//! It runs inside `favcrm serve` (every minute by default) and alone as `favcrm worker`, so
//! several may run beside several servers. It asks the database which subscriptions are due
//! (`auth.due_subscriptions`, across organisations, ids only) and then acts on each in its own
//! transaction as the member role for that organisation (`auth.renew_subscription`), under the
//! same policies as a request. A subscription another scheduler is renewing is passed by
//! (`FOR UPDATE SKIP LOCKED`); a period is a unique row written with its invoice, so a second
//! scheduler, or one restarted after a crash mid-run, never invoices it again: a transaction
//! cut off before its commit leaves nothing behind.

use std::time::Duration;

use deadpool_postgres::Pool;
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use crate::call::Payments;
use crate::db::in_org;

/// Subscriptions asked for at once.
const BATCH: i32 = 100;

/// What one run did.
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// Subscriptions looked at (renewed, ended, checked for payment).
    pub subscriptions: usize,
    /// Period steps taken (a trial started, a period invoiced, a subscription ended).
    pub steps: i64,
    /// Subscriptions another scheduler held.
    pub skipped: usize,
    /// Subscriptions that could not be renewed (the reason is on each: lastRenewalError).
    pub failed: usize,
    /// Lapsed credit grants whose expiry was written into the ledger.
    pub expired_grants: i64,
    /// Payment links made for period invoices collected through Stripe (Checkout Sessions).
    pub payment_links: usize,
    /// Lapsed loyalty lots whose expiry was written into the ledger.
    pub expired_points: i64,
    /// Customers whose loyalty tier was looked at again (earnings leaving the 12 months).
    pub tier_reviews: usize,
    /// Weekly digests made (organisations whose week ended).
    pub digests: usize,
}

/// One pass over everything due as of `as_of` (RFC 3339; the database's clock when None).
/// With `payments`, the payment links of subscriptions collected through Stripe are sent to
/// Stripe once their renewal committed; without, they wait (still being made) for a scheduler
/// that has them.
pub async fn run_once(pool: &Pool, payments: Option<&Payments>, as_of: Option<&str>) -> anyhow::Result<Report> {
    let mut report = Report::default();
    let mut seen: Vec<Uuid> = Vec::new();
    loop {
        let due = {
            let client = pool.get().await?;
            client
                .query(
                    "select org_id, id from auth.due_subscriptions(coalesce($1::text::timestamptz, now()), $2, $3)",
                    &[&as_of, &BATCH, &seen],
                )
                .await?
        };
        if due.is_empty() {
            break;
        }
        for row in due {
            let (org, id): (Uuid, Uuid) = (row.get(0), row.get(1));
            seen.push(id);
            let outcome = in_org(
                pool,
                "select auth.renew_subscription($1, $2, coalesce($3::text::timestamptz, now()))",
                &[&org, &id, &as_of],
            )
            .await
            .map(|row| row.get::<_, Value>(0));
            report.subscriptions += 1;
            match outcome {
                Ok(v) if v["skipped"] == true => report.skipped += 1,
                Ok(v) if v.get("error").is_some() => {
                    report.failed += 1;
                    tracing::warn!(subscription = %id, error = %v["error"], "renewal failed");
                }
                Ok(v) => {
                    report.steps += v["steps"].as_i64().unwrap_or(0);
                    if let (Some(request), Some(payments)) = (v.get("_stripe"), payments) {
                        report.payment_links += send_links(pool, payments, org, request).await;
                    }
                }
                Err(e) => {
                    report.failed += 1;
                    tracing::warn!(subscription = %id, error = %e, "renewal failed");
                }
            }
        }
    }
    loop {
        let lapsed = {
            let client = pool.get().await?;
            client
                .query(
                    "select org_id, array_agg(id) from auth.lapsed_credit_grants(coalesce($1::text::timestamptz, now()), 500) \
                     group by org_id",
                    &[&as_of],
                )
                .await?
        };
        let mut written = 0;
        for row in lapsed {
            let (org, ids): (Uuid, Vec<Uuid>) = (row.get(0), row.get(1));
            let n: i32 = in_org(
                pool,
                "select auth.expire_credit_grants($1, $2, coalesce($3::text::timestamptz, now()))",
                &[&org, &ids, &as_of],
            )
            .await?
            .get(0);
            written += i64::from(n);
        }
        // Done, or only grants of customers busy right now are left (the next run has them).
        if written == 0 {
            break;
        }
        report.expired_grants += written;
    }
    loyalty(pool, as_of, &mut report).await?;
    digests(pool, as_of, &mut report).await?;
    Ok(report)
}

/// The weekly digest of every organisation whose week ended without one.
async fn digests(pool: &Pool, as_of: Option<&str>, report: &mut Report) -> anyhow::Result<()> {
    let due = pool
        .get()
        .await?
        .query(
            "select org_id, week_start from auth.due_digests(coalesce($1::text::timestamptz, now()), 1000)",
            &[&as_of],
        )
        .await?;
    for row in due {
        let (org, week): (Uuid, chrono::NaiveDate) = (row.get(0), row.get(1));
        match in_org(pool, "select auth.make_weekly_digest($1, $2)", &[&org, &week]).await {
            Ok(row) if row.get::<_, Value>(0)["skipped"] == true => {}
            Ok(_) => report.digests += 1,
            Err(e) => tracing::warn!(%org, %week, error = %e, "weekly digest"),
        }
    }
    Ok(())
}

/// Loyalty's time-driven work: the expiry of lapsed lots written into the ledger, and the
/// tiers of customers whose earnings leave the rolling 12 months looked at again.
async fn loyalty(pool: &Pool, as_of: Option<&str>, report: &mut Report) -> anyhow::Result<()> {
    loop {
        let lapsed = pool
            .get()
            .await?
            .query(
                "select org_id, array_agg(id) from auth.lapsed_loyalty_lots(coalesce($1::text::timestamptz, now()), 500) \
                 group by org_id",
                &[&as_of],
            )
            .await?;
        let mut written = 0;
        for row in lapsed {
            let (org, ids): (Uuid, Vec<Uuid>) = (row.get(0), row.get(1));
            let sql = "select auth.expire_loyalty_lots($1, $2, coalesce($3::text::timestamptz, now()))";
            written += i64::from(in_org(pool, sql, &[&org, &ids, &as_of]).await?.get::<_, i32>(0));
        }
        if written == 0 {
            break;
        }
        report.expired_points += written;
    }
    let due = pool
        .get()
        .await?
        .query(
            "select org_id, customer_id from auth.loyalty_reviews_due(coalesce($1::text::timestamptz, now()), 1000)",
            &[&as_of],
        )
        .await?;
    for row in due {
        let (org, customer): (Uuid, Uuid) = (row.get(0), row.get(1));
        let sql = "select auth.review_loyalty_tier($1, $2, coalesce($3::text::timestamptz, now()))";
        match in_org(pool, sql, &[&org, &customer, &as_of]).await {
            Ok(_) => report.tier_reviews += 1,
            Err(e) => tracing::warn!(%customer, error = %e, "loyalty tier review"),
        }
    }
    Ok(())
}

/// Sends a renewal's payment links to Stripe and records the answers; how many were made.
async fn send_links(pool: &Pool, payments: &Payments, org: Uuid, request: &Value) -> usize {
    let outcome = async {
        let (results, _) =
            crate::call::payments::call_stripe(payments, request).await.map_err(|e| anyhow::anyhow!("{e:?}"))?;
        let made = results.as_array().map_or(0, |r| r.iter().filter(|x| x["ok"] == true).count());
        in_org(pool, "select auth.apply_scheduler_stripe_results($1, $2::jsonb)", &[&org, &results]).await?;
        anyhow::Ok(made)
    }
    .await;
    outcome.unwrap_or_else(|e| {
        // The links stay as they are (still being made); a payment link can be made by hand.
        tracing::warn!(%org, error = %e, "payment links for renewals");
        0
    })
}

/// Runs the scheduler every `every` for as long as the process runs.
pub fn spawn(pool: Pool, payments: Option<std::sync::Arc<Payments>>, every: Duration) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match run_once(&pool, payments.as_deref(), None).await {
                Ok(r) if r.subscriptions > 0 || r.expired_grants > 0 || r.digests > 0 => {
                    tracing::info!(?r, "scheduler")
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "scheduler"),
            }
        }
    });
}
