//! Row-level security: applying `policies/*.sql` after every migration, and auditing the
//! live schema against the table rules of DESIGN.md and rule 9, one home per function
//! (`favcrm policies audit`).

use anyhow::Context;
use serde::Serialize;
use tokio_postgres::Client;

/// Every policy file, applied in this order. A test checks the list matches `policies/`.
pub const FILES: &[(&str, &str)] = &[
    ("organisations.sql", include_str!("../../policies/organisations.sql")),
    ("users.sql", include_str!("../../policies/users.sql")),
    ("memberships.sql", include_str!("../../policies/memberships.sql")),
    ("api_keys.sql", include_str!("../../policies/api_keys.sql")),
    ("idempotency_keys.sql", include_str!("../../policies/idempotency_keys.sql")),
    ("customers.sql", include_str!("../../policies/customers.sql")),
    ("customer_imports.sql", include_str!("../../policies/customer_imports.sql")),
    ("customer_import_rows.sql", include_str!("../../policies/customer_import_rows.sql")),
    ("customer_notes.sql", include_str!("../../policies/customer_notes.sql")),
    ("confirmations.sql", include_str!("../../policies/confirmations.sql")),
    ("audit_event.sql", include_str!("../../policies/audit_event.sql")),
    ("signup_requests.sql", include_str!("../../policies/signup_requests.sql")),
    ("oauth_clients.sql", include_str!("../../policies/oauth_clients.sql")),
    ("web_sessions.sql", include_str!("../../policies/web_sessions.sql")),
    ("team_invites.sql", include_str!("../../policies/team_invites.sql")),
    ("services.sql", include_str!("../../policies/services.sql")),
    ("staff.sql", include_str!("../../policies/staff.sql")),
    ("resources.sql", include_str!("../../policies/resources.sql")),
    ("service_staff.sql", include_str!("../../policies/service_staff.sql")),
    ("working_hours.sql", include_str!("../../policies/working_hours.sql")),
    ("time_off.sql", include_str!("../../policies/time_off.sql")),
    ("closures.sql", include_str!("../../policies/closures.sql")),
    ("hours_exceptions.sql", include_str!("../../policies/hours_exceptions.sql")),
    ("bookings.sql", include_str!("../../policies/bookings.sql")),
    ("booking_resources.sql", include_str!("../../policies/booking_resources.sql")),
    ("class_sessions.sql", include_str!("../../policies/class_sessions.sql")),
    ("waitlist_entries.sql", include_str!("../../policies/waitlist_entries.sql")),
    ("booking_events.sql", include_str!("../../policies/booking_events.sql")),
    ("publishable_keys.sql", include_str!("../../policies/publishable_keys.sql")),
    ("tax_rates.sql", include_str!("../../policies/tax_rates.sql")),
    ("products.sql", include_str!("../../policies/products.sql")),
    ("document_counters.sql", include_str!("../../policies/document_counters.sql")),
    ("invoices.sql", include_str!("../../policies/invoices.sql")),
    ("invoice_lines.sql", include_str!("../../policies/invoice_lines.sql")),
    ("payments.sql", include_str!("../../policies/payments.sql")),
    ("credit_notes.sql", include_str!("../../policies/credit_notes.sql")),
    ("credit_note_lines.sql", include_str!("../../policies/credit_note_lines.sql")),
    ("refunds.sql", include_str!("../../policies/refunds.sql")),
    ("customer_balance_entries.sql", include_str!("../../policies/customer_balance_entries.sql")),
    ("payment_providers.sql", include_str!("../../policies/payment_providers.sql")),
    ("payment_links.sql", include_str!("../../policies/payment_links.sql")),
    ("provider_events.sql", include_str!("../../policies/provider_events.sql")),
    ("promotions.sql", include_str!("../../policies/promotions.sql")),
    ("orders.sql", include_str!("../../policies/orders.sql")),
    ("order_lines.sql", include_str!("../../policies/order_lines.sql")),
    ("stock_movements.sql", include_str!("../../policies/stock_movements.sql")),
    ("plans.sql", include_str!("../../policies/plans.sql")),
    ("subscriptions.sql", include_str!("../../policies/subscriptions.sql")),
    ("subscription_periods.sql", include_str!("../../policies/subscription_periods.sql")),
    ("credit_grants.sql", include_str!("../../policies/credit_grants.sql")),
    ("credit_entries.sql", include_str!("../../policies/credit_entries.sql")),
    ("loyalty_programmes.sql", include_str!("../../policies/loyalty_programmes.sql")),
    ("loyalty_entries.sql", include_str!("../../policies/loyalty_entries.sql")),
    ("loyalty_rewards.sql", include_str!("../../policies/loyalty_rewards.sql")),
    ("loyalty_redemptions.sql", include_str!("../../policies/loyalty_redemptions.sql")),
    ("loyalty_members.sql", include_str!("../../policies/loyalty_members.sql")),
    ("loyalty_tier_events.sql", include_str!("../../policies/loyalty_tier_events.sql")),
    ("webhook_endpoints.sql", include_str!("../../policies/webhook_endpoints.sql")),
    ("webhook_events.sql", include_str!("../../policies/webhook_events.sql")),
    ("deliveries.sql", include_str!("../../policies/deliveries.sql")),
    ("delivery_attempts.sql", include_str!("../../policies/delivery_attempts.sql")),
    ("account_mail.sql", include_str!("../../policies/account_mail.sql")),
    ("oauth_codes.sql", include_str!("../../policies/oauth_codes.sql")),
    ("oauth_tokens.sql", include_str!("../../policies/oauth_tokens.sql")),
    ("channels.sql", include_str!("../../policies/channels.sql")),
    ("message_templates.sql", include_str!("../../policies/message_templates.sql")),
    ("messages.sql", include_str!("../../policies/messages.sql")),
    ("messaging_settings.sql", include_str!("../../policies/messaging_settings.sql")),
    ("approvals.sql", include_str!("../../policies/approvals.sql")),
    ("approval_settings.sql", include_str!("../../policies/approval_settings.sql")),
    ("booking_message_rules.sql", include_str!("../../policies/booking_message_rules.sql")),
    ("campaigns.sql", include_str!("../../policies/campaigns.sql")),
    ("report_digests.sql", include_str!("../../policies/report_digests.sql")),
    ("posts.sql", include_str!("../../policies/posts.sql")),
];

/// When the policies are re-applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reapply {
    /// When the files differ from what the database last applied, or a migration just ran: a
    /// server starting beside others on the same database (re-applying locks every table).
    WhenChanged,
    /// Every time (`favcrm migrate`): also repairs policies changed by hand.
    Always,
}

/// The SHA-256 of every policy file, in order, as hex.
pub fn digest() -> String {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    for (name, sql) in FILES {
        hasher.update(name.as_bytes());
        hasher.update([0]);
        hasher.update(sql.as_bytes());
        hasher.update([0]);
    }
    hex::encode(hasher.finalize())
}

/// Drops every policy on `app` and `audit` tables and re-creates them from the files, inside
/// the caller's transaction: the files are the whole truth. With [`Reapply::WhenChanged`] it
/// does nothing when the database last applied these very files. Returns whether it applied.
pub async fn apply(tx: &tokio_postgres::Transaction<'_>, reapply: Reapply) -> anyhow::Result<bool> {
    let digest = digest();
    if reapply == Reapply::WhenChanged {
        let applied: Option<String> = tx
            .query_opt("select digest from public.favcrm_applied where part = 'policies'", &[])
            .await?
            .map(|row| row.get(0));
        if applied.as_deref() == Some(digest.as_str()) {
            return Ok(false);
        }
    }
    let existing = tx
        .query(
            "select format('drop policy %I on %I.%I', policyname, schemaname, tablename)
               from pg_policies where schemaname in ('app', 'audit')",
            &[],
        )
        .await?;
    for row in existing {
        tx.batch_execute(row.get::<_, &str>(0)).await?;
    }
    for (name, sql) in FILES {
        tx.batch_execute(sql).await.with_context(|| format!("applying policies/{name}"))?;
    }
    tx.execute(
        "insert into public.favcrm_applied (part, digest) values ('policies', $1)
         on conflict (part) do update set digest = excluded.digest, applied_at = pg_catalog.now()",
        &[&digest],
    )
    .await?;
    Ok(true)
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub tables: Vec<TableReport>,
    pub breaches: Vec<Breach>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TableReport {
    pub table: String,
    /// How the table would be spread over a cluster distributed by organisation (Citus).
    pub distribution: String,
    pub owner: String,
    pub rls_enabled: bool,
    pub rls_forced: bool,
    pub tenant: bool,
    pub policies: Vec<PolicyReport>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyReport {
    pub name: String,
    pub command: String,
    pub roles: Vec<String>,
    pub using: Option<String>,
    pub with_check: Option<String>,
}

#[derive(Debug, Serialize, Clone, PartialEq, Eq)]
pub struct Breach {
    /// The DESIGN.md table rule (1 to 5, and 8 for functions), 9: one home per function, or 10:
    /// distributable by organisation (`sql/README.md`).
    pub rule: u8,
    pub object: String,
    pub problem: String,
}

const RUNTIME_ROLES: &[&str] = &["favcrm_authenticator", "favcrm_anon", "favcrm_member"];

/// Reads the catalog and checks table rules 1 to 5.
pub async fn audit(client: &Client) -> anyhow::Result<Report> {
    let mut breaches = Vec::new();
    let mut breach = |rule: u8, object: &str, problem: String| {
        breaches.push(Breach { rule, object: object.to_string(), problem });
    };

    let tables = client
        .query(
            "select c.oid, n.nspname || '.' || c.relname as name, pg_get_userbyid(c.relowner) as owner,
                    c.relrowsecurity, c.relforcerowsecurity,
                    exists (select from pg_attribute a where a.attrelid = c.oid and a.attname = 'org_id' and not a.attisdropped) as tenant
               from pg_class c join pg_namespace n on n.oid = c.relnamespace
              where n.nspname in ('app', 'audit') and c.relkind in ('r', 'p')
              order by 2",
            &[],
        )
        .await?;
    let mut reports = Vec::new();
    for t in &tables {
        let oid: u32 = t.get("oid");
        let name: String = t.get("name");
        let tenant: bool = t.get("tenant");
        let (rls, forced): (bool, bool) = (t.get("relrowsecurity"), t.get("relforcerowsecurity"));
        // Rule 2: RLS enabled and forced.
        if !rls {
            breach(2, &name, "row-level security is not enabled".into());
        }
        if !forced {
            breach(2, &name, "row-level security is not forced (the owner would bypass it)".into());
        }
        let policy_rows = client
            .query(
                "select policyname, cmd, roles::text[] as roles, qual, with_check
                   from pg_policies where schemaname || '.' || tablename = $1 order by policyname",
                &[&name],
            )
            .await?;
        let mut policies = Vec::new();
        for p in &policy_rows {
            let policy = PolicyReport {
                name: p.get("policyname"),
                command: p.get("cmd"),
                roles: p.get("roles"),
                using: p.get("qual"),
                with_check: p.get("with_check"),
            };
            let object = format!("{name}: policy \"{}\"", policy.name);
            if policy.roles.iter().any(|r| r == "public") {
                breach(2, &object, "applies to PUBLIC; name the role".into());
            }
            if policy.command == "ALL" {
                breach(2, &object, "is FOR ALL; write one policy per command".into());
            }
            let runtime = policy.roles.iter().any(|r| RUNTIME_ROLES.contains(&r.as_str()));
            if tenant && runtime && matches!(policy.command.as_str(), "SELECT" | "UPDATE" | "DELETE") {
                let pins = policy.using.as_deref().is_some_and(|u| u.contains("org_id = ( SELECT auth.org_id()"));
                if !pins {
                    breach(2, &object, "USING does not limit rows to org_id = auth.org_id()".into());
                }
            }
            if tenant && matches!(policy.command.as_str(), "INSERT" | "UPDATE") {
                let pins = policy.with_check.as_deref().is_some_and(|c| c.contains("org_id = ( SELECT auth.org_id()"));
                if !pins {
                    breach(2, &object, "has no WITH CHECK pinning org_id to auth.org_id()".into());
                }
            }
            for expr in [&policy.using, &policy.with_check].into_iter().flatten() {
                check_policy_expression(expr, &object, &mut breach);
            }
            policies.push(policy);
        }
        if rls && policy_rows.is_empty() {
            // Not a breach (nothing is visible), but worth seeing.
        }
        if tenant {
            check_tenant_keys(client, oid, &name, &mut breach).await?;
        }
        check_policy_columns_indexed(client, oid, &name, &policies, &mut breach).await?;
        let distribution = if tenant {
            "distributed by org_id".to_string()
        } else if name == "app.organisations" {
            "distributed by id (the organisation itself, colocated with org_id)".to_string()
        } else {
            "reference table (holds no organisation; replicated to every node)".to_string()
        };
        reports.push(TableReport {
            table: name,
            distribution,
            owner: t.get("owner"),
            rls_enabled: rls,
            rls_forced: forced,
            tenant,
            policies,
        });
    }
    check_runtime_roles(client, &mut breach).await?;
    check_security_definers(client, &mut breach).await?;
    check_functions(client, &super::operations::Inventory::embedded(), &mut breach).await?;
    check_distributable(client, &mut breach).await?;
    check_claims_setters(client, &mut breach).await?;
    Ok(Report { tables: reports, breaches })
}

/// Rule 3: helpers wrapped as `(select auth.x())`, no joins or sub-selects over tables.
fn check_policy_expression(expr: &str, object: &str, breach: &mut impl FnMut(u8, &str, String)) {
    let calls = expr.matches("auth.").count();
    let wrapped = expr.matches("SELECT auth.").count();
    if calls != wrapped {
        breach(3, object, "calls an auth helper without wrapping it as (select auth.…())".into());
    }
    let upper = expr.to_uppercase();
    if upper.contains(" JOIN ") || upper.contains(" FROM ") || upper.contains("EXISTS") || upper.contains("IN ( SELECT")
    {
        breach(3, object, "reads other tables (join, IN (select …), EXISTS); use a claim instead".into());
    }
}

/// Rule 1: primary key leads with org_id, uniques include it, foreign keys to tenant tables are composite.
async fn check_tenant_keys(
    client: &Client,
    oid: u32,
    name: &str,
    breach: &mut impl FnMut(u8, &str, String),
) -> anyhow::Result<()> {
    let rows = client
        .query(
            "select i.indisprimary, i.indisunique, pg_get_indexdef(i.indexrelid) as def,
                    (select array_agg(a.attname::text order by k.ord)
                       from unnest(i.indkey) with ordinality k(attnum, ord)
                       join pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.attnum) as cols
               from pg_index i where i.indrelid = $1 and (i.indisprimary or i.indisunique)",
            &[&oid],
        )
        .await?;
    let mut has_pk = false;
    for r in rows {
        let cols: Vec<String> = r.get::<_, Option<Vec<String>>>("cols").unwrap_or_default();
        let def: String = r.get("def");
        if r.get("indisprimary") {
            has_pk = true;
            if cols.first().map(String::as_str) != Some("org_id") || cols.len() < 2 {
                breach(1, name, format!("primary key does not lead with org_id: {def}"));
            }
        } else if !cols.iter().any(|c| c == "org_id") {
            breach(1, name, format!("unique index without org_id reveals other tenants' values: {def}"));
        }
    }
    if !has_pk {
        breach(1, name, "has no primary key (org_id, id)".into());
    }
    let fks = client
        .query(
            "select con.conname,
                    (select array_agg(a.attname::text) from unnest(con.conkey) k join pg_attribute a on a.attrelid = con.conrelid and a.attnum = k) as cols,
                    exists (select from pg_attribute a where a.attrelid = con.confrelid and a.attname = 'org_id' and not a.attisdropped) as target_tenant
               from pg_constraint con where con.conrelid = $1 and con.contype = 'f'",
            &[&oid],
        )
        .await?;
    for fk in fks {
        let cols: Vec<String> = fk.get::<_, Option<Vec<String>>>("cols").unwrap_or_default();
        if fk.get("target_tenant") && !cols.iter().any(|c| c == "org_id") {
            breach(
                1,
                name,
                format!(
                    "foreign key {} to a tenant table is not composite with org_id",
                    fk.get::<_, String>("conname")
                ),
            );
        }
    }
    Ok(())
}

/// Rule 3: every column a policy compares with a claim leads an index (or follows org_id).
async fn check_policy_columns_indexed(
    client: &Client,
    oid: u32,
    name: &str,
    policies: &[PolicyReport],
    breach: &mut impl FnMut(u8, &str, String),
) -> anyhow::Result<()> {
    let indexes: Vec<Vec<String>> = client
        .query(
            "select (select array_agg(a.attname::text order by k.ord)
                       from unnest(i.indkey) with ordinality k(attnum, ord)
                       join pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.attnum) as cols
               from pg_index i where i.indrelid = $1",
            &[&oid],
        )
        .await?
        .iter()
        .map(|r| r.get::<_, Option<Vec<String>>>(0).unwrap_or_default())
        .collect();
    for p in policies {
        for expr in [&p.using, &p.with_check].into_iter().flatten() {
            for part in expr.split("= ( SELECT auth.").skip(1).zip(expr.split("= ( SELECT auth.")) {
                let column =
                    part.1.trim_end().rsplit(|c: char| !(c.is_alphanumeric() || c == '_')).next().unwrap_or("");
                if column.is_empty() {
                    continue;
                }
                let served = indexes.iter().any(|cols| {
                    cols.first().map(String::as_str) == Some(column)
                        || (cols.first().map(String::as_str) == Some("org_id")
                            && cols.get(1).map(String::as_str) == Some(column))
                });
                if !served {
                    breach(
                        3,
                        &format!("{name}: policy \"{}\"", p.name),
                        format!("filters on {column}, which leads no index"),
                    );
                }
            }
        }
    }
    Ok(())
}

/// Rule 4: runtime roles own nothing, bypass nothing, and hold no TRUNCATE, REFERENCES, TRIGGER or CREATE.
async fn check_runtime_roles(client: &Client, breach: &mut impl FnMut(u8, &str, String)) -> anyhow::Result<()> {
    for role in RUNTIME_ROLES {
        let Some(r) = client
            .query_opt("select rolsuper, rolbypassrls, rolinherit from pg_roles where rolname = $1", &[role])
            .await?
        else {
            breach(4, role, "role does not exist".into());
            continue;
        };
        if r.get(0) || r.get(1) {
            breach(4, role, "is a superuser or bypasses RLS".into());
        }
        if *role == "favcrm_authenticator" && r.get::<_, bool>(2) {
            breach(4, role, "must be NOINHERIT".into());
        }
        let owned: i64 = client
            .query_one(
                "select (select count(*) from pg_class where relowner = r.oid)
                      + (select count(*) from pg_proc where proowner = r.oid)
                      + (select count(*) from pg_namespace where nspowner = r.oid)
                      + (select count(*) from pg_type where typowner = r.oid)
                   from pg_roles r where r.rolname = $1",
                &[role],
            )
            .await?
            .get(0);
        if owned > 0 {
            breach(4, role, format!("owns {owned} objects"));
        }
        let privileges = client
            .query(
                "select n.nspname || '.' || c.relname
                   from pg_class c join pg_namespace n on n.oid = c.relnamespace
                  where n.nspname in ('app', 'audit', 'api', 'auth', 'public') and c.relkind in ('r', 'p', 'v', 'm')
                    and has_table_privilege($1, c.oid, 'TRUNCATE, REFERENCES, TRIGGER')",
                &[role],
            )
            .await?;
        for p in privileges {
            breach(4, role, format!("holds TRUNCATE, REFERENCES or TRIGGER on {}", p.get::<_, String>(0)));
        }
        let creates = client
            .query(
                "select nspname from pg_namespace
                  where nspname in ('app', 'audit', 'api', 'auth', 'ext', 'public') and has_schema_privilege($1, oid, 'CREATE')
                  union all
                 select 'database ' || current_database() where has_database_privilege($1, current_database(), 'CREATE')",
                &[role],
            )
            .await?;
        for c in creates {
            breach(4, role, format!("holds CREATE on {}", c.get::<_, String>(0)));
        }
        // The search schema has no row-level security (see V13): no runtime role may reach it.
        let private = client
            .query(
                "select 'schema search' from pg_namespace where nspname = 'search' and has_schema_privilege($1, oid, 'USAGE')
                  union all
                 select n.nspname || '.' || c.relname
                   from pg_class c join pg_namespace n on n.oid = c.relnamespace
                  where n.nspname = 'search' and c.relkind in ('r', 'p', 'v', 'm')
                    and has_table_privilege($1, c.oid, 'SELECT, INSERT, UPDATE, DELETE')",
                &[role],
            )
            .await?;
        for p in private {
            breach(4, role, format!("can reach {}, which has no row-level security", p.get::<_, String>(0)));
        }
    }
    Ok(())
}

/// Rule 5: SECURITY DEFINER only in auth (and the audit trigger), with search_path = '' and no EXECUTE for PUBLIC;
/// views are security_invoker.
async fn check_security_definers(client: &Client, breach: &mut impl FnMut(u8, &str, String)) -> anyhow::Result<()> {
    let rows = client
        .query(
            "select n.nspname || '.' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')' as name,
                    n.nspname, coalesce(p.proconfig, '{}') as config,
                    p.proacl is null or exists (select from aclexplode(p.proacl) a where a.grantee = 0 and a.privilege_type = 'EXECUTE') as public_execute
               from pg_proc p join pg_namespace n on n.oid = p.pronamespace
              where p.prosecdef and n.nspname not in ('pg_catalog', 'information_schema', 'ext')",
            &[],
        )
        .await?;
    for r in rows {
        let name: String = r.get("name");
        let schema: String = r.get("nspname");
        let config: Vec<String> = r.get("config");
        if schema != "auth" && schema != "audit" {
            breach(5, &name, "SECURITY DEFINER outside the auth schema".into());
        }
        if !config.iter().any(|c| c == "search_path=\"\"" || c == "search_path=''") {
            breach(5, &name, "SECURITY DEFINER without set search_path = ''".into());
        }
        if r.get("public_execute") {
            breach(5, &name, "SECURITY DEFINER executable by PUBLIC".into());
        }
    }
    let views = client
        .query(
            "select n.nspname || '.' || c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
              where c.relkind = 'v' and n.nspname in ('app', 'api', 'auth', 'audit')
                and not coalesce(c.reloptions @> array['security_invoker=true'], false)",
            &[],
        )
        .await?;
    for v in views {
        breach(5, &v.get::<_, String>(0), "view is not security_invoker".into());
    }
    Ok(())
}

/// Rule 9: every function has one home. Each is defined once, in a migration (what data and
/// policies call) or in one operations file, and none exists in the database that no file
/// defines; every `api` function is a catalog operation (or the preview one names) and every
/// catalog operation that runs SQL has its function.
pub async fn check_functions(
    client: &Client,
    inventory: &super::operations::Inventory,
    breach: &mut impl FnMut(u8, &str, String),
) -> anyhow::Result<()> {
    for (function, problem) in inventory.duplicates() {
        breach(9, &function, problem);
    }
    let rows = client
        .query(
            "select n.nspname || '.' || p.proname, p.oid::regprocedure::text,
                    obj_description(p.oid, 'pg_proc') is not null, p.prorettype::regtype::text
               from pg_proc p join pg_namespace n on n.oid = p.pronamespace
              where n.nspname = any($1)
                and not exists (select from pg_depend d
                                 where d.classid = 'pg_proc'::regclass and d.objid = p.oid and d.deptype = 'e')
              order by 1",
            &[&super::operations::SCHEMAS],
        )
        .await?;
    let live: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
    // Rule 8: every function says what it is for.
    for row in rows.iter().filter(|r| !r.get::<_, bool>(2)) {
        breach(8, row.get(1), "has no comment on function describing it".into());
    }
    let known = inventory.known();
    for function in live.iter().filter(|f| !known.contains(f.as_str())) {
        breach(9, function, "exists in the database but no migration or sql/operations/ file defines it".into());
    }
    let mut named: std::collections::BTreeSet<String> = std::collections::BTreeSet::new();
    for op in crate::catalog::all().iter().filter(|op| !op.is_public()) {
        named.insert(format!("api.{}", op.name));
        if let Some(crate::catalog::Preview::Effect(function)) = op.preview {
            named.insert(function.to_string());
        }
    }
    for function in live.iter().filter(|f| f.starts_with("api.") && !named.contains(f.as_str())) {
        breach(9, function, "is in the api schema but no catalog operation names it".into());
    }
    // An operation answers JSON that PostgreSQL has checked: the server passes a read's answer
    // through as it is (MCP's structuredContent included) without parsing it again.
    for row in rows.iter().filter(|r| named.contains(r.get::<_, &str>(0))) {
        let returns: &str = row.get(3);
        if !matches!(returns, "json" | "jsonb") {
            breach(9, row.get(1), format!("returns {returns}; an operation answers json or jsonb"));
        }
    }
    for function in named.iter().filter(|f| !live.contains(f)) {
        let op = function.trim_start_matches("api.");
        breach(9, op, format!("is a catalog operation, but {function} does not exist"));
    }
    Ok(())
}

/// Operations that span organisations by design, and why.
const CROSS_ORGANISATION: &[(&str, &str)] =
    &[("api.list_my_organisations", "lists the caller's own memberships, through auth.my_organisations (by user)")];

/// Rule 11: the caller's facts are set in one place. Policies read the organisation, user, key
/// and role from settings kept beside the request's claims (V16); only `auth.set_claims` and
/// `auth.authenticate` may set the claims or those settings, so they never disagree (a function
/// that set the claims alone would leave the previous organisation in force).
pub async fn check_claims_setters(client: &Client, breach: &mut impl FnMut(u8, &str, String)) -> anyhow::Result<()> {
    let rows = client
        .query(
            "select n.nspname || '.' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')'
               from pg_proc p join pg_namespace n on n.oid = p.pronamespace
              where n.nspname not in ('pg_catalog', 'information_schema', 'ext')
                and (p.prosrc ~* 'set_config\\s*\\(\\s*''request\\.' or p.prosrc ~* '\\mset\\s+(local\\s+|session\\s+)?request\\.')
                and p.oid not in ('auth.set_claims(jsonb)'::regprocedure, 'auth.authenticate(bytea, text)'::regprocedure)",
            &[],
        )
        .await?;
    for row in rows {
        breach(11, row.get(0), "sets the request's claims or facts other than through auth.set_claims".into());
    }
    Ok(())
}

/// Rule 10: distributable by organisation. A table without `org_id` (a reference table on a
/// cluster) holds no foreign key into a tenant table, and every `api` function filters by the
/// caller's organisation: its body calls `auth.org_id()`, or a function that does.
pub async fn check_distributable(client: &Client, breach: &mut impl FnMut(u8, &str, String)) -> anyhow::Result<()> {
    let fks = client
        .query(
            "select con.conrelid::regclass::text, con.conname, con.confrelid::regclass::text
               from pg_constraint con
               join pg_class c on c.oid = con.conrelid join pg_namespace n on n.oid = c.relnamespace
              where con.contype = 'f' and n.nspname in ('app', 'audit')
                and not exists (select from pg_attribute a where a.attrelid = con.conrelid and a.attname = 'org_id' and not a.attisdropped)
                and con.conrelid <> 'app.organisations'::regclass
                and (exists (select from pg_attribute a where a.attrelid = con.confrelid and a.attname = 'org_id' and not a.attisdropped)
                     or con.confrelid = 'app.organisations'::regclass)",
            &[],
        )
        .await?;
    for fk in fks {
        let (table, name, target): (String, String, String) = (fk.get(0), fk.get(1), fk.get(2));
        breach(
            10,
            &table,
            format!("has no org_id (a reference table on a cluster) but its foreign key {name} points into {target}"),
        );
    }
    let bodies: std::collections::BTreeMap<String, String> = client
        .query(
            "select n.nspname || '.' || p.proname, p.prosrc
               from pg_proc p join pg_namespace n on n.oid = p.pronamespace
              where n.nspname in ('api', 'app', 'auth')",
            &[],
        )
        .await?
        .iter()
        .map(|r| (r.get(0), r.get::<_, String>(1).to_lowercase()))
        .collect();
    // Functions that reach auth.org_id(), found by following calls until nothing changes.
    let mut filtering: std::collections::BTreeSet<&str> =
        bodies.iter().filter(|(_, body)| body.contains("auth.org_id()")).map(|(n, _)| n.as_str()).collect();
    loop {
        let more: Vec<&str> = bodies
            .iter()
            .filter(|(name, body)| {
                !filtering.contains(name.as_str()) && filtering.iter().any(|f| body.contains(&format!("{f}(")))
            })
            .map(|(n, _)| n.as_str())
            .collect();
        if more.is_empty() {
            break;
        }
        filtering.extend(more);
    }
    for name in bodies.keys().filter(|n| n.starts_with("api.")) {
        if !filtering.contains(name.as_str()) && !CROSS_ORGANISATION.iter().any(|(n, _)| n == name) {
            breach(10, name, "does not filter by the caller's organisation (never reaches auth.org_id())".into());
        }
    }
    Ok(())
}

/// Human-readable report.
pub fn render(report: &Report) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    for t in &report.tables {
        let _ = writeln!(
            out,
            "{}  owner={}  rls={}  forced={}{}  ({})",
            t.table,
            t.owner,
            yes(t.rls_enabled),
            yes(t.rls_forced),
            if t.tenant { "  tenant" } else { "" },
            t.distribution
        );
        for p in &t.policies {
            let _ = writeln!(out, "  {} to {}: \"{}\"", p.command, p.roles.join(", "), p.name);
            if let Some(u) = &p.using {
                let _ = writeln!(out, "      using      {u}");
            }
            if let Some(c) = &p.with_check {
                let _ = writeln!(out, "      with check {c}");
            }
        }
    }
    if report.breaches.is_empty() {
        out.push_str(
            "\nNo breach of table rules 1-5, of rule 8 for functions, of rule 9 (one home per function) or of rule 10 \
             (distributable by organisation).\n",
        );
    } else {
        let _ = writeln!(out, "\n{} breach(es):", report.breaches.len());
        for b in &report.breaches {
            let _ = writeln!(out, "  rule {}: {}: {}", b.rule, b.object, b.problem);
        }
    }
    out
}

fn yes(b: bool) -> &'static str {
    if b { "yes" } else { "NO" }
}
