-- The organisation itself: its representation, reading and changing it, and creating one
-- from the command line (`favcrm admin create-org`).

create function auth.bootstrap_organisation(p jsonb) returns jsonb
language plpgsql security definer set search_path = '' as $$
begin
  return auth.create_workspace(p || pg_catalog.jsonb_build_object('op', 'bootstrap_organisation'));
end
$$;
comment on function auth.bootstrap_organisation(jsonb) is 'Creates an organisation with its owner and an owner API key (shown once). For administrators only; not reachable over HTTP.';
revoke all on function auth.bootstrap_organisation(jsonb) from public;

create function app.organisation_json(o app.organisations) returns jsonb
language sql stable parallel safe as $$
  select pg_catalog.jsonb_build_object(
    'id', o.id,
    'name', o.name,
    'industry', o.industry,
    'country', o.country,
    'timezone', o.timezone,
    'defaultCurrency', o.default_currency,
    'timezoneIsDefault', o.country is null and o.timezone = 'UTC',
    'billing', pg_catalog.jsonb_build_object(
      'invoicePrefix', o.invoice_prefix,
      'creditNotePrefix', o.credit_note_prefix,
      'paymentTermsDays', o.payment_terms_days,
      'staffBillingAccess', o.staff_billing_access),
    'reporting', pg_catalog.jsonb_build_object(
      'weekStartsOn', o.week_starts_on,
      'staffReports', o.staff_reports,
      'digestEmail', o.digest_email),
    'localTime', pg_catalog.to_char(l.local, 'YYYY-MM-DD"T"HH24:MI:SS')
                 || case when l.offset_s < 0 then '-' else '+' end
                 || pg_catalog.lpad((abs(l.offset_s) / 3600)::text, 2, '0') || ':'
                 || pg_catalog.lpad((abs(l.offset_s) % 3600 / 60)::text, 2, '0'),
    'today', pg_catalog.to_char(l.local, 'YYYY-MM-DD'),
    'weekday', pg_catalog.btrim(pg_catalog.to_char(l.local, 'Day')),
    'createdAt', app.ts(o.created_at),
    'updatedAt', app.ts(o.updated_at))
    from (select pg_catalog.now() at time zone o.timezone as local,
                 extract(epoch from (pg_catalog.now() at time zone o.timezone)
                                    - (pg_catalog.now() at time zone 'UTC'))::int as offset_s) l
$$;
comment on function app.organisation_json(app.organisations) is 'The API representation of an organisation, with the current time, date and weekday in its time zone, and whether it still runs on the UTC default (no country or time zone was ever given).';
grant execute on function app.organisation_json(app.organisations) to favcrm_member;

create function api.get_organisation(p jsonb) returns jsonb
language plpgsql stable set search_path = '' as $$
declare
  o app.organisations;
begin
  perform auth.require_scope('organisation:read');
  select * into o from app.organisations where id = auth.org_id();
  if not found then
    perform app.not_found('organisation');
  end if;
  return app.organisation_json(o);
end
$$;
comment on function api.get_organisation(jsonb) is 'Returns the caller''s organisation.';
grant execute on function api.get_organisation(jsonb) to favcrm_member;

-- A change of country is checked against ISO 3166-1; a time zone must be one PostgreSQL knows.
create function api.update_organisation(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  o app.organisations;
  n app.organisations;
begin
  perform auth.require_scope('organisation:write');
  if p ? 'timezone' and not app.is_timezone(p ->> 'timezone') then
    perform app.raise_invalid('timezone', 'invalid_timezone',
      pg_catalog.format('%s is not an IANA time zone name (for example Europe/London).', p ->> 'timezone'));
  end if;
  if p ->> 'country' is not null and not exists (select from app.country(pg_catalog.upper(p ->> 'country'))) then
    perform app.raise_invalid('country', 'unknown_country',
      pg_catalog.format('%s is not an ISO 3166-1 alpha-2 country code (for example GB or US).', p ->> 'country'));
  end if;
  select * into o from app.organisations where id = auth.org_id() for update;
  if not found then
    perform app.not_found('organisation');
  end if;
  n := o;
  if p ? 'name' then n.name := pg_catalog.btrim(p ->> 'name'); end if;
  if p ? 'industry' then n.industry := p ->> 'industry'; end if;
  if p ? 'country' then n.country := pg_catalog.upper(p ->> 'country'); end if;
  if p ? 'timezone' then n.timezone := p ->> 'timezone'; end if;
  if p ? 'defaultCurrency' then
    n.default_currency := app.require_currency(p ->> 'defaultCurrency', 'defaultCurrency');
  end if;
  if p ? 'billing' then
    n.invoice_prefix := coalesce(pg_catalog.upper(p #>> '{billing,invoicePrefix}'), n.invoice_prefix);
    n.credit_note_prefix := coalesce(pg_catalog.upper(p #>> '{billing,creditNotePrefix}'), n.credit_note_prefix);
    n.payment_terms_days := coalesce((p #>> '{billing,paymentTermsDays}')::int, n.payment_terms_days);
    n.staff_billing_access := coalesce((p #>> '{billing,staffBillingAccess}')::boolean, n.staff_billing_access);
  end if;
  if p ? 'reporting' then
    n.week_starts_on := coalesce((p #>> '{reporting,weekStartsOn}')::smallint, n.week_starts_on);
    n.staff_reports := coalesce(p #>> '{reporting,staffReports}', n.staff_reports);
    n.digest_email := coalesce((p #>> '{reporting,digestEmail}')::boolean, n.digest_email);
  end if;
  if n is not distinct from o then
    return app.organisation_json(o);
  end if;
  update app.organisations set
    name = n.name, industry = n.industry, country = n.country, timezone = n.timezone,
    default_currency = n.default_currency, invoice_prefix = n.invoice_prefix,
    credit_note_prefix = n.credit_note_prefix, payment_terms_days = n.payment_terms_days,
    staff_billing_access = n.staff_billing_access, week_starts_on = n.week_starts_on,
    staff_reports = n.staff_reports, digest_email = n.digest_email, updated_at = pg_catalog.now()
  where id = o.id
  returning * into o;
  if not found then
    raise exception using errcode = '42501', hint = 'forbidden',
      message = 'Only owners and admins can change the organisation.';
  end if;
  return app.organisation_json(o);
end
$$;
comment on function api.update_organisation(jsonb) is 'Changes the organisation''s name, industry, country, time zone, default currency, billing or reporting settings (owner, admin).';
grant execute on function api.update_organisation(jsonb) to favcrm_member;
