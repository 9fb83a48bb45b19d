-- Customer search at scale. On a table under row-level security PostgreSQL uses an index for a
-- condition of the caller's query only when the condition is LEAKPROOF (it must not see rows
-- the policy hides before the policy has run), and ILIKE is not (only a superuser could mark
-- it so); nor will the planner consult the column's statistics for it, so it guesses. So
-- customers_search_idx was never used for members: a search read every one of the
-- organisation's customers (36 ms at 100,000).
--
-- Search text therefore lives in a private schema that no runtime role can reach (no USAGE,
-- no grants; `favcrm policies audit` checks both), without row-level security: it is read only
-- by auth.search_customer_ids (SECURITY DEFINER), which filters by the caller's organisation
-- itself and returns ids, and api.list_customers then reads those customers under the
-- member's own policies, so an id from elsewhere could never show another tenant's row.

create schema search;
comment on schema search is 'Search indexes over tenant data. No runtime role has USAGE; read only through SECURITY DEFINER entry points in auth that filter by the caller''s organisation.';

create table search.customers (
  org_id uuid not null,
  id uuid not null,
  deleted boolean not null,
  search_text text not null,
  primary key (org_id, id),
  foreign key (org_id, id) references app.customers (org_id, id) on delete cascade
);
-- fastupdate off: a new customer goes straight into the index instead of a pending list that
-- every search would read through until the next vacuum.
create index customers_search_text_idx on search.customers
  using gin (search_text ext.gin_trgm_ops) with (fastupdate = off);
comment on table search.customers is 'Each customer''s search text, kept by a trigger on app.customers; read by auth.search_customer_ids.';
comment on column search.customers.deleted is 'Whether the customer is soft-deleted (deleted_at is set).';
comment on column search.customers.search_text is 'name, email and phone joined by spaces, as list_customers'' q matches them (ILIKE, substring).';

create function auth.index_customer_search() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  insert into search.customers (org_id, id, deleted, search_text)
  values (new.org_id, new.id, new.deleted_at is not null,
          new.name || ' ' || coalesce(new.email, '') || ' ' || coalesce(new.phone, ''))
  on conflict (org_id, id) do update
    set deleted = excluded.deleted, search_text = excluded.search_text
    where (search.customers.deleted, search.customers.search_text)
          is distinct from (excluded.deleted, excluded.search_text);
  return null;
end
$$;
comment on function auth.index_customer_search() is 'Trigger: keeps search.customers in step with a customer''s name, email, phone and deletion.';
revoke all on function auth.index_customer_search() from public;

create trigger index_search after insert or update of name, email, phone, deleted_at on app.customers
  for each row execute function auth.index_customer_search();

-- Existing customers. The migration role is subject to app.customers' forced policies (no
-- claims, so no rows), so it lifts them for this one statement.
alter table app.customers no force row level security;
insert into search.customers (org_id, id, deleted, search_text)
select c.org_id, c.id, c.deleted_at is not null,
       c.name || ' ' || coalesce(c.email, '') || ' ' || coalesce(c.phone, '')
  from app.customers c;
alter table app.customers force row level security;
analyze search.customers;

-- Unused under row-level security (above); search.customers' index replaces it.
drop index app.customers_search_idx;
