-- Memberships and session packs: plans, subscriptions renewed by the scheduler into invoices,
-- and credits on an append-only ledger that bookings draw down. Every member reads them (the
-- desk checks a customer's membership and credits); managers and above sell and change them.
--
-- The rules, in one place:
-- * Periods are counted in the organisation's calendar from the subscription's anchor date:
--   period n runs from anchor + n intervals to anchor + n + 1 (local midnights), so a monthly
--   subscription anchored on the 31st renews on the last day of shorter months and comes back
--   to the 31st. A trial runs from the start date for the plan's trial days; the first paid
--   period starts when it ends.
-- * Renewal is exactly once: a period is a row of app.subscription_periods, unique per
--   subscription and start, written in the transaction that invoices it and grants its
--   credits; the subscription row is locked (SKIP LOCKED) while it is renewed.
-- * A period's invoice is due graceDays after the period starts; unpaid past its due date, the
--   subscription is past_due until every period invoice is paid (or void, or written off).
-- * A plan change takes effect at the next period (no proration); a cancellation at period
--   end lets the period run out and is not renewed; a cancellation now ends it at once, and
--   credits already granted stay usable until they expire (they were paid for).
-- * A pause stops renewals (no invoice, no credits); resuming within the period carries on;
--   resuming after the period ended starts a new period that day (a new anchor).
-- * Credits: a grant's credits left are the sum of its ledger entries. A booking paid with
--   credits takes one from the eligible grant that expires first (and is still valid at the
--   booking's start), under a lock per customer, so concurrent bookings never spend the same
--   credit twice. A free cancellation gives it back; a late cancellation or a no-show keeps it.
--   Credits stop counting at their expiry; the scheduler writes the expiry into the ledger.

-- ---------------------------------------------------------------------------------------
-- Roles and how things look
-- ---------------------------------------------------------------------------------------
create function app.require_subscriptions_manager(p_action text) returns void
language plpgsql stable set search_path = '' as $$
begin
  perform auth.require_scope('subscriptions:write');
  if auth.role_rank(auth.role()) < auth.role_rank('manager') then
    raise exception using errcode = '42501', hint = 'forbidden',
      message = pg_catalog.format('Only managers, admins and owners can %s.', p_action);
  end if;
end
$$;
comment on function app.require_subscriptions_manager(text) is 'Raises 42501 unless the caller holds subscriptions:write and is a manager, admin or owner.';
grant execute on function app.require_subscriptions_manager(text) to favcrm_member;

create function app.plan_json(pl app.plans) returns jsonb
language sql stable as $$
  select pg_catalog.jsonb_build_object(
    'id', pl.id,
    'name', pl.name,
    'description', pl.description,
    'price', app.money(pl.price_amount, pl.currency),
    'interval', pl.interval_unit,
    'intervalCount', pl.interval_count,
    'trialDays', pl.trial_days,
    'taxRateId', pl.tax_rate_id,
    'creditsPerPeriod', pl.credits_per_period,
    'creditServiceIds', pg_catalog.to_jsonb(pl.credit_service_ids),
    'serviceDiscountBp', pl.service_discount_bp,
    'graceDays', pl.grace_days,
    'webListing', pl.web_listing,
    'status', case when pl.archived_at is null then 'active' else 'archived' end,
    'createdAt', app.ts(pl.created_at),
    'archivedAt', app.ts(pl.archived_at))
$$;
comment on function app.plan_json(app.plans) is 'The API representation of a plan.';
grant execute on function app.plan_json(app.plans) to favcrm_member;

create function app.plan_for(p_id uuid, p_field text) returns app.plans
language plpgsql stable set search_path = '' as $$
declare
  pl app.plans;
begin
  select * into pl from app.plans where org_id = auth.org_id() and id = p_id;
  if not found then
    perform app.not_found('plan', p_field);
  end if;
  return pl;
end
$$;
comment on function app.plan_for(uuid, text) is 'The plan with this id, or raises not_found naming the field.';
grant execute on function app.plan_for(uuid, text) to favcrm_member;

-- Period n of a subscription: local midnights anchor + n intervals and anchor + n + 1.
create function app.period_bounds(p_anchor date, p_unit text, p_count int, p_n int, p_tz text,
                                  out starts_at timestamptz, out ends_at timestamptz)
language sql immutable parallel safe as $$
  select ((p_anchor + x.step * p_n)::date::timestamp at time zone p_tz),
         ((p_anchor + x.step * (p_n + 1))::date::timestamp at time zone p_tz)
    from (select case p_unit when 'week' then pg_catalog.make_interval(weeks => p_count)
                             when 'month' then pg_catalog.make_interval(months => p_count)
                             else pg_catalog.make_interval(years => p_count) end as step) x
$$;
comment on function app.period_bounds(date, text, int, int, text) is 'Where period n of a subscription anchored on a local date starts and ends (local midnights in the time zone): counted from the anchor, so month ends do not drift.';
grant execute on function app.period_bounds(date, text, int, int, text) to favcrm_member;

create function app.subscription_json(s app.subscriptions) returns jsonb
language plpgsql stable set search_path = '' as $$
begin
  return pg_catalog.jsonb_build_object(
    'id', s.id,
    'customerId', s.customer_id,
    'planId', s.plan_id,
    'plan', (select pg_catalog.jsonb_build_object('id', pl.id, 'name', pl.name,
                                                  'price', app.money(pl.price_amount, pl.currency),
                                                  'interval', pl.interval_unit, 'intervalCount', pl.interval_count)
               from app.plans pl where pl.org_id = s.org_id and pl.id = s.plan_id),
    'nextPlanId', s.next_plan_id,
    'status', s.status,
    'collection', s.collection,
    'promotionCode', (select pm.code from app.promotions pm where pm.org_id = s.org_id and pm.id = s.promotion_id),
    'startDate', app.ts((select pg_catalog.min(sp.starts_at) from app.subscription_periods sp
                          where sp.org_id = s.org_id and sp.subscription_id = s.id)),
    'trialEndsAt', app.ts(s.trial_ends_at),
    'currentPeriodStart', app.ts(s.current_period_start),
    'currentPeriodEnd', app.ts(s.current_period_end),
    'renewsAt', app.ts(case when s.status in ('scheduled', 'trialing', 'active', 'past_due')
                            and not s.cancel_at_period_end then s.renews_at end),
    'cancelAtPeriodEnd', s.cancel_at_period_end,
    'pausedAt', app.ts(s.paused_at),
    'cancelledAt', app.ts(s.cancelled_at),
    'endedAt', app.ts(s.ended_at),
    'lastRenewalError', s.last_renewal_error,
    'periods', (select coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                         'startsAt', app.ts(x.starts_at), 'endsAt', app.ts(x.ends_at), 'planId', x.plan_id,
                         'trial', x.trial, 'invoiceId', x.invoice_id,
                         'invoiceStatus', (select i.status from app.invoices i
                                            where i.org_id = x.org_id and i.id = x.invoice_id),
                         'paymentLinkUrl', (select pl.url from app.payment_links pl
                                             where pl.org_id = x.org_id and pl.invoice_id = x.invoice_id
                                               and pl.status = 'open'
                                             order by pl.id desc limit 1),
                         'creditGrantId', (select g.id from app.credit_grants g
                                            where g.org_id = x.org_id and g.subscription_period_id = x.id))
                         order by x.starts_at desc), '[]')
                  from (select * from app.subscription_periods sp
                         where sp.org_id = s.org_id and sp.subscription_id = s.id
                         order by sp.starts_at desc limit 24) x),
    'createdAt', app.ts(s.created_at),
    'updatedAt', app.ts(s.updated_at));
end
$$;
comment on function app.subscription_json(app.subscriptions) is 'The API representation of a subscription with its plan and its latest 24 periods (invoice and credit grant of each).';
grant execute on function app.subscription_json(app.subscriptions) to favcrm_member;

create function app.subscription_for_update(p_id uuid) returns app.subscriptions
language plpgsql set search_path = '' as $$
declare
  s app.subscriptions;
begin
  select * into s from app.subscriptions where org_id = auth.org_id() and id = p_id for update;
  if not found then
    perform app.not_found('subscription');
  end if;
  return s;
end
$$;
comment on function app.subscription_for_update(uuid) is 'The subscription with this id, locked FOR UPDATE, or raises not_found.';
grant execute on function app.subscription_for_update(uuid) to favcrm_member;

-- ---------------------------------------------------------------------------------------
-- Plans
-- ---------------------------------------------------------------------------------------

create function api.create_plan(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  pl app.plans;
  v_tax uuid := (p ->> 'taxRateId')::uuid;
begin
  perform app.require_subscriptions_manager('create plans');
  if v_tax is not null then
    perform app.usable_tax_rate(v_tax, 'taxRateId');
  end if;
  insert into app.plans (org_id, name, description, price_amount, currency, interval_unit, interval_count, trial_days,
                         tax_rate_id, credits_per_period, credit_service_ids, service_discount_bp, grace_days, web_listing)
  select auth.org_id(), pg_catalog.btrim(p ->> 'name'), p ->> 'description', (p #>> '{price,amount}')::bigint,
         app.require_currency(coalesce(p #>> '{price,currency}', o.default_currency), 'price.currency'),
         p ->> 'interval', coalesce((p ->> 'intervalCount')::int, 1), coalesce((p ->> 'trialDays')::int, 0), v_tax,
         coalesce((p ->> 'creditsPerPeriod')::int, 0), app.require_services(p -> 'creditServiceIds', 'creditServiceIds'),
         coalesce((p ->> 'serviceDiscountBp')::int, 0), coalesce((p ->> 'graceDays')::int, 7), coalesce(p ->> 'webListing', 'listed')
    from app.organisations o where o.id = auth.org_id()
  returning * into pl;
  return app.plan_json(pl);
end
$$;
comment on function api.create_plan(jsonb) is 'Creates a plan: a price every intervalCount weeks, months or years, a free trial, credits each period for some or all services, the grace days before an unpaid period makes a subscription past due, and what web pages see of it.';
grant execute on function api.create_plan(jsonb) to favcrm_member;

create function api.list_plans(p jsonb) returns jsonb
language plpgsql stable set search_path = '' as $$
begin
  perform auth.require_scope('subscriptions:read');
  return pg_catalog.jsonb_build_object('items', (
    select coalesce(pg_catalog.jsonb_agg(app.plan_json(pl) order by pl.name, pl.id), '[]')
      from app.plans pl
     where pl.org_id = auth.org_id()
       and (pl.archived_at is null or coalesce((p ->> 'includeArchived')::boolean, false))));
end
$$;
comment on function api.list_plans(jsonb) is 'The organisation''s plans by name (active ones unless includeArchived).';
grant execute on function api.list_plans(jsonb) to favcrm_member;

create function api.archive_plan(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  pl app.plans;
begin
  perform app.require_subscriptions_manager('archive plans');
  select * into pl from app.plans where org_id = auth.org_id() and id = (p ->> 'planId')::uuid for update;
  if not found then
    perform app.not_found('plan');
  end if;
  if pl.archived_at is null then
    update app.plans set archived_at = pg_catalog.now(), updated_at = pg_catalog.now()
     where org_id = pl.org_id and id = pl.id returning * into pl;
  end if;
  return app.plan_json(pl);
end
$$;
comment on function api.archive_plan(jsonb) is 'Stops a plan being sold; its subscriptions carry on. Archiving twice changes nothing.';
grant execute on function api.archive_plan(jsonb) to favcrm_member;

-- A member's discount on services: the best serviceDiscountBp among the plans of the customer's
-- live subscriptions (trialing, active, past due), 0 for anyone else. Billing applies it to a
-- booking's or service's invoice line that names no discount of its own.
create function app.member_service_discount_bp(p_customer uuid) returns int
language sql stable set search_path = '' as $$
  select coalesce(max(pl.service_discount_bp), 0)::int
    from app.subscriptions s
    join app.plans pl on pl.org_id = s.org_id and pl.id = s.plan_id
   where s.org_id = auth.org_id() and s.customer_id = p_customer and s.status in ('trialing', 'active', 'past_due')
$$;
comment on function app.member_service_discount_bp(uuid) is 'The best service discount (basis points) of the customer''s live subscriptions'' plans; 0 without one.';
grant execute on function app.member_service_discount_bp(uuid) to favcrm_member;

-- ---------------------------------------------------------------------------------------
-- Credits
-- ---------------------------------------------------------------------------------------
-- Credits left on a grant (NULL-safe: a grant without entries has none).
create function app.credits_left(g app.credit_grants) returns bigint
language sql stable as $$
  select coalesce(sum(e.quantity), 0)::bigint from app.credit_entries e where e.org_id = g.org_id and e.grant_id = g.id
$$;
comment on function app.credits_left(app.credit_grants) is 'A grant''s credits left: the sum of its ledger entries.';
grant execute on function app.credits_left(app.credit_grants) to favcrm_member;

create function app.credit_grant_json(g app.credit_grants) returns jsonb
language sql stable as $$
  select pg_catalog.jsonb_build_object(
    'id', g.id,
    'customerId', g.customer_id,
    'source', g.source,
    'name', g.name,
    'quantity', g.quantity,
    'remaining', case when g.expires_at is not null and g.expires_at <= pg_catalog.now() then 0
                      else app.credits_left(g) end,
    'serviceIds', pg_catalog.to_jsonb(g.service_ids),
    'expiresAt', app.ts(g.expires_at),
    'expired', g.expires_at is not null and g.expires_at <= pg_catalog.now(),
    'invoiceId', g.invoice_id,
    'createdAt', app.ts(g.created_at))
$$;
comment on function app.credit_grant_json(app.credit_grants) is 'The API representation of a credit grant with its credits left now (none once expired).';
grant execute on function app.credit_grant_json(app.credit_grants) to favcrm_member;

create function app.credit_entry_json(e app.credit_entries) returns json
language sql stable as $$
  select pg_catalog.json_build_object(
    'id', e.id,
    'grantId', e.grant_id,
    'customerId', e.customer_id,
    'kind', e.kind,
    'quantity', e.quantity,
    'bookingId', e.booking_id,
    'note', e.note,
    'createdByUserId', e.created_by,
    'createdAt', app.ts(e.created_at))
$$;
comment on function app.credit_entry_json(app.credit_entries) is 'The API representation of a credit ledger entry.';
grant execute on function app.credit_entry_json(app.credit_entries) to favcrm_member;

-- Every change to one customer's credits takes this lock first (spending, returning, adjusting,
-- expiring): concurrent bookings queue, and each sees what the one before it spent.
create function app.lock_credits(p_customer uuid) returns void
language sql volatile as $$
  select pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended('credits ' || p_customer::text, 0))
$$;
comment on function app.lock_credits(uuid) is 'Takes the transaction-level lock that serialises changes to one customer''s credits.';
grant execute on function app.lock_credits(uuid) to favcrm_member;

create function app.try_lock_credits(p_customer uuid) returns boolean
language sql volatile as $$
  select pg_catalog.pg_try_advisory_xact_lock(pg_catalog.hashtextextended('credits ' || p_customer::text, 0))
$$;
comment on function app.try_lock_credits(uuid) is 'Takes the lock of app.lock_credits if it is free; false when another transaction holds it.';
grant execute on function app.try_lock_credits(uuid) to favcrm_member;

create function app.grant_credits(p_customer uuid, p_source text, p_name text, p_quantity int, p_services uuid[],
                                  p_expires timestamptz, p_invoice uuid, p_period uuid, p_note text)
returns app.credit_grants
language plpgsql set search_path = '' as $$
declare
  g app.credit_grants;
begin
  insert into app.credit_grants (org_id, customer_id, source, name, quantity, service_ids, expires_at, invoice_id,
                                 subscription_period_id, created_by)
  values (auth.org_id(), p_customer, p_source, p_name, p_quantity, p_services, p_expires, p_invoice, p_period,
          auth.user_id())
  returning * into g;
  insert into app.credit_entries (org_id, grant_id, customer_id, kind, quantity, note, created_by)
  values (g.org_id, g.id, g.customer_id, 'grant', g.quantity, p_note, auth.user_id());
  return g;
end
$$;
comment on function app.grant_credits(uuid, text, text, int, uuid[], timestamptz, uuid, uuid, text) is 'Gives a customer credits: a grant and its grant entry in the ledger.';
grant execute on function app.grant_credits(uuid, text, text, int, uuid[], timestamptz, uuid, uuid, text) to favcrm_member;

-- Spends one credit on a booking just made (in its transaction): the eligible grant that
-- expires first, valid now and at the booking's start. When there is none: 409 no_credits if
-- the credit is required, else the booking stays as it is (priced).
create function app.spend_credit(b app.bookings, p_required boolean) returns app.bookings
language plpgsql set search_path = '' as $$
declare
  g app.credit_grants;
begin
  perform app.lock_credits(b.customer_id);
  select * into g from app.credit_grants x
   where x.org_id = b.org_id and x.customer_id = b.customer_id
     and (x.service_ids is null or b.service_id = any (x.service_ids))
     and (x.expires_at is null or x.expires_at > greatest(pg_catalog.now(), b.starts_at))
     and app.credits_left(x) > 0
   order by x.expires_at nulls last, x.id
   limit 1;
  if not found and not p_required then
    return b;
  end if;
  if not found then
    raise exception using errcode = '55000', hint = 'no_credits', column = 'payWith',
      message = 'The customer has no credit for this service that is valid at the booking''s time: sell a pack or book without payWith.';
  end if;
  insert into app.credit_entries (org_id, grant_id, customer_id, kind, quantity, booking_id, created_by)
  values (b.org_id, g.id, b.customer_id, 'use', -1, b.id, auth.user_id());
  update app.bookings set credit_grant_id = g.id where org_id = b.org_id and id = b.id returning * into b;
  return b;
end
$$;
comment on function app.spend_credit(app.bookings, boolean) is 'Pays a booking with one credit from the customer''s eligible grant that expires first (valid at the booking''s start), under the customer''s credit lock; without one, 409 no_credits when required, else the booking unchanged.';
grant execute on function app.spend_credit(app.bookings, boolean) to favcrm_member;

-- Gives a booking's credit back (a free cancellation, a declined or cancelled class): once.
create function app.return_credit(b app.bookings, p_note text) returns void
language plpgsql set search_path = '' as $$
begin
  if b.credit_grant_id is null then
    return;
  end if;
  perform app.lock_credits(b.customer_id);
  insert into app.credit_entries (org_id, grant_id, customer_id, kind, quantity, booking_id, note, created_by)
  values (b.org_id, b.credit_grant_id, b.customer_id, 'return', 1, b.id, p_note, auth.user_id())
  on conflict (org_id, booking_id) where kind = 'return' do nothing;
end
$$;
comment on function app.return_credit(app.bookings, text) is 'Returns the credit a booking was paid with to its grant (at most once per booking).';
grant execute on function app.return_credit(app.bookings, text) to favcrm_member;


-- Valid through the last day of a pack's validity, in the organisation's calendar.
create function app.package_expiry(p_validity_days int) returns timestamptz
language sql stable set search_path = '' as $$
  select case when p_validity_days is not null
              then ((pg_catalog.now() at time zone o.timezone)::date + p_validity_days + 1)::timestamp at time zone o.timezone end
    from app.organisations o where o.id = auth.org_id()
$$;
comment on function app.package_expiry(int) is 'When a pack sold today expires: the local midnight after its last valid day (NULL: never).';
grant execute on function app.package_expiry(int) to favcrm_member;

-- The credits of a pack product sold (quantity of them) on an invoice: one grant.
create function app.grant_package(p_customer uuid, pr app.products, p_quantity int, p_invoice uuid)
returns app.credit_grants
language plpgsql set search_path = '' as $$
begin
  perform app.lock_credits(p_customer);
  return app.grant_credits(p_customer, 'package', pr.name, pr.package_sessions * p_quantity, pr.package_service_ids,
                           app.package_expiry(pr.package_validity_days), p_invoice, null, null);
end
$$;
comment on function app.grant_package(uuid, app.products, int, uuid) is 'Grants the credits of a pack product sold (its sessions × quantity, its services and validity) against the invoice that bills it.';
grant execute on function app.grant_package(uuid, app.products, int, uuid) to favcrm_member;

-- A voided invoice sold nothing: the credits it granted that are still unused are withdrawn
-- (an adjust entry each); those already spent on bookings stay spent.
create function app.withdraw_invoice_credits(p_invoice uuid) returns void
language plpgsql set search_path = '' as $$
declare
  g app.credit_grants;
  v_left int;
begin
  for g in select * from app.credit_grants x where x.org_id = auth.org_id() and x.invoice_id = p_invoice
            and x.subscription_period_id is null order by x.id loop
    perform app.lock_credits(g.customer_id);
    v_left := app.credits_left(g);
    if v_left > 0 then
      insert into app.credit_entries (org_id, grant_id, customer_id, kind, quantity, note, created_by)
      values (g.org_id, g.id, g.customer_id, 'adjust', -v_left, 'Invoice voided', auth.user_id());
    end if;
  end loop;
end
$$;
comment on function app.withdraw_invoice_credits(uuid) is 'Withdraws the unused credits of the packs a voided invoice sold.';
grant execute on function app.withdraw_invoice_credits(uuid) to favcrm_member;

create function api.sell_package(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  v_customer uuid := (p ->> 'customerId')::uuid;
  v_invoice jsonb;
  pr app.products;
  g app.credit_grants;
begin
  perform app.require_subscriptions_manager('sell packs');
  perform app.require_billing_role('manager', 'sell packs');
  perform app.require_live_customer(v_customer);
  if (p ? 'productId') = (p ? 'sessions') then
    perform app.raise_invalid('productId', 'product_or_pack',
      'Sell a pack product (productId) or describe the pack (name, sessions, price), not both.');
  end if;
  if p ? 'productId' then
    pr := app.product_for((p ->> 'productId')::uuid, false);
    if pr.package_sessions is null then
      perform app.raise_invalid('productId', 'not_a_package',
        pg_catalog.format('%s is not a session pack: give it package.sessions with update_product.', pr.name));
    end if;
    if pr.archived_at is not null then
      perform app.raise_invalid('productId', 'product_archived', pg_catalog.format('%s is archived.', pr.name));
    end if;
    v_invoice := api.create_invoice(pg_catalog.jsonb_build_object(
      'customerId', v_customer, 'currency', pr.currency,
      'lines', pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object('productId', pr.id))));
  else
    if p ->> 'name' is null or p -> 'price' is null then
      perform app.raise_invalid(case when p ->> 'name' is null then 'name' else 'price' end, 'required',
        'A pack described here needs a name, sessions and a price.');
    end if;
    pr.name := pg_catalog.btrim(p ->> 'name');
    pr.package_sessions := (p ->> 'sessions')::int;
    pr.package_service_ids := app.require_services(p -> 'serviceIds', 'serviceIds');
    pr.package_validity_days := (p ->> 'validityDays')::int;
    v_invoice := api.create_invoice(pg_catalog.jsonb_build_object(
      'customerId', v_customer, 'currency', p #>> '{price,currency}',
      'lines', pg_catalog.jsonb_build_array(pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(
                 'description', pg_catalog.format('%s (%s sessions)', pr.name, pr.package_sessions),
                 'unitAmount', (p #>> '{price,amount}')::bigint, 'taxRateId', p ->> 'taxRateId')))));
  end if;
  v_invoice := api.finalize_invoice(pg_catalog.jsonb_build_object('invoiceId', v_invoice ->> 'id'));
  g := app.grant_package(v_customer, pr, 1, (v_invoice ->> 'id')::uuid);
  return pg_catalog.jsonb_build_object('grant', app.credit_grant_json(g), 'invoice', v_invoice);
end
$$;
comment on function api.sell_package(jsonb) is 'Sells a pack of sessions, a pack product (productId) or one described here (name, sessions, price, services, validity): a finalised invoice for its price and a grant of its credits for the services named (all when none), valid through validityDays (forever when left out). Needs billing:write too.';
grant execute on function api.sell_package(jsonb) to favcrm_member;

create function api.get_credit_balance(p jsonb) returns jsonb
language plpgsql stable set search_path = '' as $$
declare
  v_customer uuid := (p ->> 'customerId')::uuid;
  v_service uuid := (p ->> 'serviceId')::uuid;
begin
  perform auth.require_scope('subscriptions:read');
  perform app.require_customer(v_customer);
  return (
    select pg_catalog.jsonb_build_object(
      'customerId', v_customer,
      'serviceId', v_service,
      'available', coalesce(sum(x.left_now), 0),
      'nextExpiry', app.ts(pg_catalog.min(x.expires_at) filter (where x.left_now > 0)),
      'grants', coalesce(pg_catalog.jsonb_agg(app.credit_grant_json(x.g) order by x.expires_at nulls last, x.id)
                           filter (where x.left_now > 0), '[]'))
      from (select g, g.id, g.expires_at, app.credits_left(g) as left_now
              from app.credit_grants g
             where g.org_id = auth.org_id() and g.customer_id = v_customer
               and (g.expires_at is null or g.expires_at > pg_catalog.now())
               and (v_service is null or g.service_ids is null or v_service = any (g.service_ids))) x);
end
$$;
comment on function api.get_credit_balance(jsonb) is 'A customer''s credits usable now (for one service when serviceId is given): the total, the next expiry and each grant with credits left, the first to be used first.';
grant execute on function api.get_credit_balance(jsonb) to favcrm_member;

create function api.list_credit_ledger(p jsonb) returns json
language plpgsql stable set search_path = '' as $$
declare
  v_limit int := app.page_limit(p);
  v_after uuid := app.decode_cursor(p ->> 'cursor');
begin
  perform auth.require_scope('subscriptions:read');
  perform app.require_customer((p ->> 'customerId')::uuid);
  return (
    select app.page_json(pg_catalog.json_agg(app.credit_entry_json(x.e) order by x.n) filter (where x.n <= v_limit),
                         (pg_catalog.array_agg(x.id) filter (where x.n = v_limit))[1],
                         pg_catalog.count(*) > v_limit)
      from (select e.id, e, pg_catalog.row_number() over (order by e.id desc) n
              from app.credit_entries e
             where e.org_id = auth.org_id() and e.customer_id = (p ->> 'customerId')::uuid
               and (v_after is null or e.id < v_after)
             order by e.id desc
             limit v_limit + 1) x);
end
$$;
comment on function api.list_credit_ledger(jsonb) is 'A customer''s credit ledger, newest first: grants, uses, returns, expiries and adjustments.';
grant execute on function api.list_credit_ledger(jsonb) to favcrm_member;

create function api.adjust_credits(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  v_customer uuid := (p ->> 'customerId')::uuid;
  v_quantity int := (p ->> 'quantity')::int;
  v_left int;
  v_take int;
  g app.credit_grants;
  r record;
begin
  perform app.require_subscriptions_manager('adjust credits');
  perform app.require_live_customer(v_customer);
  perform app.lock_credits(v_customer);
  if v_quantity > 0 then
    g := app.grant_credits(v_customer, 'adjustment', coalesce(pg_catalog.btrim(p ->> 'name'), 'Adjustment'), v_quantity,
                           app.require_services(p -> 'serviceIds', 'serviceIds'), (p ->> 'expiresAt')::timestamptz,
                           null, null, p ->> 'reason');
  else
    if (p ? 'serviceIds') or (p ? 'expiresAt') or (p ? 'name') then
      perform app.raise_invalid('quantity', 'removal_takes_no_grant',
        'Removing credits takes them from the grants that expire first; serviceIds, expiresAt and name describe a new grant.');
    end if;
    v_left := -v_quantity;
    for r in select x, app.credits_left(x) as left_now from app.credit_grants x
              where x.org_id = auth.org_id() and x.customer_id = v_customer
                and (x.expires_at is null or x.expires_at > pg_catalog.now())
              order by x.expires_at nulls last, x.id loop
      exit when v_left = 0;
      continue when r.left_now <= 0;
      v_take := least(v_left, r.left_now);
      insert into app.credit_entries (org_id, grant_id, customer_id, kind, quantity, note, created_by)
      values (auth.org_id(), (r.x).id, v_customer, 'adjust', -v_take, p ->> 'reason', auth.user_id());
      v_left := v_left - v_take;
    end loop;
    if v_left > 0 then
      raise exception using errcode = '55000', hint = 'insufficient_credits', column = 'quantity',
        message = pg_catalog.format('The customer has %s credits usable now; %s cannot be removed.',
                                    -v_quantity - v_left, -v_quantity),
        detail = pg_catalog.jsonb_build_object('available', -v_quantity - v_left)::text;
    end if;
  end if;
  return api.get_credit_balance(pg_catalog.jsonb_build_object('customerId', v_customer));
end
$$;
comment on function api.adjust_credits(jsonb) is 'Corrects a customer''s credits with a reason: a positive quantity is a new grant (services, expiry); a negative one is taken from the grants that expire first (409 insufficient_credits beyond what is usable).';
grant execute on function api.adjust_credits(jsonb) to favcrm_member;

-- ---------------------------------------------------------------------------------------
-- Subscriptions
-- ---------------------------------------------------------------------------------------
-- The next step of a subscription whose renews_at has come (as of p_as_of): it ends (a
-- cancellation at period end), its trial starts, or its next period starts: a period row
-- (unique: exactly once), the period's invoice finalised through billing (none in a trial or
-- for a free plan; the promotion's discount on the first one), and the period's credits.
create function app.advance_subscription(s app.subscriptions, p_as_of timestamptz) returns app.subscriptions
language plpgsql set search_path = '' as $$
declare
  pl app.plans;
  pm app.promotions;
  v_tz text;
  v_start timestamptz;
  v_end timestamptz;
  v_trial boolean := false;
  v_period app.subscription_periods;
  v_invoice jsonb;
  v_first boolean;
  v_due date;
begin
  select o.timezone into v_tz from app.organisations o where o.id = s.org_id;
  if s.cancel_at_period_end and s.status in ('trialing', 'active', 'past_due') then
    update app.subscriptions set status = 'cancelled', ended_at = s.renews_at, renews_at = null,
                                 updated_at = pg_catalog.now()
     where org_id = s.org_id and id = s.id returning * into s;
    return s;
  end if;
  if s.status = 'scheduled' and s.trial_ends_at is not null then
    v_trial := true;
    v_start := s.renews_at;
    v_end := s.trial_ends_at;
  else
    if s.next_plan_id is not null then
      s.plan_id := s.next_plan_id;
      s.next_plan_id := null;
    end if;
  end if;
  select * into pl from app.plans where org_id = s.org_id and id = s.plan_id;
  if not v_trial then
    select b.starts_at, b.ends_at into v_start, v_end
      from app.period_bounds(s.anchor_date, pl.interval_unit, pl.interval_count, s.cycle, v_tz) b;
  end if;
  insert into app.subscription_periods (org_id, subscription_id, plan_id, starts_at, ends_at, trial)
  values (s.org_id, s.id, pl.id, v_start, v_end, v_trial)
  on conflict (org_id, subscription_id, starts_at) do nothing
  returning * into v_period;
  if v_period.id is not null then
    v_first := not v_trial and not exists (select from app.subscription_periods x
                                            where x.org_id = s.org_id and x.subscription_id = s.id
                                              and x.invoice_id is not null);
    if not v_trial and pl.price_amount > 0 then
      v_due := (v_start at time zone v_tz)::date + pl.grace_days;
      if v_first and s.promotion_id is not null then
        select * into pm from app.promotions where org_id = s.org_id and id = s.promotion_id;
      end if;
      v_invoice := api.create_invoice(pg_catalog.jsonb_build_object(
        'customerId', s.customer_id, 'currency', pl.currency, 'dueDate', v_due,
        'memo', pg_catalog.format('%s, %s to %s', pl.name, pg_catalog.to_char(v_start at time zone v_tz, 'YYYY-MM-DD'),
                                  pg_catalog.to_char((v_end at time zone v_tz) - interval '1 day', 'YYYY-MM-DD')),
        'lines', pg_catalog.jsonb_build_array(pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(
                   'description', pg_catalog.format('%s (%s to %s)', pl.name,
                                                    pg_catalog.to_char(v_start at time zone v_tz, 'YYYY-MM-DD'),
                                                    pg_catalog.to_char((v_end at time zone v_tz) - interval '1 day',
                                                                       'YYYY-MM-DD')),
                   'unitAmount', pl.price_amount, 'taxRateId', pl.tax_rate_id,
                   'discountPercentBp', pm.percent_off_bp,
                   'discountAmount', case when pm.amount_off is not null
                                          then least(pm.amount_off, pl.price_amount) end)))));
      v_invoice := api.finalize_invoice(pg_catalog.jsonb_build_object('invoiceId', v_invoice ->> 'id'));
      update app.subscription_periods set invoice_id = (v_invoice ->> 'id')::uuid
       where org_id = v_period.org_id and id = v_period.id;
      -- Collected through Stripe: a payment link for the period's invoice, made here and sent
      -- to Stripe once this commits (app.subscription_stripe_request). Without a connection
      -- (an owner disconnected it) the invoice is issued all the same.
      if s.collection = 'stripe'
         and exists (select from app.payment_providers pp where pp.org_id = s.org_id and pp.provider = 'stripe') then
        perform api.create_payment_link(pg_catalog.jsonb_build_object('invoiceId', v_invoice ->> 'id'));
      end if;
      s.pays_by := ((v_due + 1)::timestamp at time zone v_tz);
    end if;
    if pl.credits_per_period > 0 then
      perform app.lock_credits(s.customer_id);
      perform app.grant_credits(s.customer_id, 'subscription', pl.name, pl.credits_per_period, pl.credit_service_ids,
                                v_end, (v_invoice ->> 'id')::uuid, v_period.id, null);
    end if;
  end if;
  update app.subscriptions set
    plan_id = s.plan_id, next_plan_id = s.next_plan_id,
    status = case when v_trial then 'trialing' when s.status = 'past_due' then 'past_due' else 'active' end,
    cycle = case when v_trial then s.cycle else s.cycle + 1 end,
    current_period_start = v_start, current_period_end = v_end, renews_at = v_end,
    pays_by = s.pays_by, last_renewal_error = null, updated_at = pg_catalog.now()
   where org_id = s.org_id and id = s.id
  returning * into s;
  return s;
end
$$;
comment on function app.advance_subscription(app.subscriptions, timestamptz) is 'Takes a due subscription one step: ends it (cancel at period end), starts its trial, or starts its next period exactly once (period row, finalised invoice, credits).';
grant execute on function app.advance_subscription(app.subscriptions, timestamptz) to favcrm_member;

-- What the server sends Stripe after a renewal (or a subscription started or resumed) commits:
-- a Checkout Session for each payment link of the subscription's period invoices still being
-- made. NULL when there is none. Each carries the link's id as Stripe's idempotency key.
create function app.subscription_stripe_request(s app.subscriptions) returns jsonb
language plpgsql stable set search_path = '' as $$
declare
  v_calls jsonb;
begin
  if s.collection <> 'stripe' then
    return null;
  end if;
  select pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
           'kind', 'checkout_session', 'linkId', pl.id, 'invoiceId', i.id, 'invoiceNumber', i.number,
           'amount', pl.amount, 'currency', pg_catalog.lower(pl.currency), 'customerEmail', c.email) order by pl.id)
    into v_calls
    from app.subscription_periods sp
    join app.invoices i on i.org_id = sp.org_id and i.id = sp.invoice_id
    join app.payment_links pl on pl.org_id = i.org_id and pl.invoice_id = i.id and pl.status = 'creating'
    join app.customers c on c.org_id = i.org_id and c.id = i.customer_id
   where sp.org_id = s.org_id and sp.subscription_id = s.id;
  if v_calls is null then
    return null;
  end if;
  return app.stripe_request(v_calls);
end
$$;
comment on function app.subscription_stripe_request(app.subscriptions) is 'The Stripe calls (Checkout Sessions) for payment links of a subscription''s period invoices still being made, as app.stripe_request builds them; NULL when none.';
grant execute on function app.subscription_stripe_request(app.subscriptions) to favcrm_member;

-- The answer of an operation on a subscription, asking the server for the Stripe calls its
-- payment links need (the server removes _stripe and records what Stripe answered).
create function app.subscription_answer(s app.subscriptions) returns jsonb
language sql stable as $$
  select pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object('_stripe', app.subscription_stripe_request(s)))
         || app.subscription_json(s)
$$;
comment on function app.subscription_answer(app.subscriptions) is 'app.subscription_json, with the _stripe request for its payment links still being made.';
grant execute on function app.subscription_answer(app.subscriptions) to favcrm_member;

-- Past due or not, as of a time: a period invoice still open after its due date makes it
-- past_due; once none is, it is active again. Rechecked hourly while past due.
create function app.check_subscription_payment(s app.subscriptions, p_as_of timestamptz) returns app.subscriptions
language plpgsql set search_path = '' as $$
declare
  v_tz text;
  v_overdue boolean;
begin
  if s.status not in ('active', 'past_due') then
    return s;
  end if;
  select o.timezone into v_tz from app.organisations o where o.id = s.org_id;
  v_overdue := exists (select from app.subscription_periods sp
                         join app.invoices i on i.org_id = sp.org_id and i.id = sp.invoice_id
                        where sp.org_id = s.org_id and sp.subscription_id = s.id
                          and i.status = 'open' and i.due_date < (p_as_of at time zone v_tz)::date);
  update app.subscriptions set
    status = case when v_overdue then 'past_due' else 'active' end,
    pays_by = case when v_overdue then p_as_of + interval '1 hour'
                   when exists (select from app.subscription_periods sp
                                  join app.invoices i on i.org_id = sp.org_id and i.id = sp.invoice_id
                                 where sp.org_id = s.org_id and sp.subscription_id = s.id and i.status = 'open')
                   then s.pays_by end,
    updated_at = case when s.status <> case when v_overdue then 'past_due' else 'active' end
                      then pg_catalog.now() else s.updated_at end
   where org_id = s.org_id and id = s.id
  returning * into s;
  return s;
end
$$;
comment on function app.check_subscription_payment(app.subscriptions, timestamptz) is 'Marks a subscription past_due while one of its period invoices is open past its due date, and active again once none is.';
grant execute on function app.check_subscription_payment(app.subscriptions, timestamptz) to favcrm_member;

-- The scheduler's work on one subscription, as of a time (the worker passes now()): every step
-- that has come due (at most 24 periods at once: a long outage catches up over a few runs),
-- then the payment check. The row is taken with SKIP LOCKED: a second worker passes it by.
-- A step that fails rolls back alone and is recorded on the subscription (lastRenewalError).
create function app.renew_subscription(p_id uuid, p_as_of timestamptz) returns jsonb
language plpgsql set search_path = '' as $$
declare
  s app.subscriptions;
  v_steps int := 0;
begin
  select * into s from app.subscriptions where org_id = auth.org_id() and id = p_id for update skip locked;
  if not found then
    return pg_catalog.jsonb_build_object('subscriptionId', p_id, 'skipped', true);
  end if;
  begin
    while s.renews_at <= p_as_of and s.status in ('scheduled', 'trialing', 'active', 'past_due') and v_steps < 24 loop
      s := app.advance_subscription(s, p_as_of);
      v_steps := v_steps + 1;
    end loop;
  exception when others then
    update app.subscriptions set last_renewal_error = sqlerrm, updated_at = pg_catalog.now()
     where org_id = s.org_id and id = s.id;
    return pg_catalog.jsonb_build_object('subscriptionId', p_id, 'error', sqlerrm);
  end;
  if s.pays_by <= p_as_of or s.status = 'past_due' then
    s := app.check_subscription_payment(s, p_as_of);
  end if;
  return pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(
    'subscriptionId', p_id, 'steps', v_steps, 'status', s.status, '_stripe', app.subscription_stripe_request(s)));
end
$$;
comment on function app.renew_subscription(uuid, timestamptz) is 'Runs what has come due on one subscription as of a time (renewals, trial start, end at period end, payment check), skipping it when another worker holds it.';
grant execute on function app.renew_subscription(uuid, timestamptz) to favcrm_member;

-- The scheduler's one question across organisations: which subscriptions need it now? Only
-- their ids; it then acts on each for its organisation (app.renew_subscription).
create function auth.due_subscriptions(p_as_of timestamptz, p_limit int, p_skip uuid[])
returns table (org_id uuid, id uuid)
language sql stable security definer set search_path = '' as $$
  select s.org_id, s.id from app.subscriptions s
   where s.status in ('scheduled', 'trialing', 'active', 'past_due')
     and (s.renews_at <= p_as_of or (s.pays_by <= p_as_of and s.status in ('active', 'past_due')))
     and s.id <> all (coalesce(p_skip, '{}'))
   order by least(s.renews_at, s.pays_by)
   limit p_limit
$$;
comment on function auth.due_subscriptions(timestamptz, int, uuid[]) is 'The subscriptions with a renewal or a payment check due as of a time (not those in p_skip), oldest first: organisation and id only.';
revoke all on function auth.due_subscriptions(timestamptz, int, uuid[]) from public;
grant execute on function auth.due_subscriptions(timestamptz, int, uuid[]) to favcrm_authenticator;

-- The scheduler's other question: which grants have lapsed (by a time) without their expiry
-- in the ledger yet? Their credits stopped counting at their expiry already; the scheduler
-- then writes the expiry for each organisation (app.expire_credit_grants).
create function auth.lapsed_credit_grants(p_as_of timestamptz, p_limit int) returns table (org_id uuid, id uuid)
language sql stable security definer set search_path = '' as $$
  select g.org_id, g.id from app.credit_grants g
   where g.expires_at <= p_as_of
     and not exists (select from app.credit_entries e where e.org_id = g.org_id and e.grant_id = g.id and e.kind = 'expire')
   order by g.expires_at
   limit p_limit
$$;
comment on function auth.lapsed_credit_grants(timestamptz, int) is 'Grants expired by a time whose expiry is not yet in the ledger, oldest first: organisation and id only.';
revoke all on function auth.lapsed_credit_grants(timestamptz, int) from public;
grant execute on function auth.lapsed_credit_grants(timestamptz, int) to favcrm_authenticator;

-- Records the expiry of the organisation's lapsed grants: one expire entry each, for what it
-- had left (0 when it was used up), under each customer's credit lock. A customer whose
-- credits are being changed right now is left for the next run rather than waited for.
create function app.expire_credit_grants(p_ids uuid[], p_as_of timestamptz) returns int
language plpgsql set search_path = '' as $$
declare
  g app.credit_grants;
  v_left int;
  v_n int := 0;
begin
  for g in select * from app.credit_grants x
            where x.org_id = auth.org_id() and x.id = any (p_ids) and x.expires_at <= p_as_of
            order by x.customer_id, x.id loop
    continue when not app.try_lock_credits(g.customer_id);
    v_left := greatest(app.credits_left(g), 0);
    insert into app.credit_entries (org_id, grant_id, customer_id, kind, quantity, note)
    values (g.org_id, g.id, g.customer_id, 'expire', -v_left, 'Expired ' || app.ts(g.expires_at))
    on conflict do nothing;
    if found then
      v_n := v_n + 1;
    end if;
  end loop;
  return v_n;
end
$$;
comment on function app.expire_credit_grants(uuid[], timestamptz) is 'Writes an expire entry for what each lapsed grant had left (0 when used up), passing by customers whose credits are being changed; returns how many it wrote.';
grant execute on function app.expire_credit_grants(uuid[], timestamptz) to favcrm_member;

create function api.create_subscription(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  pl app.plans;
  pm app.promotions;
  s app.subscriptions;
  v_tz text;
  v_today date;
  v_start date;
  v_anchor date;
begin
  perform app.require_subscriptions_manager('start subscriptions');
  perform app.require_billing_role('manager', 'start subscriptions');
  perform app.require_live_customer((p ->> 'customerId')::uuid);
  pl := app.plan_for((p ->> 'planId')::uuid, 'planId');
  if pl.archived_at is not null then
    perform app.raise_invalid('planId', 'plan_archived', pg_catalog.format('%s is archived.', pl.name));
  end if;
  select o.timezone into v_tz from app.organisations o where o.id = auth.org_id();
  v_today := (pg_catalog.now() at time zone v_tz)::date;
  v_start := coalesce((p ->> 'startDate')::date, v_today);
  if v_start < v_today then
    perform app.raise_invalid('startDate', 'in_the_past', 'A subscription starts today or later.');
  end if;
  if v_start > v_today + 365 then
    perform app.raise_invalid('startDate', 'too_far_ahead', 'A subscription starts within a year.');
  end if;
  if coalesce(p ->> 'collection', 'invoice') = 'stripe'
     and not exists (select from app.payment_providers pp where pp.org_id = auth.org_id() and pp.provider = 'stripe') then
    perform app.raise_invalid('collection', 'stripe_not_connected',
      'Collection through Stripe needs a Stripe connection (connect_stripe).');
  end if;
  if p ->> 'promotionCode' is not null then
    pm := app.take_promotion(p ->> 'promotionCode', (p ->> 'customerId')::uuid, pl.currency, array['plans'],
                             pl.price_amount);
  end if;
  v_anchor := v_start + pl.trial_days;
  insert into app.subscriptions (org_id, customer_id, plan_id, status, collection, promotion_id, anchor_date,
                                 trial_ends_at, renews_at, created_by)
  values (auth.org_id(), (p ->> 'customerId')::uuid, pl.id, 'scheduled', coalesce(p ->> 'collection', 'invoice'), pm.id,
          v_anchor, case when pl.trial_days > 0 then v_anchor::timestamp at time zone v_tz end,
          v_start::timestamp at time zone v_tz, auth.user_id())
  returning * into s;
  -- Starting today: the first step (trial or first period, with its invoice) happens now.
  if v_start = v_today then
    s := app.advance_subscription(s, pg_catalog.now());
  end if;
  return app.subscription_answer(s);
end
$$;
comment on function api.create_subscription(jsonb) is 'Puts a customer on a plan from a start date (today by default): a trial first when the plan has one, then a period at a time, each invoiced (finalised, due after the plan''s grace days) with its credits. Needs billing:write too.';
grant execute on function api.create_subscription(jsonb) to favcrm_member;

create function api.get_subscription(p jsonb) returns jsonb
language plpgsql stable set search_path = '' as $$
declare
  s app.subscriptions;
begin
  perform auth.require_scope('subscriptions:read');
  select * into s from app.subscriptions where org_id = auth.org_id() and id = (p ->> 'subscriptionId')::uuid;
  if not found then
    perform app.not_found('subscription');
  end if;
  return app.subscription_json(s);
end
$$;
comment on function api.get_subscription(jsonb) is 'Returns one subscription with its plan and latest periods.';
grant execute on function api.get_subscription(jsonb) to favcrm_member;

create function api.list_subscriptions(p jsonb) returns json
language plpgsql stable set search_path = '' as $$
declare
  v_limit int := app.page_limit(p);
  v_after uuid := app.decode_cursor(p ->> 'cursor');
begin
  perform auth.require_scope('subscriptions:read');
  return (
    select app.page_json(pg_catalog.json_agg(app.subscription_json(x.s)::json order by x.n) filter (where x.n <= v_limit),
                         (pg_catalog.array_agg(x.id) filter (where x.n = v_limit))[1],
                         pg_catalog.count(*) > v_limit)
      from (select s.id, s, pg_catalog.row_number() over (order by s.id desc) n
              from app.subscriptions s
             where s.org_id = auth.org_id()
               and (v_after is null or s.id < v_after)
               and (p ->> 'status' is null or s.status = p ->> 'status')
               and (p ->> 'customerId' is null or s.customer_id = (p ->> 'customerId')::uuid)
               and (p ->> 'planId' is null or s.plan_id = (p ->> 'planId')::uuid)
             order by s.id desc
             limit v_limit + 1) x);
end
$$;
comment on function api.list_subscriptions(jsonb) is 'Subscriptions, newest first, by status, customer or plan.';
grant execute on function api.list_subscriptions(jsonb) to favcrm_member;

create function api.pause_subscription(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  s app.subscriptions;
begin
  perform app.require_subscriptions_manager('pause subscriptions');
  s := app.subscription_for_update((p ->> 'subscriptionId')::uuid);
  if s.status = 'paused' then
    return app.subscription_json(s);
  end if;
  if s.status not in ('trialing', 'active', 'past_due') then
    raise exception using errcode = '55000', hint = 'invalid_subscription_state',
      message = pg_catalog.format('A %s subscription cannot be paused.', s.status);
  end if;
  update app.subscriptions set status = 'paused', paused_at = pg_catalog.now(), updated_at = pg_catalog.now()
   where org_id = s.org_id and id = s.id returning * into s;
  return app.subscription_json(s);
end
$$;
comment on function api.pause_subscription(jsonb) is 'Pauses a subscription: no renewal (no invoice, no credits) until it is resumed. Pausing twice changes nothing.';
grant execute on function api.pause_subscription(jsonb) to favcrm_member;

create function api.resume_subscription(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  s app.subscriptions;
  v_tz text;
begin
  perform app.require_subscriptions_manager('resume subscriptions');
  s := app.subscription_for_update((p ->> 'subscriptionId')::uuid);
  if s.status <> 'paused' then
    if s.cancel_at_period_end and s.status in ('trialing', 'active', 'past_due') then
      -- Resuming takes back a cancellation at period end.
      update app.subscriptions set cancel_at_period_end = false, updated_at = pg_catalog.now()
       where org_id = s.org_id and id = s.id returning * into s;
    elsif s.status not in ('scheduled', 'trialing', 'active', 'past_due') then
      raise exception using errcode = '55000', hint = 'invalid_subscription_state',
        message = pg_catalog.format('A %s subscription cannot be resumed.', s.status);
    end if;
    return app.subscription_json(s);
  end if;
  if s.renews_at > pg_catalog.now() then
    update app.subscriptions set
      status = case when s.trial_ends_at is not null and s.renews_at = s.trial_ends_at then 'trialing' else 'active' end,
      paused_at = null, pays_by = coalesce(s.pays_by, pg_catalog.now()), updated_at = pg_catalog.now()
     where org_id = s.org_id and id = s.id returning * into s;
    return app.subscription_json(s);
  end if;
  -- The paused period ran out: a new period starts today, and is invoiced now.
  perform app.require_billing_role('manager', 'resume subscriptions');
  select o.timezone into v_tz from app.organisations o where o.id = s.org_id;
  update app.subscriptions set
    status = 'active', paused_at = null, trial_ends_at = null, cycle = 0,
    anchor_date = (pg_catalog.now() at time zone v_tz)::date,
    renews_at = (pg_catalog.now() at time zone v_tz)::date::timestamp at time zone v_tz, updated_at = pg_catalog.now()
   where org_id = s.org_id and id = s.id returning * into s;
  s := app.advance_subscription(s, pg_catalog.now());
  return app.subscription_answer(s);
end
$$;
comment on function api.resume_subscription(jsonb) is 'Resumes a paused subscription (within its period it carries on; after the period ran out a new period starts today and is invoiced now), or takes back a cancellation at period end.';
grant execute on function api.resume_subscription(jsonb) to favcrm_member;

create function api.cancel_subscription(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  s app.subscriptions;
  v_now boolean := coalesce(p ->> 'when', 'period_end') = 'now';
begin
  perform app.require_subscriptions_manager('cancel subscriptions');
  s := app.subscription_for_update((p ->> 'subscriptionId')::uuid);
  perform auth.require_confirmation('cancel_subscription');
  if s.status = 'cancelled' or (s.cancel_at_period_end and not v_now) then
    return app.subscription_json(s);
  end if;
  if v_now or s.status in ('scheduled', 'paused') then
    update app.subscriptions set status = 'cancelled', cancelled_at = pg_catalog.now(), ended_at = pg_catalog.now(),
                                 renews_at = null, pays_by = null, cancel_at_period_end = false,
                                 updated_at = pg_catalog.now()
     where org_id = s.org_id and id = s.id returning * into s;
  else
    update app.subscriptions set cancel_at_period_end = true, cancelled_at = pg_catalog.now(),
                                 updated_at = pg_catalog.now()
     where org_id = s.org_id and id = s.id returning * into s;
  end if;
  return app.subscription_json(s);
end
$$;
comment on function api.cancel_subscription(jsonb) is 'Cancels a subscription at the end of its period (the default: it is not renewed) or now. Invoices already issued stand; credits already granted stay usable until they expire. Cancelling again the same way changes nothing.';
grant execute on function api.cancel_subscription(jsonb) to favcrm_member;

create function api.change_subscription_plan(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  s app.subscriptions;
  pl app.plans;
begin
  perform app.require_subscriptions_manager('change subscriptions');
  s := app.subscription_for_update((p ->> 'subscriptionId')::uuid);
  if s.status = 'cancelled' then
    raise exception using errcode = '55000', hint = 'invalid_subscription_state',
      message = 'A cancelled subscription cannot change plan: start a new one.';
  end if;
  pl := app.plan_for((p ->> 'planId')::uuid, 'planId');
  if pl.archived_at is not null and pl.id <> s.plan_id then
    perform app.raise_invalid('planId', 'plan_archived', pg_catalog.format('%s is archived.', pl.name));
  end if;
  if s.next_plan_id is distinct from nullif(pl.id, s.plan_id) then
    update app.subscriptions set next_plan_id = nullif(pl.id, s.plan_id), updated_at = pg_catalog.now()
     where org_id = s.org_id and id = s.id returning * into s;
  end if;
  return app.subscription_json(s);
end
$$;
comment on function api.change_subscription_plan(jsonb) is 'Moves a subscription to another plan from its next period (no proration: the current period stays as invoiced). Naming the current plan takes back a change not yet made.';
grant execute on function api.change_subscription_plan(jsonb) to favcrm_member;

-- ---------------------------------------------------------------------------------------
-- What web pages see (publishable keys, through auth.publishable_call)
-- ---------------------------------------------------------------------------------------
create function app.public_catalog(p_kind text) returns jsonb
language sql stable set search_path = '' as $$
  select pg_catalog.jsonb_build_object('items', case p_kind
    when 'products' then (
      select coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
               'id', pr.id, 'name', pr.name, 'description', pr.description,
               'price', case when pr.web_listing = 'listed' then app.money(pr.price_amount, pr.currency) end)
               order by pr.name, pr.id), '[]')
        from app.products pr
       where pr.org_id = auth.org_id() and pr.archived_at is null and pr.web_listing <> 'unlisted')
    else (
      select coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
               'id', pl.id, 'name', pl.name, 'description', pl.description,
               'price', case when pl.web_listing = 'listed' then app.money(pl.price_amount, pl.currency) end,
               'interval', pl.interval_unit, 'intervalCount', pl.interval_count, 'trialDays', pl.trial_days,
               'creditsPerPeriod', pl.credits_per_period)
               order by pl.name, pl.id), '[]')
        from app.plans pl
       where pl.org_id = auth.org_id() and pl.archived_at is null and pl.web_listing <> 'unlisted')
    end)
$$;
comment on function app.public_catalog(text) is 'The active products or plans a web page may show: those not unlisted, with their price unless it is hidden.';
grant execute on function app.public_catalog(text) to favcrm_member;

-- ---------------------------------------------------------------------------------------
-- The scheduler's doors: it acts for one organisation at a time, as the organisation's owner
-- role would (under the same policies as a request), with no user and via 'scheduler'. The
-- server calls these after switching to the member role, one subscription per transaction.
-- ---------------------------------------------------------------------------------------
create function auth.act_for_scheduler(p_org uuid, p_op text) returns void
language plpgsql volatile set search_path = '' as $$
begin
  perform auth.act_for_system(p_org, 'scheduler', p_op);
end
$$;
comment on function auth.act_for_scheduler(uuid, text) is 'Sets the claims the scheduler acts under for one organisation: its owner role, no user, via scheduler.';
revoke all on function auth.act_for_scheduler(uuid, text) from public;
grant execute on function auth.act_for_scheduler(uuid, text) to favcrm_member;

create function auth.renew_subscription(p_org uuid, p_id uuid, p_as_of timestamptz) returns jsonb
language plpgsql volatile set search_path = '' as $$
begin
  perform auth.act_for_scheduler(p_org, 'renew_subscription');
  return app.renew_subscription(p_id, p_as_of);
end
$$;
comment on function auth.renew_subscription(uuid, uuid, timestamptz) is 'The scheduler''s renewal of one subscription of an organisation (app.renew_subscription), acting for that organisation.';
revoke all on function auth.renew_subscription(uuid, uuid, timestamptz) from public;
grant execute on function auth.renew_subscription(uuid, uuid, timestamptz) to favcrm_member;

create function auth.expire_credit_grants(p_org uuid, p_ids uuid[], p_as_of timestamptz) returns int
language plpgsql volatile set search_path = '' as $$
begin
  perform auth.act_for_scheduler(p_org, 'expire_credits');
  return app.expire_credit_grants(p_ids, p_as_of);
end
$$;
comment on function auth.expire_credit_grants(uuid, uuid[], timestamptz) is 'The scheduler''s recording of an organisation''s lapsed credit grants (app.expire_credit_grants), acting for that organisation.';
revoke all on function auth.expire_credit_grants(uuid, uuid[], timestamptz) from public;
grant execute on function auth.expire_credit_grants(uuid, uuid[], timestamptz) to favcrm_member;

create function auth.apply_scheduler_stripe_results(p_org uuid, p_results jsonb) returns jsonb
language plpgsql volatile set search_path = '' as $$
begin
  perform auth.act_for_scheduler(p_org, 'renew_subscription');
  return auth.apply_stripe_results('renew_subscription', p_results, '{}');
end
$$;
comment on function auth.apply_scheduler_stripe_results(uuid, jsonb) is 'Records what Stripe answered for the payment links a renewal made (auth.apply_stripe_results), acting for the organisation.';
revoke all on function auth.apply_scheduler_stripe_results(uuid, jsonb) from public;
grant execute on function auth.apply_scheduler_stripe_results(uuid, jsonb) to favcrm_member;
