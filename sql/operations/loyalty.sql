-- Loyalty: the programme an organisation sets once, and the points and stamps a customer earns
-- from real events on an append-only ledger. Every member reads; owners and admins set the
-- programme; managers and above adjust points.
--
-- The rules, in one place:
-- * A payment earns floor/round/ceil(amount in currency units × pointsPerUnit × the customer's
--   tier multiplier) points (credit spent from the customer's balance earns nothing: it was
--   earned when paid). A completed booking earns pointsPerBooking (or its service's override),
--   and a stamp when stamps are on and its service is eligible.
-- * Exactly once: an earning is unique per (unit, source, source id), written in the transaction
--   that records the event (triggers on payments, refunds and bookings, V20); replaying the event
--   earns nothing more.
-- * A refund takes back points in proportion to the payment: after it, the payment's earning has
--   lost round(earned × refunded ÷ paid) in all (cumulative, so refunds in parts add up to the
--   whole), from the payment's lot first, then from the lots that expire first. A credit note
--   that credits the customer's balance for a paid invoice (money returned as store credit)
--   takes back round(earned × credited ÷ paid) of the points the invoice's payments earned.
-- * Points come in lots (an earning, a positive adjustment), each expiring expiryMonths after it
--   was earned (never without); a balance is the sum over the lots not yet expired, so points
--   leave it at their expiry even before the scheduler writes the expiry down. Points are taken
--   (adjustments, redemptions) from the lots that expire first.
-- * The tier is the highest whose threshold the points earned in the last 12 months reach
--   (earnings less their reversals).

-- ---------------------------------------------------------------------------------------
-- The programme
-- ---------------------------------------------------------------------------------------
create function app.loyalty_programme(p_org uuid) returns app.loyalty_programmes
language plpgsql stable set search_path = '' as $$
declare
  lp app.loyalty_programmes;
begin
  select * into lp from app.loyalty_programmes where org_id = p_org;
  if not found then
    lp.org_id := p_org;
    lp.enabled := false;
    lp.points_per_unit := 0;
    lp.rounding := 'down';
    lp.points_per_booking := 0;
    lp.booking_points_overrides := '{}';
    lp.tiers := '[]';
  end if;
  return lp;
end
$$;
comment on function app.loyalty_programme(uuid) is 'The organisation''s loyalty programme, or the default (off, earning nothing) when it has never set one.';
grant execute on function app.loyalty_programme(uuid) to favcrm_member;

create function app.loyalty_programme_json(lp app.loyalty_programmes) returns jsonb
language sql stable as $$
  select pg_catalog.jsonb_build_object(
    'enabled', lp.enabled,
    'pointsPerUnit', lp.points_per_unit,
    'rounding', lp.rounding,
    'pointsPerBooking', lp.points_per_booking,
    'bookingPointsOverrides', (select coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                                                 'serviceId', o.key, 'points', (o.value #>> '{}')::int) order by o.key), '[]')
                                 from pg_catalog.jsonb_each(lp.booking_points_overrides) o),
    'expiryMonths', lp.expiry_months,
    'stampsPerCard', lp.stamps_per_card,
    'stampServiceIds', pg_catalog.to_jsonb(lp.stamp_service_ids),
    'tiers', lp.tiers,
    'updatedAt', app.ts(lp.updated_at))
$$;
comment on function app.loyalty_programme_json(app.loyalty_programmes) is 'The API representation of a loyalty programme.';
grant execute on function app.loyalty_programme_json(app.loyalty_programmes) to favcrm_member;

create function api.get_loyalty_programme(p jsonb) returns jsonb
language plpgsql stable set search_path = '' as $$
begin
  perform auth.require_scope('loyalty:read');
  return app.loyalty_programme_json(app.loyalty_programme(auth.org_id()));
end
$$;
comment on function api.get_loyalty_programme(jsonb) is 'Returns the organisation''s loyalty programme (off and earning nothing until set).';
grant execute on function api.get_loyalty_programme(jsonb) to favcrm_member;

-- Tiers as stored: by threshold, names unique, thresholds rising, multipliers at least ×1.
create function app.normalize_tiers(p_tiers jsonb) returns jsonb
language plpgsql stable set search_path = '' as $$
declare
  v_tier jsonb;
  v_n int := 0;
  v_last bigint := -1;
  v_out jsonb := '[]';
begin
  for v_tier in select t from pg_catalog.jsonb_array_elements(p_tiers) t
                order by (t ->> 'threshold')::bigint loop
    if (v_tier ->> 'threshold')::bigint = v_last then
      perform app.raise_invalid(pg_catalog.format('tiers[%s].threshold', v_n), 'duplicate_threshold',
        'Two tiers cannot share a threshold.');
    end if;
    if exists (select from pg_catalog.jsonb_array_elements(v_out) o
                where pg_catalog.lower(o ->> 'name') = pg_catalog.lower(pg_catalog.btrim(v_tier ->> 'name'))) then
      perform app.raise_invalid(pg_catalog.format('tiers[%s].name', v_n), 'duplicate_tier',
        pg_catalog.format('Two tiers are called %s.', v_tier ->> 'name'));
    end if;
    v_last := (v_tier ->> 'threshold')::bigint;
    v_out := v_out || pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object(
      'name', pg_catalog.btrim(v_tier ->> 'name'), 'threshold', v_last,
      'multiplierBp', coalesce((v_tier ->> 'multiplierBp')::int, 10000),
      'discountBp', coalesce((v_tier ->> 'discountBp')::int, 0)));
    v_n := v_n + 1;
  end loop;
  return v_out;
end
$$;
comment on function app.normalize_tiers(jsonb) is 'Tiers sorted by threshold with defaults (multiplier ×1, no discount); raises 422 on a repeated threshold or name.';
grant execute on function app.normalize_tiers(jsonb) to favcrm_member;

create function api.update_loyalty_programme(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  o app.loyalty_programmes;
  lp app.loyalty_programmes;
  v_override jsonb;
  v_n int := 0;
begin
  perform auth.require_scope('loyalty:write');
  if auth.role_rank(auth.role()) < auth.role_rank('admin') then
    raise exception using errcode = '42501', hint = 'forbidden',
      message = 'Only admins and owners can change the loyalty programme.';
  end if;
  select * into o from app.loyalty_programmes where org_id = auth.org_id() for update;
  lp := app.loyalty_programme(auth.org_id());
  if p ? 'enabled' then lp.enabled := coalesce((p ->> 'enabled')::boolean, false); end if;
  if p ? 'pointsPerUnit' then lp.points_per_unit := coalesce((p ->> 'pointsPerUnit')::numeric, 0); end if;
  if p ? 'rounding' then lp.rounding := coalesce(p ->> 'rounding', 'down'); end if;
  if p ? 'pointsPerBooking' then lp.points_per_booking := coalesce((p ->> 'pointsPerBooking')::int, 0); end if;
  if p ? 'bookingPointsOverrides' then
    lp.booking_points_overrides := '{}';
    for v_override in select * from pg_catalog.jsonb_array_elements(coalesce(p -> 'bookingPointsOverrides', '[]')) loop
      if not exists (select from app.services s where s.org_id = auth.org_id() and s.id = (v_override ->> 'serviceId')::uuid) then
        perform app.not_found('service', pg_catalog.format('bookingPointsOverrides[%s].serviceId', v_n));
      end if;
      lp.booking_points_overrides := lp.booking_points_overrides
        || pg_catalog.jsonb_build_object(v_override ->> 'serviceId', (v_override ->> 'points')::int);
      v_n := v_n + 1;
    end loop;
  end if;
  if p ? 'expiryMonths' then lp.expiry_months := (p ->> 'expiryMonths')::int; end if;
  if p ? 'stampsPerCard' then lp.stamps_per_card := (p ->> 'stampsPerCard')::int; end if;
  if p ? 'stampServiceIds' then lp.stamp_service_ids := app.require_services(p -> 'stampServiceIds', 'stampServiceIds'); end if;
  if p ? 'tiers' then lp.tiers := app.normalize_tiers(coalesce(p -> 'tiers', '[]')); end if;
  lp.updated_by := auth.user_id();
  lp.updated_at := pg_catalog.now();
  if o.org_id is null then
    lp.id := app.uuid_v7();
    insert into app.loyalty_programmes select lp.* returning * into lp;
  elsif (lp.enabled, lp.points_per_unit, lp.rounding, lp.points_per_booking, lp.booking_points_overrides,
         lp.expiry_months, lp.stamps_per_card, lp.stamp_service_ids, lp.tiers)
        is distinct from
        (o.enabled, o.points_per_unit, o.rounding, o.points_per_booking, o.booking_points_overrides,
         o.expiry_months, o.stamps_per_card, o.stamp_service_ids, o.tiers) then
    update app.loyalty_programmes set
      enabled = lp.enabled, points_per_unit = lp.points_per_unit, rounding = lp.rounding,
      points_per_booking = lp.points_per_booking, booking_points_overrides = lp.booking_points_overrides,
      expiry_months = lp.expiry_months, stamps_per_card = lp.stamps_per_card, stamp_service_ids = lp.stamp_service_ids,
      tiers = lp.tiers, updated_by = lp.updated_by, updated_at = lp.updated_at
     where org_id = o.org_id
    returning * into lp;
  else
    lp := o;
  end if;
  return app.loyalty_programme_json(lp);
end
$$;
comment on function api.update_loyalty_programme(jsonb) is 'Sets the fields given of the loyalty programme (owners and admins): earning per currency unit and per booking (with per-service overrides), rounding, expiry, stamp cards and tiers. Changes apply to events from now on; what was earned stays.';
grant execute on function api.update_loyalty_programme(jsonb) to favcrm_member;

-- ---------------------------------------------------------------------------------------
-- Balances
-- ---------------------------------------------------------------------------------------
-- What is left of a lot: the sum of its entries.
create function app.loyalty_lot_left(p_org uuid, p_lot uuid) returns bigint
language sql stable as $$
  select coalesce(sum(e.quantity), 0)::bigint from app.loyalty_entries e where e.org_id = p_org and e.lot_id = p_lot
$$;
comment on function app.loyalty_lot_left(uuid, uuid) is 'What is left of a loyalty lot: the sum of its entries.';
grant execute on function app.loyalty_lot_left(uuid, uuid) to favcrm_member;

-- A customer's balance of a unit at a time: the sum of the entries of the lots not expired then.
create function app.loyalty_balance(p_org uuid, p_customer uuid, p_unit text, p_at timestamptz) returns bigint
language sql stable as $$
  select coalesce(sum(e.quantity), 0)::bigint
    from app.loyalty_entries l
    join app.loyalty_entries e on e.org_id = l.org_id and e.lot_id = l.id
   where l.org_id = p_org and l.customer_id = p_customer and l.unit = p_unit and l.lot_id = l.id
     and (l.expires_at is null or l.expires_at > p_at)
$$;
comment on function app.loyalty_balance(uuid, uuid, text, timestamptz) is 'A customer''s points or stamps at a time: the sum of the entries of the lots not expired by then.';
grant execute on function app.loyalty_balance(uuid, uuid, text, timestamptz) to favcrm_member;

-- Points earned in the 12 months before a time (earnings less their reversals).
create function app.loyalty_earned_12m(p_org uuid, p_customer uuid, p_at timestamptz) returns bigint
language sql stable as $$
  select coalesce(sum(e.quantity), 0)::bigint
    from app.loyalty_entries l
    join app.loyalty_entries e on e.org_id = l.org_id and e.lot_id = l.id and e.kind in ('earn', 'reverse')
   where l.org_id = p_org and l.customer_id = p_customer and l.unit = 'points' and l.kind = 'earn'
     and l.created_at > p_at - interval '12 months' and l.created_at <= p_at
$$;
comment on function app.loyalty_earned_12m(uuid, uuid, timestamptz) is 'Points a customer earned in the 12 months before a time, less what refunds took back of them: what tiers are measured by.';
grant execute on function app.loyalty_earned_12m(uuid, uuid, timestamptz) to favcrm_member;

create function app.loyalty_tier(lp app.loyalty_programmes, p_earned bigint) returns jsonb
language sql immutable as $$
  select t from pg_catalog.jsonb_array_elements(lp.tiers) t
   where (t ->> 'threshold')::bigint <= p_earned
   order by (t ->> 'threshold')::bigint desc
   limit 1
$$;
comment on function app.loyalty_tier(app.loyalty_programmes, bigint) is 'The highest tier whose threshold the points earned reach, or NULL.';
grant execute on function app.loyalty_tier(app.loyalty_programmes, bigint) to favcrm_member;

-- A customer's tier discount on services (basis points), 0 without a tier or a programme on.
create function app.loyalty_tier_discount_bp(p_customer uuid) returns int
language plpgsql stable set search_path = '' as $$
declare
  lp app.loyalty_programmes := app.loyalty_programme(auth.org_id());
begin
  if not lp.enabled or pg_catalog.jsonb_array_length(lp.tiers) = 0 then
    return 0;
  end if;
  return coalesce((app.loyalty_tier(lp, app.loyalty_earned_12m(auth.org_id(), p_customer, pg_catalog.now()))
                   ->> 'discountBp')::int, 0);
end
$$;
comment on function app.loyalty_tier_discount_bp(uuid) is 'The discount on services (basis points) of the customer''s loyalty tier now; 0 without one.';
grant execute on function app.loyalty_tier_discount_bp(uuid) to favcrm_member;

create function api.get_loyalty_balance(p jsonb) returns jsonb
language plpgsql stable set search_path = '' as $$
declare
  v_customer uuid := (p ->> 'customerId')::uuid;
  lp app.loyalty_programmes := app.loyalty_programme(auth.org_id());
  v_earned bigint;
  v_stamps bigint;
begin
  perform auth.require_scope('loyalty:read');
  perform app.require_customer(v_customer);
  v_earned := app.loyalty_earned_12m(auth.org_id(), v_customer, pg_catalog.now());
  v_stamps := app.loyalty_balance(auth.org_id(), v_customer, 'stamps', pg_catalog.now());
  return pg_catalog.jsonb_build_object(
    'customerId', v_customer,
    'points', app.loyalty_balance(auth.org_id(), v_customer, 'points', pg_catalog.now()),
    'stamps', v_stamps,
    'stampsPerCard', lp.stamps_per_card,
    'fullCards', case when lp.stamps_per_card is not null then v_stamps / lp.stamps_per_card else 0 end,
    'pointsEarned12Months', v_earned,
    'tier', app.loyalty_tier(lp, v_earned),
    'expiringSoon', (
      select coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('points', x.left_now, 'expiresAt', app.ts(x.expires_at))
                                           order by x.expires_at), '[]')
        from (select l.expires_at, app.loyalty_lot_left(l.org_id, l.id) as left_now
                from app.loyalty_entries l
               where l.org_id = auth.org_id() and l.customer_id = v_customer and l.unit = 'points' and l.lot_id = l.id
                 and l.expires_at > pg_catalog.now() and l.expires_at <= pg_catalog.now() + interval '30 days') x
       where x.left_now > 0));
end
$$;
comment on function api.get_loyalty_balance(jsonb) is 'A customer''s points and stamps now (expired points do not count), full stamp cards, points earned in the last 12 months, tier, and points expiring in the next 30 days.';
grant execute on function api.get_loyalty_balance(jsonb) to favcrm_member;

create function app.loyalty_entry_json(e app.loyalty_entries) returns json
language sql stable as $$
  select pg_catalog.json_build_object(
    'id', e.id,
    'customerId', e.customer_id,
    'unit', e.unit,
    'kind', e.kind,
    'quantity', e.quantity,
    'lotId', e.lot_id,
    'source', e.source,
    'sourceId', e.source_id,
    'expiresAt', app.ts(e.expires_at),
    'note', e.note,
    'createdByUserId', e.created_by,
    'createdAt', app.ts(e.created_at))
$$;
comment on function app.loyalty_entry_json(app.loyalty_entries) is 'The API representation of a loyalty ledger entry.';
grant execute on function app.loyalty_entry_json(app.loyalty_entries) to favcrm_member;

create function api.list_loyalty_ledger(p jsonb) returns json
language plpgsql stable set search_path = '' as $$
declare
  v_limit int := app.page_limit(p);
  v_after uuid := app.decode_cursor(p ->> 'cursor');
begin
  perform auth.require_scope('loyalty:read');
  perform app.require_customer((p ->> 'customerId')::uuid);
  return (
    select app.page_json(pg_catalog.json_agg(app.loyalty_entry_json(x.e) order by x.n) filter (where x.n <= v_limit),
                         (pg_catalog.array_agg(x.id) filter (where x.n = v_limit))[1],
                         pg_catalog.count(*) > v_limit)
      from (select e.id, e, pg_catalog.row_number() over (order by e.id desc) n
              from app.loyalty_entries e
             where e.org_id = auth.org_id() and e.customer_id = (p ->> 'customerId')::uuid
               and (v_after is null or e.id < v_after)
             order by e.id desc
             limit v_limit + 1) x);
end
$$;
comment on function api.list_loyalty_ledger(jsonb) is 'A customer''s loyalty ledger, newest first: earnings, reversals, redemptions, expiries and adjustments, each with its lot and source.';
grant execute on function api.list_loyalty_ledger(jsonb) to favcrm_member;

-- Every change to one customer's loyalty takes this lock first (earning, taking, expiring):
-- concurrent changes queue, and each sees what the one before it did.
create function app.lock_loyalty(p_customer uuid) returns void
language sql volatile as $$
  select pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended('loyalty ' || p_customer::text, 0))
$$;
comment on function app.lock_loyalty(uuid) is 'Takes the transaction-level lock that serialises changes to one customer''s loyalty.';
grant execute on function app.lock_loyalty(uuid) to favcrm_member;

-- Takes p_quantity of a unit from a customer's lots that expire first (valid now), one entry
-- per lot drawn on; returns what could not be taken (0 when all was).
create function app.take_loyalty(p_customer uuid, p_unit text, p_quantity bigint, p_kind text, p_source text,
                                 p_source_id uuid, p_note text, p_first_lot uuid) returns bigint
language plpgsql set search_path = '' as $$
declare
  r record;
  v_left bigint := p_quantity;
  v_take bigint;
begin
  for r in select l.id, app.loyalty_lot_left(l.org_id, l.id) as left_now
             from app.loyalty_entries l
            where l.org_id = auth.org_id() and l.customer_id = p_customer and l.unit = p_unit and l.lot_id = l.id
              and (l.expires_at is null or l.expires_at > pg_catalog.now())
            order by (l.id = p_first_lot) desc nulls last, l.expires_at nulls last, l.id loop
    exit when v_left = 0;
    continue when r.left_now <= 0;
    v_take := least(v_left, r.left_now);
    insert into app.loyalty_entries (org_id, customer_id, unit, kind, quantity, lot_id, source, source_id, note,
                                     created_by)
    values (auth.org_id(), p_customer, p_unit, p_kind, -v_take, r.id, p_source, p_source_id, p_note, auth.user_id());
    v_left := v_left - v_take;
  end loop;
  return v_left;
end
$$;
comment on function app.take_loyalty(uuid, text, bigint, text, text, uuid, text, uuid) is 'Takes points or stamps from a customer''s lots, the given lot first, then those that expire first; returns what was left untaken.';
grant execute on function app.take_loyalty(uuid, text, bigint, text, text, uuid, text, uuid) to favcrm_member;

create function api.adjust_points(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  v_customer uuid := (p ->> 'customerId')::uuid;
  v_quantity int := (p ->> 'quantity')::int;
  v_unit text := coalesce(p ->> 'unit', 'points');
  lp app.loyalty_programmes := app.loyalty_programme(auth.org_id());
  v_id uuid := app.uuid_v7();
  v_short bigint;
begin
  perform auth.require_scope('loyalty:write');
  if auth.role_rank(auth.role()) < auth.role_rank('manager') then
    raise exception using errcode = '42501', hint = 'forbidden', message = 'Only managers, admins and owners can adjust points.';
  end if;
  perform app.require_live_customer(v_customer);
  perform app.lock_loyalty(v_customer);
  if v_quantity > 0 then
    insert into app.loyalty_entries (org_id, id, customer_id, unit, kind, quantity, lot_id, source, source_id,
                                     expires_at, note, created_by)
    values (auth.org_id(), v_id, v_customer, v_unit, 'adjust', v_quantity, v_id, 'adjustment', v_id,
            case when v_unit = 'points' and lp.expiry_months is not null
                 then pg_catalog.now() + pg_catalog.make_interval(months => lp.expiry_months) end,
            p ->> 'reason', auth.user_id());
  else
    v_short := app.take_loyalty(v_customer, v_unit, -v_quantity, 'adjust', 'adjustment', v_id, p ->> 'reason', null);
    if v_short > 0 then
      raise exception using errcode = '55000', hint = 'insufficient_points', column = 'quantity',
        message = pg_catalog.format('The customer has %s %s; %s cannot be removed.', -v_quantity - v_short, v_unit,
                                    -v_quantity),
        detail = pg_catalog.jsonb_build_object('available', -v_quantity - v_short)::text;
    end if;
  end if;
  return api.get_loyalty_balance(pg_catalog.jsonb_build_object('customerId', v_customer));
end
$$;
comment on function api.adjust_points(jsonb) is 'Corrects a customer''s points (or stamps) with a reason (managers and above): a positive quantity is a new lot (expiring as earned points do), a negative one is taken from the lots that expire first (409 insufficient_points beyond the balance).';
grant execute on function api.adjust_points(jsonb) to favcrm_member;

-- ---------------------------------------------------------------------------------------
-- Earning from events (called by the triggers of V20, in the event's transaction). SECURITY
-- DEFINER: staff complete bookings and Stripe's events record payments, but neither writes
-- the ledger; these write what the programme says the event earns, for the claimed
-- organisation's own event only, once.
-- ---------------------------------------------------------------------------------------
create function app.loyalty_round(p_value numeric, p_rounding text) returns bigint
language sql immutable parallel safe as $$
  select case p_rounding when 'up' then pg_catalog.ceil(p_value) when 'nearest' then pg_catalog.round(p_value)
                         else pg_catalog.floor(p_value) end::bigint
$$;
comment on function app.loyalty_round(numeric, text) is 'Rounds points down (default), to the nearest (half away from zero) or up.';
grant execute on function app.loyalty_round(numeric, text) to favcrm_member;

create function auth.earn_loyalty_for_payment(p_payment uuid) returns void
language plpgsql security definer set search_path = '' as $$
declare
  pm app.payments;
  lp app.loyalty_programmes;
  v_tier jsonb;
  v_points bigint;
  v_id uuid := app.uuid_v7();
begin
  -- Most payments are of organisations without a programme: one index probe and done.
  select * into lp from app.loyalty_programmes where org_id = auth.org_id();
  if not found or not lp.enabled or lp.points_per_unit = 0 then
    return;
  end if;
  select * into pm from app.payments where org_id = auth.org_id() and id = p_payment;
  if not found or pm.method = 'credit_balance' then
    return;
  end if;
  perform app.lock_loyalty(pm.customer_id);
  v_tier := app.loyalty_tier(lp, app.loyalty_earned_12m(pm.org_id, pm.customer_id, pg_catalog.now()));
  v_points := app.loyalty_round(pm.amount::numeric / (10::numeric ^ app.currency_exponent(pm.currency))
                                * lp.points_per_unit * coalesce((v_tier ->> 'multiplierBp')::numeric, 10000) / 10000,
                                lp.rounding);
  if v_points <= 0 then
    return;
  end if;
  insert into app.loyalty_entries (org_id, id, customer_id, unit, kind, quantity, lot_id, source, source_id, expires_at)
  values (pm.org_id, v_id, pm.customer_id, 'points', 'earn', v_points, v_id, 'payment', pm.id,
          case when lp.expiry_months is not null
               then pg_catalog.now() + pg_catalog.make_interval(months => lp.expiry_months) end)
  on conflict (org_id, unit, source, source_id) where kind = 'earn' do nothing;
  perform app.loyalty_note_tier(pm.org_id, pm.customer_id, pg_catalog.now());
end
$$;
comment on function auth.earn_loyalty_for_payment(uuid) is 'What a payment earns by the programme (amount in currency units × points per unit × tier multiplier, rounded as set), once per payment. Acts for the claimed organisation only.';
revoke all on function auth.earn_loyalty_for_payment(uuid) from public;
grant execute on function auth.earn_loyalty_for_payment(uuid) to favcrm_member;

create function auth.reverse_loyalty_for_refund(p_refund uuid) returns void
language plpgsql security definer set search_path = '' as $$
declare
  r app.refunds;
  pm app.payments;
  v_lot app.loyalty_entries;
  v_refunded bigint;
  v_target bigint;
  v_done bigint;
begin
  if not exists (select from app.loyalty_entries e where e.org_id = auth.org_id() and e.kind = 'earn' and e.unit = 'points'
                                                     and e.source = 'payment'
                                                     and e.source_id = (select x.payment_id from app.refunds x
                                                                         where x.org_id = auth.org_id() and x.id = p_refund)) then
    return;
  end if;
  select * into r from app.refunds where org_id = auth.org_id() and id = p_refund;
  if not found then
    return;
  end if;
  select * into pm from app.payments where org_id = r.org_id and id = r.payment_id;
  select * into v_lot from app.loyalty_entries
   where org_id = r.org_id and unit = 'points' and kind = 'earn' and source = 'payment' and source_id = pm.id;
  if not found then
    return;
  end if;
  perform app.lock_loyalty(pm.customer_id);
  -- Cumulative, so that refunds in parts take back exactly what one refund of the whole would.
  select coalesce(sum(x.amount), 0) into v_refunded from app.refunds x
   where x.org_id = r.org_id and x.payment_id = pm.id and x.status = 'succeeded';
  v_target := app.div_round(v_lot.quantity::numeric * v_refunded, pm.amount);
  select coalesce(-sum(e.quantity), 0) into v_done from app.loyalty_entries e
   where e.org_id = r.org_id and e.kind = 'reverse' and e.source = 'refund'
     and e.source_id in (select x.id from app.refunds x where x.org_id = r.org_id and x.payment_id = pm.id);
  if v_target - v_done > 0 then
    perform app.take_loyalty(pm.customer_id, 'points', v_target - v_done, 'reverse', 'refund', r.id, null, v_lot.id);
    perform app.loyalty_note_tier(pm.org_id, pm.customer_id, pg_catalog.now());
  end if;
end
$$;
comment on function auth.reverse_loyalty_for_refund(uuid) is 'Takes back the share of a payment''s points that its refunds (cumulatively) stand for: from the payment''s lot first, then from the lots that expire first; once per refund and lot. Acts for the claimed organisation only.';
revoke all on function auth.reverse_loyalty_for_refund(uuid) from public;
grant execute on function auth.reverse_loyalty_for_refund(uuid) to favcrm_member;

-- What a credit note sent to the customer's balance (money returned as store credit) takes
-- back: round(points the invoice's payments earned × credited to balance ÷ paid), from the
-- newest payment's lot first, then from the lots that expire first; once per credit note.
create function auth.reverse_loyalty_for_credit_note(p_credit_note uuid) returns void
language plpgsql security definer set search_path = '' as $$
declare
  cn app.credit_notes;
  v_earned bigint;
  v_paid bigint;
  v_lot uuid;
  v_customer uuid;
begin
  select * into cn from app.credit_notes where org_id = auth.org_id() and id = p_credit_note;
  if not found or cn.balance_amount = 0 then
    return;
  end if;
  select coalesce(sum(l.quantity), 0), coalesce(sum(pm.amount), 0), (pg_catalog.array_agg(l.id order by pm.id desc))[1]
    into v_earned, v_paid, v_lot
    from app.payments pm
    join app.loyalty_entries l on l.org_id = pm.org_id and l.kind = 'earn' and l.unit = 'points'
                              and l.source = 'payment' and l.source_id = pm.id
   where pm.org_id = cn.org_id and pm.invoice_id = cn.invoice_id;
  if v_earned = 0 or v_paid = 0 then
    return;
  end if;
  v_customer := cn.customer_id;
  perform app.lock_loyalty(v_customer);
  if not exists (select from app.loyalty_entries e where e.org_id = cn.org_id and e.source = 'credit_note'
                                                    and e.source_id = cn.id) then
    perform app.take_loyalty(v_customer, 'points', least(app.div_round(v_earned::numeric * cn.balance_amount, v_paid), v_earned),
                             'reverse', 'credit_note', cn.id, null, v_lot);
    perform app.loyalty_note_tier(cn.org_id, v_customer, pg_catalog.now());
  end if;
end
$$;
comment on function auth.reverse_loyalty_for_credit_note(uuid) is 'Takes back the share of an invoice''s earned points that a credit note credited to the customer''s balance: once per credit note, for the claimed organisation only.';
revoke all on function auth.reverse_loyalty_for_credit_note(uuid) from public;
grant execute on function auth.reverse_loyalty_for_credit_note(uuid) to favcrm_member;

create function auth.earn_loyalty_for_booking(p_booking uuid) returns void
language plpgsql security definer set search_path = '' as $$
declare
  b app.bookings;
  lp app.loyalty_programmes;
  v_points bigint;
  v_id uuid;
begin
  select * into lp from app.loyalty_programmes where org_id = auth.org_id();
  if not found or not lp.enabled then
    return;
  end if;
  select * into b from app.bookings where org_id = auth.org_id() and id = p_booking;
  if not found or b.status <> 'completed' then
    return;
  end if;
  perform app.lock_loyalty(b.customer_id);
  v_points := coalesce((lp.booking_points_overrides ->> b.service_id::text)::bigint, lp.points_per_booking);
  if v_points > 0 then
    v_id := app.uuid_v7();
    insert into app.loyalty_entries (org_id, id, customer_id, unit, kind, quantity, lot_id, source, source_id, expires_at)
    values (b.org_id, v_id, b.customer_id, 'points', 'earn', v_points, v_id, 'booking', b.id,
            case when lp.expiry_months is not null
                 then pg_catalog.now() + pg_catalog.make_interval(months => lp.expiry_months) end)
    on conflict (org_id, unit, source, source_id) where kind = 'earn' do nothing;
    perform app.loyalty_note_tier(b.org_id, b.customer_id, pg_catalog.now());
  end if;
  if lp.stamps_per_card is not null and (lp.stamp_service_ids is null or b.service_id = any (lp.stamp_service_ids)) then
    v_id := app.uuid_v7();
    insert into app.loyalty_entries (org_id, id, customer_id, unit, kind, quantity, lot_id, source, source_id)
    values (b.org_id, v_id, b.customer_id, 'stamps', 'earn', 1, v_id, 'booking', b.id)
    on conflict (org_id, unit, source, source_id) where kind = 'earn' do nothing;
  end if;
end
$$;
comment on function auth.earn_loyalty_for_booking(uuid) is 'What a completed booking earns by the programme: its service''s points per booking and, on an eligible service, a stamp; once per booking. Acts for the claimed organisation only.';
revoke all on function auth.earn_loyalty_for_booking(uuid) from public;
grant execute on function auth.earn_loyalty_for_booking(uuid) to favcrm_member;

-- ---------------------------------------------------------------------------------------
-- Tiers as they change
-- ---------------------------------------------------------------------------------------
-- Brings a customer's tier up to date as of a time: the tier the ledger makes it, a promotion
-- or demotion event when it changed, and when to look again (when the oldest earning of the
-- 12 months leaves them). Called where points are earned or taken back, and by the scheduler.
create function app.loyalty_note_tier(p_org uuid, p_customer uuid, p_at timestamptz) returns void
language plpgsql set search_path = '' as $$
declare
  lp app.loyalty_programmes := app.loyalty_programme(p_org);
  m app.loyalty_members;
  v_earned bigint;
  v_tier jsonb;
  v_old jsonb;
  v_review timestamptz;
begin
  if pg_catalog.jsonb_array_length(lp.tiers) = 0 then
    return;
  end if;
  v_earned := app.loyalty_earned_12m(p_org, p_customer, p_at);
  v_tier := app.loyalty_tier(lp, v_earned);
  select pg_catalog.min(l.created_at) + interval '12 months' into v_review
    from app.loyalty_entries l
   where l.org_id = p_org and l.customer_id = p_customer and l.unit = 'points' and l.kind = 'earn'
     and l.created_at > p_at - interval '12 months' and l.created_at <= p_at;
  select * into m from app.loyalty_members where org_id = p_org and customer_id = p_customer for update;
  if not found then
    insert into app.loyalty_members (org_id, customer_id, tier, review_at)
    values (p_org, p_customer, null, null)
    returning * into m;
  end if;
  if m.tier is distinct from v_tier ->> 'name' then
    select t into v_old from pg_catalog.jsonb_array_elements(lp.tiers) t where t ->> 'name' = m.tier;
    insert into app.loyalty_tier_events (org_id, customer_id, from_tier, to_tier, direction, points_earned_12_months, at)
    values (p_org, p_customer, m.tier, v_tier ->> 'name',
            case when coalesce((v_tier ->> 'threshold')::bigint, -1) > coalesce((v_old ->> 'threshold')::bigint, -1)
                 then 'promotion' else 'demotion' end,
            v_earned, p_at);
  end if;
  if (m.tier, m.review_at) is distinct from (v_tier ->> 'name', v_review) then
    update app.loyalty_members set tier = v_tier ->> 'name', review_at = v_review, updated_at = pg_catalog.now()
     where org_id = m.org_id and id = m.id;
  end if;
end
$$;
comment on function app.loyalty_note_tier(uuid, uuid, timestamptz) is 'Updates a customer''s tier as of a time (and when to review it again), recording a promotion or demotion event when it changed.';
grant execute on function app.loyalty_note_tier(uuid, uuid, timestamptz) to favcrm_member;

-- The scheduler's questions across organisations (ids only) and its doors (acting for one
-- organisation as the member role, as with subscriptions).
create function auth.loyalty_reviews_due(p_as_of timestamptz, p_limit int) returns table (org_id uuid, customer_id uuid)
language sql stable security definer set search_path = '' as $$
  select m.org_id, m.customer_id from app.loyalty_members m
   where m.review_at <= p_as_of order by m.review_at limit p_limit
$$;
comment on function auth.loyalty_reviews_due(timestamptz, int) is 'Customers whose tier must be looked at again by a time (an earning leaving the rolling 12 months): organisation and customer only.';
revoke all on function auth.loyalty_reviews_due(timestamptz, int) from public;
grant execute on function auth.loyalty_reviews_due(timestamptz, int) to favcrm_authenticator;

create function auth.review_loyalty_tier(p_org uuid, p_customer uuid, p_as_of timestamptz) returns void
language plpgsql volatile set search_path = '' as $$
begin
  perform auth.act_for_scheduler(p_org, 'review_loyalty_tier');
  perform app.lock_loyalty(p_customer);
  perform app.loyalty_note_tier(p_org, p_customer, p_as_of);
end
$$;
comment on function auth.review_loyalty_tier(uuid, uuid, timestamptz) is 'The scheduler''s review of one customer''s tier as of a time (a demotion when earnings left the 12 months), acting for the organisation.';
revoke all on function auth.review_loyalty_tier(uuid, uuid, timestamptz) from public;
grant execute on function auth.review_loyalty_tier(uuid, uuid, timestamptz) to favcrm_member;

create function auth.lapsed_loyalty_lots(p_as_of timestamptz, p_limit int) returns table (org_id uuid, id uuid)
language sql stable security definer set search_path = '' as $$
  select l.org_id, l.id from app.loyalty_entries l
   where l.expires_at <= p_as_of and l.lot_id = l.id
     and not exists (select from app.loyalty_entries e
                      where e.org_id = l.org_id and e.lot_id = l.id and e.kind = 'expire')
   order by l.expires_at
   limit p_limit
$$;
comment on function auth.lapsed_loyalty_lots(timestamptz, int) is 'Loyalty lots expired by a time whose expiry is not in the ledger yet, oldest first: organisation and id only.';
revoke all on function auth.lapsed_loyalty_lots(timestamptz, int) from public;
grant execute on function auth.lapsed_loyalty_lots(timestamptz, int) to favcrm_authenticator;

-- Writes the expiry of lapsed lots: one expire entry each for what it had left (0 when it was
-- used up), passing by customers whose loyalty is being changed right now.
create function auth.expire_loyalty_lots(p_org uuid, p_ids uuid[], p_as_of timestamptz) returns int
language plpgsql volatile set search_path = '' as $$
declare
  l app.loyalty_entries;
  v_n int := 0;
begin
  perform auth.act_for_scheduler(p_org, 'expire_points');
  for l in select * from app.loyalty_entries x
            where x.org_id = p_org and x.id = any (p_ids) and x.lot_id = x.id and x.expires_at <= p_as_of
            order by x.customer_id, x.id loop
    continue when not pg_catalog.pg_try_advisory_xact_lock(pg_catalog.hashtextextended('loyalty ' || l.customer_id::text, 0));
    insert into app.loyalty_entries (org_id, customer_id, unit, kind, quantity, lot_id, source, source_id, note)
    values (l.org_id, l.customer_id, l.unit, 'expire', -greatest(app.loyalty_lot_left(l.org_id, l.id), 0), l.id,
            'expiry', l.id, 'Expired ' || app.ts(l.expires_at))
    on conflict do nothing;
    if found then
      v_n := v_n + 1;
    end if;
  end loop;
  return v_n;
end
$$;
comment on function auth.expire_loyalty_lots(uuid, uuid[], timestamptz) is 'The scheduler''s recording of an organisation''s lapsed loyalty lots (what each had left), acting for the organisation; returns how many it wrote.';
revoke all on function auth.expire_loyalty_lots(uuid, uuid[], timestamptz) from public;
grant execute on function auth.expire_loyalty_lots(uuid, uuid[], timestamptz) to favcrm_member;

-- ---------------------------------------------------------------------------------------
-- Rewards and redemptions
-- ---------------------------------------------------------------------------------------
create function app.loyalty_reward_json(rw app.loyalty_rewards) returns jsonb
language sql stable as $$
  select pg_catalog.jsonb_build_object(
    'id', rw.id,
    'name', rw.name,
    'description', rw.description,
    'costPoints', rw.cost_points,
    'costStampCard', rw.cost_stamp_card,
    'gives', rw.gives,
    'amount', case when rw.amount is not null then app.money(rw.amount, rw.currency) end,
    'serviceId', rw.service_id,
    'productId', rw.product_id,
    'status', case when rw.archived_at is null then 'active' else 'archived' end,
    'createdAt', app.ts(rw.created_at),
    'archivedAt', app.ts(rw.archived_at))
$$;
comment on function app.loyalty_reward_json(app.loyalty_rewards) is 'The API representation of a loyalty reward.';
grant execute on function app.loyalty_reward_json(app.loyalty_rewards) to favcrm_member;

create function app.require_loyalty_manager(p_action text) returns void
language plpgsql stable set search_path = '' as $$
begin
  perform auth.require_scope('loyalty:write');
  if auth.role_rank(auth.role()) < auth.role_rank('manager') then
    raise exception using errcode = '42501', hint = 'forbidden',
      message = pg_catalog.format('Only managers, admins and owners can %s.', p_action);
  end if;
end
$$;
comment on function app.require_loyalty_manager(text) is 'Raises 42501 unless the caller holds loyalty:write and is a manager, admin or owner.';
grant execute on function app.require_loyalty_manager(text) to favcrm_member;

create function api.create_reward(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  rw app.loyalty_rewards;
  v_gives text := p ->> 'gives';
begin
  perform app.require_loyalty_manager('add rewards');
  if (p ? 'costPoints') = coalesce((p ->> 'costStampCard')::boolean, false) then
    perform app.raise_invalid('costPoints', 'points_or_stamp_card', 'A reward costs points (costPoints) or a full stamp card (costStampCard), one of them.');
  end if;
  if v_gives = 'balance_credit' and p -> 'amount' is null then
    perform app.raise_invalid('amount', 'required', 'A reward of balance credit needs an amount.');
  elsif v_gives = 'service_credit' and p ->> 'serviceId' is null then
    perform app.raise_invalid('serviceId', 'required', 'A reward of a free session names its serviceId.');
  elsif v_gives = 'product' and p ->> 'productId' is null then
    perform app.raise_invalid('productId', 'required', 'A reward of a product names its productId.');
  end if;
  if v_gives = 'service_credit' then
    perform app.service_for((p ->> 'serviceId')::uuid, false);
  elsif v_gives = 'product' then
    perform app.product_for((p ->> 'productId')::uuid, false);
  end if;
  insert into app.loyalty_rewards (org_id, name, description, cost_points, cost_stamp_card, gives, amount, currency,
                                   service_id, product_id)
  select auth.org_id(), pg_catalog.btrim(p ->> 'name'), p ->> 'description', (p ->> 'costPoints')::int,
         coalesce((p ->> 'costStampCard')::boolean, false), v_gives,
         case when v_gives = 'balance_credit' then (p #>> '{amount,amount}')::bigint end,
         case when v_gives = 'balance_credit'
              then app.require_currency(coalesce(p #>> '{amount,currency}', o.default_currency), 'amount.currency') end,
         case when v_gives = 'service_credit' then (p ->> 'serviceId')::uuid end,
         case when v_gives = 'product' then (p ->> 'productId')::uuid end
    from app.organisations o where o.id = auth.org_id()
  returning * into rw;
  return app.loyalty_reward_json(rw);
end
$$;
comment on function api.create_reward(jsonb) is 'Adds a reward (managers and above): what it costs (points, or a full stamp card) and what it gives (credit on the customer''s balance, a free session of a service, or a product).';
grant execute on function api.create_reward(jsonb) to favcrm_member;

create function api.list_rewards(p jsonb) returns jsonb
language plpgsql stable set search_path = '' as $$
begin
  perform auth.require_scope('loyalty:read');
  return pg_catalog.jsonb_build_object('items', (
    select coalesce(pg_catalog.jsonb_agg(app.loyalty_reward_json(rw) order by rw.name, rw.id), '[]')
      from app.loyalty_rewards rw
     where rw.org_id = auth.org_id()
       and (rw.archived_at is null or coalesce((p ->> 'includeArchived')::boolean, false))));
end
$$;
comment on function api.list_rewards(jsonb) is 'The rewards catalogue by name (active rewards unless includeArchived).';
grant execute on function api.list_rewards(jsonb) to favcrm_member;

create function api.archive_reward(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  rw app.loyalty_rewards;
begin
  perform app.require_loyalty_manager('archive rewards');
  select * into rw from app.loyalty_rewards where org_id = auth.org_id() and id = (p ->> 'rewardId')::uuid for update;
  if not found then
    perform app.not_found('reward');
  end if;
  if rw.archived_at is null then
    update app.loyalty_rewards set archived_at = pg_catalog.now() where org_id = rw.org_id and id = rw.id
    returning * into rw;
  end if;
  return app.loyalty_reward_json(rw);
end
$$;
comment on function api.archive_reward(jsonb) is 'Takes a reward out of the catalogue; redemptions made stay. Archiving twice changes nothing.';
grant execute on function api.archive_reward(jsonb) to favcrm_member;

create function app.loyalty_redemption_json(r app.loyalty_redemptions) returns jsonb
language sql stable as $$
  select pg_catalog.jsonb_build_object(
    'id', r.id,
    'customerId', r.customer_id,
    'rewardId', r.reward_id,
    'reward', (select pg_catalog.jsonb_build_object('id', rw.id, 'name', rw.name, 'gives', rw.gives,
                                                    'amount', case when rw.amount is not null then app.money(rw.amount, rw.currency) end)
                 from app.loyalty_rewards rw where rw.org_id = r.org_id and rw.id = r.reward_id),
    'status', r.status,
    'unit', r.unit,
    'cost', r.cost,
    'creditGrantId', r.credit_grant_id,
    'orderId', r.order_id,
    'reason', r.reason,
    'createdAt', app.ts(r.created_at),
    'reversedAt', app.ts(r.reversed_at))
$$;
comment on function app.loyalty_redemption_json(app.loyalty_redemptions) is 'The API representation of a redemption: the reward, what it cost and what it gave.';
grant execute on function app.loyalty_redemption_json(app.loyalty_redemptions) to favcrm_member;

-- Redeems under the customer's loyalty lock: concurrent redemptions queue, and each sees the
-- balance the one before it left, so no point is spent twice.
create function api.redeem_reward(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  v_customer uuid := (p ->> 'customerId')::uuid;
  lp app.loyalty_programmes := app.loyalty_programme(auth.org_id());
  rw app.loyalty_rewards;
  r app.loyalty_redemptions;
  v_unit text;
  v_cost int;
  v_have bigint;
  v_order jsonb;
begin
  perform app.require_loyalty_manager('redeem rewards');
  perform app.require_live_customer(v_customer);
  select * into rw from app.loyalty_rewards where org_id = auth.org_id() and id = (p ->> 'rewardId')::uuid;
  if not found then
    perform app.not_found('reward', 'rewardId');
  end if;
  perform auth.require_confirmation('redeem_reward');
  if rw.archived_at is not null then
    perform app.raise_invalid('rewardId', 'reward_archived', pg_catalog.format('%s is no longer offered.', rw.name));
  end if;
  if rw.cost_stamp_card and lp.stamps_per_card is null then
    perform app.raise_invalid('rewardId', 'no_stamp_cards', 'The programme has no stamp cards.');
  end if;
  v_unit := case when rw.cost_stamp_card then 'stamps' else 'points' end;
  v_cost := coalesce(rw.cost_points, lp.stamps_per_card);
  perform app.lock_loyalty(v_customer);
  v_have := app.loyalty_balance(auth.org_id(), v_customer, v_unit, pg_catalog.now());
  if v_have < v_cost then
    raise exception using errcode = '55000', hint = 'insufficient_points', column = 'rewardId',
      message = pg_catalog.format('The reward costs %s %s; the customer has %s.', v_cost, v_unit, v_have),
      detail = pg_catalog.jsonb_build_object('available', v_have, 'cost', v_cost)::text;
  end if;
  insert into app.loyalty_redemptions (org_id, customer_id, reward_id, unit, cost, reason, created_by)
  values (auth.org_id(), v_customer, rw.id, v_unit, v_cost, p ->> 'reason', auth.user_id())
  returning * into r;
  perform app.take_loyalty(v_customer, v_unit, v_cost, 'redeem', 'redemption', r.id, rw.name, null);
  if rw.gives = 'balance_credit' then
    insert into app.customer_balance_entries (org_id, customer_id, currency, amount, source_kind, source_id)
    values (r.org_id, v_customer, rw.currency, rw.amount, 'reward', r.id);
  elsif rw.gives = 'service_credit' then
    perform app.lock_credits(v_customer);
    update app.loyalty_redemptions
       set credit_grant_id = (app.grant_credits(v_customer, 'reward', rw.name, 1, array[rw.service_id], null, null, null,
                                                'Loyalty reward')).id
     where org_id = r.org_id and id = r.id
    returning * into r;
  else
    v_order := api.create_order(pg_catalog.jsonb_build_object(
      'customerId', v_customer, 'memo', 'Loyalty reward: ' || rw.name,
      'lines', pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object('productId', rw.product_id, 'unitAmount', 0))));
    update app.loyalty_redemptions set order_id = (v_order ->> 'id')::uuid where org_id = r.org_id and id = r.id
    returning * into r;
  end if;
  return app.loyalty_redemption_json(r);
end
$$;
comment on function api.redeem_reward(jsonb) is 'Spends a customer''s points (or a full stamp card) on a reward, under the customer''s lock (409 insufficient_points), and gives it: credit on the balance, a free session, or a product as a free order. Destructive for agents: confirmed first.';
grant execute on function api.redeem_reward(jsonb) to favcrm_member;

create function api.reverse_redemption(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  r app.loyalty_redemptions;
  rw app.loyalty_rewards;
  g app.credit_grants;
  o app.orders;
begin
  perform app.require_loyalty_manager('reverse redemptions');
  select * into r from app.loyalty_redemptions
   where org_id = auth.org_id() and id = (p ->> 'redemptionId')::uuid for update;
  if not found then
    perform app.not_found('redemption');
  end if;
  perform auth.require_confirmation('reverse_redemption');
  if r.status = 'reversed' then
    return app.loyalty_redemption_json(r);
  end if;
  select * into rw from app.loyalty_rewards where org_id = r.org_id and id = r.reward_id;
  perform app.lock_loyalty(r.customer_id);
  -- What it gave comes back first; a reward already used cannot be.
  if rw.gives = 'balance_credit' then
    perform from app.customers c where c.org_id = r.org_id and c.id = r.customer_id for update;
    if app.customer_balance(r.customer_id, rw.currency) < rw.amount then
      raise exception using errcode = '55000', hint = 'reward_used',
        message = 'The credit the reward gave has been spent: it cannot be taken back.';
    end if;
    insert into app.customer_balance_entries (org_id, customer_id, currency, amount, source_kind, source_id)
    values (r.org_id, r.customer_id, rw.currency, -rw.amount, 'reward_reversed', r.id);
  elsif rw.gives = 'service_credit' then
    perform app.lock_credits(r.customer_id);
    select * into g from app.credit_grants where org_id = r.org_id and id = r.credit_grant_id;
    if app.credits_left(g) < 1 then
      raise exception using errcode = '55000', hint = 'reward_used',
        message = 'The free session the reward gave has been booked: cancel that booking first.';
    end if;
    insert into app.credit_entries (org_id, grant_id, customer_id, kind, quantity, note, created_by)
    values (r.org_id, g.id, r.customer_id, 'adjust', -1, 'Loyalty reward reversed', auth.user_id());
  else
    select * into o from app.orders where org_id = r.org_id and id = r.order_id for update;
    if o.status = 'fulfilled' then
      raise exception using errcode = '55000', hint = 'reward_used',
        message = 'The product the reward gave has been handed over: it cannot be taken back.';
    end if;
    perform app.cancel_open_order(o);
  end if;
  -- The points (or stamps) go back to the lots they came from (an expired lot keeps them expired).
  insert into app.loyalty_entries (org_id, customer_id, unit, kind, quantity, lot_id, source, source_id, note, created_by)
  select e.org_id, e.customer_id, e.unit, 'reverse', -e.quantity, e.lot_id, 'redemption', r.id, 'Redemption reversed',
         auth.user_id()
    from app.loyalty_entries e
   where e.org_id = r.org_id and e.kind = 'redeem' and e.source = 'redemption' and e.source_id = r.id;
  update app.loyalty_redemptions set status = 'reversed', reversed_at = pg_catalog.now(), reason = coalesce(p ->> 'reason', reason)
   where org_id = r.org_id and id = r.id
  returning * into r;
  return app.loyalty_redemption_json(r);
end
$$;
comment on function api.reverse_redemption(jsonb) is 'Takes a redemption back (managers and above): what the reward gave (refused when already used: reward_used), then the points or stamps, back to the lots they came from. Reversing twice changes nothing.';
grant execute on function api.reverse_redemption(jsonb) to favcrm_member;
