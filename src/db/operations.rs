//! The operations' SQL (`sql/operations/*.sql`): every function of the `api` schema and the
//! `app`/`auth` helpers only operations use, one file per area, applied after the migrations on
//! every start and `favcrm migrate`, in one transaction with the policies.
//!
//! Migrations own what holds data, and the functions that data or policies call (a trigger's
//! function, a column default, a claim reader): those are the functions a migration creates
//! and no later migration drops. Every other function in `app`, `auth` and `audit` is dropped
//! and the files create them again, and `api.sql` drops and re-creates the `api` schema, so
//! the files are the whole truth of what operations do (see `sql/README.md`).

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Context;
use tokio_postgres::Transaction;

/// Every operations file, applied in this order (a `language sql` function must come after
/// what it calls). A test (tests/it/policies.rs) checks the list matches `sql/operations/`.
pub const FILES: &[(&str, &str)] = &[
    ("api.sql", include_str!("../../sql/operations/api.sql")),
    ("common.sql", include_str!("../../sql/operations/common.sql")),
    ("auth.sql", include_str!("../../sql/operations/auth.sql")),
    ("organisation.sql", include_str!("../../sql/operations/organisation.sql")),
    ("audit.sql", include_str!("../../sql/operations/audit.sql")),
    ("keys.sql", include_str!("../../sql/operations/keys.sql")),
    ("signup.sql", include_str!("../../sql/operations/signup.sql")),
    ("team.sql", include_str!("../../sql/operations/team.sql")),
    ("customers.sql", include_str!("../../sql/operations/customers.sql")),
    ("imports.sql", include_str!("../../sql/operations/imports.sql")),
    ("schedule.sql", include_str!("../../sql/operations/schedule.sql")),
    ("bookings.sql", include_str!("../../sql/operations/bookings.sql")),
    ("billing.sql", include_str!("../../sql/operations/billing.sql")),
    ("commerce.sql", include_str!("../../sql/operations/commerce.sql")),
    ("subscriptions.sql", include_str!("../../sql/operations/subscriptions.sql")),
    ("loyalty.sql", include_str!("../../sql/operations/loyalty.sql")),
    ("outbox.sql", include_str!("../../sql/operations/outbox.sql")),
    ("messaging.sql", include_str!("../../sql/operations/messaging.sql")),
    ("webhooks.sql", include_str!("../../sql/operations/webhooks.sql")),
    ("approvals.sql", include_str!("../../sql/operations/approvals.sql")),
    ("campaigns.sql", include_str!("../../sql/operations/campaigns.sql")),
    ("reports.sql", include_str!("../../sql/operations/reports.sql")),
    ("digests.sql", include_str!("../../sql/operations/digests.sql")),
    ("content.sql", include_str!("../../sql/operations/content.sql")),
    ("oauth.sql", include_str!("../../sql/operations/oauth.sql")),
];

/// The schemas whose functions are either a migration's or an operations file's.
pub const SCHEMAS: &[&str] = &["api", "app", "auth", "audit"];

/// What a statement does to functions, as far as this module cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FunctionStatement {
    /// `create [or replace] function|procedure <schema.name>`
    Create(String),
    /// `drop function|procedure [if exists] <schema.name>(…)[, …]`
    Drop(Vec<String>),
}

/// The function statements of a SQL text, in order. Comments, string literals and
/// dollar-quoted bodies are skipped, so a function body that mentions `create function` does
/// not count.
pub fn function_statements(sql: &str) -> Vec<FunctionStatement> {
    let tokens = tokens(&code_only(sql));
    let mut found = Vec::new();
    let mut i = 0;
    let is = |i: usize, word: &str| tokens.get(i).is_some_and(|t| t == word);
    while i < tokens.len() {
        if is(i, "create") {
            let mut j = i + 1;
            if is(j, "or") && is(j + 1, "replace") {
                j += 2;
            }
            if (is(j, "function") || is(j, "procedure"))
                && let Some(name) = tokens.get(j + 1)
            {
                found.push(FunctionStatement::Create(name.clone()));
                i = j + 2;
                continue;
            }
        } else if is(i, "drop") && (is(i + 1, "function") || is(i + 1, "procedure")) {
            let mut j = i + 2;
            if is(j, "if") && is(j + 1, "exists") {
                j += 2;
            }
            let mut names = Vec::new();
            while let Some(name) = tokens.get(j) {
                names.push(name.clone());
                j += 1;
                if is(j, "(") {
                    let mut depth = 0;
                    while let Some(t) = tokens.get(j) {
                        depth += i32::from(t == "(") - i32::from(t == ")");
                        j += 1;
                        if depth == 0 {
                            break;
                        }
                    }
                }
                if !is(j, ",") {
                    break;
                }
                j += 1;
            }
            found.push(FunctionStatement::Drop(names));
            i = j;
            continue;
        }
        i += 1;
    }
    found
}

/// The text with comments, string literals and dollar-quoted strings replaced by spaces.
fn code_only(sql: &str) -> String {
    let bytes = sql.as_bytes();
    let mut out = String::with_capacity(sql.len());
    let mut i = 0;
    while i < bytes.len() {
        let rest = &sql[i..];
        let skip_to = if rest.starts_with("--") {
            rest.find('\n').map_or(sql.len(), |n| i + n)
        } else if rest.starts_with("/*") {
            rest.find("*/").map_or(sql.len(), |n| i + n + 2)
        } else if rest.starts_with('\'') {
            let mut j = i + 1;
            loop {
                match sql[j..].find('\'') {
                    None => break sql.len(),
                    Some(n) if sql[j + n + 1..].starts_with('\'') => j += n + 2,
                    Some(n) => break j + n + 1,
                }
            }
        } else if let Some(tag) = dollar_tag(rest).filter(|_| i == 0 || !is_word(bytes[i - 1])) {
            rest[tag.len()..].find(tag).map_or(sql.len(), |n| i + tag.len() + n + tag.len())
        } else {
            let c = rest.chars().next().unwrap_or(' ');
            out.push(c);
            i += c.len_utf8();
            continue;
        };
        out.push(' ');
        i = skip_to;
    }
    out
}

/// `$$` or `$tag$` at the start of the text.
fn dollar_tag(text: &str) -> Option<&str> {
    let rest = text.strip_prefix('$')?;
    let end = rest.find('$')?;
    rest[..end].bytes().all(is_word).then(|| &text[..end + 2])
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Lower-case words (a qualified name is one word) and the punctuation `(`, `)`, `,`, `;`.
fn tokens(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    for c in code.chars() {
        if c.is_alphanumeric() || c == '_' || c == '.' || c == '"' {
            word.push(c.to_ascii_lowercase());
            continue;
        }
        if !word.is_empty() {
            out.push(std::mem::take(&mut word).replace('"', ""));
        }
        if matches!(c, '(' | ')' | ',' | ';') {
            out.push(c.to_string());
        }
    }
    if !word.is_empty() {
        out.push(word.replace('"', ""));
    }
    out
}

/// Where every function is defined: by the migrations (created and not dropped since, with the
/// migration that created it last) and by the operations files (each definition, with its file).
#[derive(Debug, Default)]
pub struct Inventory {
    pub migrations: BTreeMap<String, String>,
    pub files: Vec<(String, String)>,
}

impl Inventory {
    /// Reads migrations (name and SQL, in version order) and operations files.
    pub fn read<'a>(
        migrations: impl IntoIterator<Item = (String, &'a str)>,
        files: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Self {
        let mut inventory = Inventory::default();
        for (migration, sql) in migrations {
            for statement in function_statements(sql) {
                match statement {
                    FunctionStatement::Create(name) => {
                        inventory.migrations.insert(name, migration.clone());
                    }
                    FunctionStatement::Drop(names) => names.iter().for_each(|n| {
                        inventory.migrations.remove(n);
                    }),
                }
            }
        }
        for (file, sql) in files {
            for statement in function_statements(sql) {
                if let FunctionStatement::Create(name) = statement {
                    inventory.files.push((name, format!("sql/operations/{file}")));
                }
            }
        }
        inventory
    }

    /// This build's migrations and operations files.
    pub fn embedded() -> Self {
        let migrations = super::embedded_migrations();
        Self::read(migrations.iter().map(|(name, sql)| (name.clone(), sql.as_str())), FILES.iter().copied())
    }

    /// Every function some file defines.
    pub fn known(&self) -> BTreeSet<&str> {
        self.migrations.keys().map(String::as_str).chain(self.files.iter().map(|(n, _)| n.as_str())).collect()
    }

    /// Functions defined in more than one place: twice among the operations files, or in an
    /// operations file and by a migration that never handed it over (dropped it). Also an
    /// `api` function created by a migration: operations live in the files only.
    pub fn duplicates(&self) -> Vec<(String, String)> {
        let mut places: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for (name, file) in &self.files {
            places.entry(name).or_default().push(file);
        }
        let mut found = Vec::new();
        for (name, files) in &places {
            if files.len() > 1 {
                found.push((name.to_string(), format!("is defined {} times: {}", files.len(), files.join(", "))));
            }
            if let Some(migration) = self.migrations.get(*name) {
                found.push((
                    name.to_string(),
                    format!(
                        "is defined in {} and by migration {migration}; a migration that hands a function over to \
                         the operations files drops it",
                        files.join(", ")
                    ),
                ));
            }
        }
        for (name, migration) in &self.migrations {
            if name.starts_with("api.") && !places.contains_key(name.as_str()) {
                found.push((
                    name.clone(),
                    format!("is created by migration {migration}; api functions belong in sql/operations/"),
                ));
            }
        }
        found
    }
}

/// Applies the operations files inside `tx`: first drops every function in `app`, `auth` and
/// `audit` that no migration owns (so a helper removed from a file goes too), then runs each
/// file (`api.sql` rebuilds the `api` schema).
pub async fn apply(tx: &Transaction<'_>) -> anyhow::Result<()> {
    let inventory = Inventory::embedded();
    let owned: Vec<&str> = inventory.migrations.keys().map(String::as_str).collect();
    let stale = tx
        .query(
            "select p.oid::regprocedure::text
               from pg_catalog.pg_proc p join pg_catalog.pg_namespace n on n.oid = p.pronamespace
              where n.nspname in ('app', 'auth', 'audit')
                and not (n.nspname || '.' || p.proname = any($1))
                and not exists (select from pg_catalog.pg_depend d
                                 where d.classid = 'pg_catalog.pg_proc'::regclass and d.objid = p.oid and d.deptype = 'e')",
            &[&owned],
        )
        .await?;
    for row in stale {
        let function: String = row.get(0);
        tx.batch_execute(&format!("drop function {function}")).await.with_context(|| {
            format!(
                "dropping {function} to create it again from sql/operations/: if a table, trigger, default or \
                 policy uses it, it belongs in a migration"
            )
        })?;
    }
    for (name, sql) in FILES {
        tx.batch_execute(sql).await.with_context(|| format!("applying sql/operations/{name}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_are_found_outside_comments_strings_and_bodies() {
        let sql = "-- create function app.in_comment()\n\
                   create or replace function app.a(p jsonb) returns int language sql as $$ select 1 $$;\n\
                   create function API.B() returns text language plpgsql as $body$\n\
                   begin execute 'create function app.in_string()'; return $$x$$; end $body$;\n\
                   /* drop function app.in_block() */\n\
                   drop function if exists app.c(app.customers, int), auth.d(text);\n\
                   drop procedure app.e;\n\
                   select 'it''s $$ not a body';\n\
                   create procedure app.f() language sql as 'select 1';";
        assert_eq!(
            function_statements(sql),
            vec![
                FunctionStatement::Create("app.a".into()),
                FunctionStatement::Create("api.b".into()),
                FunctionStatement::Drop(vec!["app.c".into(), "auth.d".into()]),
                FunctionStatement::Drop(vec!["app.e".into()]),
                FunctionStatement::Create("app.f".into()),
            ]
        );
    }

    fn inventory(migrations: &[(&str, &str)], files: &[(&str, &str)]) -> Inventory {
        Inventory::read(migrations.iter().map(|(n, s)| (n.to_string(), *s)), files.iter().copied())
    }

    #[test]
    fn a_migration_hands_a_function_over_by_dropping_it() {
        let migrations = [
            ("V1__a", "create function app.helper() returns int language sql as 'select 1';"),
            ("V2__b", "drop function app.helper();"),
        ];
        let files = [("common.sql", "create function app.helper() returns int language sql as 'select 2';")];
        let handed_over = inventory(&migrations, &files);
        assert!(handed_over.duplicates().is_empty(), "{:?}", handed_over.duplicates());
        assert!(handed_over.migrations.is_empty());

        let kept = inventory(&migrations[..1], &files);
        let found = kept.duplicates();
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, "app.helper");
        assert!(found[0].1.contains("V1__a") && found[0].1.contains("sql/operations/common.sql"), "{found:?}");
    }

    #[test]
    fn a_function_in_two_files_or_an_api_function_in_a_migration_is_reported() {
        let twice = inventory(
            &[],
            &[
                (
                    "customers.sql",
                    "create function api.get_customer(p jsonb) returns jsonb language sql as 'select p';",
                ),
                ("bookings.sql", "create function api.get_customer(p jsonb) returns jsonb language sql as 'select p';"),
            ],
        );
        let found = twice.duplicates();
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].1.contains("customers.sql") && found[0].1.contains("bookings.sql"));

        let in_migration =
            inventory(&[("V9__x", "create function api.get_customer(p jsonb) returns jsonb as 'select p';")], &[]);
        assert_eq!(in_migration.duplicates().len(), 1, "{:?}", in_migration.duplicates());
    }

    #[test]
    fn this_build_defines_every_function_once() {
        let inventory = Inventory::embedded();
        assert!(inventory.duplicates().is_empty(), "{:#?}", inventory.duplicates());
        assert!(inventory.files.iter().any(|(n, f)| n == "api.cancel_booking" && f == "sql/operations/bookings.sql"));
        assert!(inventory.migrations.contains_key("audit.record_change"));
        assert!(!inventory.migrations.keys().any(|n| n.starts_with("api.")));
    }
}
