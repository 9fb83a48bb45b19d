-- Cluster-level set-up that a migration cannot do: the roles favcrm runs as.
-- Run by `favcrm migrate` / `favcrm serve` on the administrative connection before the
-- refinery migrations. Idempotent. See DESIGN.md "Roles".
do $$
begin
  if not exists (select from pg_catalog.pg_roles where rolname = 'favcrm_owner') then
    create role favcrm_owner nologin noinherit nobypassrls;
  end if;
  if not exists (select from pg_catalog.pg_roles where rolname = 'favcrm_authenticator') then
    create role favcrm_authenticator login noinherit nobypassrls;
  end if;
  if not exists (select from pg_catalog.pg_roles where rolname = 'favcrm_anon') then
    create role favcrm_anon nologin nobypassrls;
  end if;
  if not exists (select from pg_catalog.pg_roles where rolname = 'favcrm_member') then
    create role favcrm_member nologin nobypassrls;
  end if;
end
$$;

comment on role favcrm_owner is 'Owns every favcrm object and runs migrations. Never used by requests.';
comment on role favcrm_authenticator is 'The server pool logs in as this role; it owns nothing and switches to favcrm_anon or favcrm_member per request.';
comment on role favcrm_anon is 'Unauthenticated requests (registration, public booking pages).';
comment on role favcrm_member is 'Requests authenticated by an API key; organisation, role and scopes come from request.claims.';

grant favcrm_anon, favcrm_member to favcrm_authenticator;
