-- The caller's organisation, user, key and role without parsing the claims. Every policy asks
-- for auth.org_id() (and many for auth.role() and auth.user_id()), once per statement; each
-- call parsed the request's claims, about 550 bytes of JSON, afresh: 3.3-3.5 us apiece, about
-- 15 % of a booking's database time. These four facts are now kept beside the claims in
-- settings of their own, set together with them by auth.set_claims (sql/operations/auth.sql)
-- or, for a key, by auth.authenticate from the row the claims were read with. A transaction
-- that sets the claims some other way has no organisation, user, key or role (every policy
-- then refuses), and the policy audit (rule 10) refuses any function but those two that sets
-- the claims or these settings.
create or replace function auth.org_id() returns uuid
language sql stable parallel safe as $$
  select nullif(pg_catalog.current_setting('request.org_id', true), '')::uuid
$$;
comment on function auth.org_id() is 'The organisation of the current request (request.org_id, set with the claims by auth.set_claims or auth.authenticate), or NULL.';

create or replace function auth.user_id() returns uuid
language sql stable parallel safe as $$
  select nullif(pg_catalog.current_setting('request.user_id', true), '')::uuid
$$;
comment on function auth.user_id() is 'The user behind the current request (request.user_id, set with the claims), or NULL.';

create or replace function auth.key_id() returns uuid
language sql stable parallel safe as $$
  select nullif(pg_catalog.current_setting('request.key_id', true), '')::uuid
$$;
comment on function auth.key_id() is 'The API key of the current request (request.key_id, set with the claims), or NULL.';

create or replace function auth.role() returns text
language sql stable parallel safe as $$
  select nullif(pg_catalog.current_setting('request.role', true), '')
$$;
comment on function auth.role() is 'The organisation role (owner, admin, manager, staff; public for a publishable key) of the current request (request.role, set with the claims), or NULL.';
