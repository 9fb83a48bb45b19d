-- What favcrm last applied besides the migrations. Re-applying the policies drops and creates
-- every policy, which locks every table; a server that starts beside others serving the same
-- database does that only when the policy files changed (or a migration ran), and
-- `favcrm migrate` always does. Bookkeeping beside refinery's history: no runtime role may
-- read it.
create table public.favcrm_applied (
  part text primary key,
  digest text not null,
  applied_at timestamptz not null default pg_catalog.now()
);
comment on table public.favcrm_applied is 'What favcrm last applied besides migrations (part ''policies'': the SHA-256 of policies/*.sql in order).';
