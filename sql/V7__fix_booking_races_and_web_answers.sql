-- Fixes from the outside review: bookings that lost a race they should have won, and a web
-- page's booking answer that told whether a customer already existed.

-- ---------------------------------------------------------------------------------------
-- Resources are chosen under their lock
-- ---------------------------------------------------------------------------------------

-- Whether a resource is free over a range, whoever's bookings hold it (staff callers cannot
-- read colleagues' bookings, so this looks past RLS, for the claimed organisation only).
create function auth.resource_free(p_resource uuid, p_range tstzrange, p_ignore uuid) returns boolean
language sql stable security definer set search_path = '' as $$
  select not exists (select from app.booking_resources br
                      where br.org_id = auth.org_id() and br.resource_id = p_resource and br.active
                        and br.blocked && p_range and br.booking_id is distinct from p_ignore)
     and not exists (select from app.class_sessions cs
                      where cs.org_id = auth.org_id() and cs.resource_id = p_resource and cs.active
                        and cs.blocked && p_range)
$$;
comment on function auth.resource_free(uuid, tstzrange, uuid) is 'Whether no active booking (but p_ignore, the booking being rescheduled) and no class session of the claimed organisation holds the resource during the range.';
revoke all on function auth.resource_free(uuid, tstzrange, uuid) from public;
grant execute on function auth.resource_free(uuid, tstzrange, uuid) to favcrm_member;

-- Takes a slot: tries each staff member who can take it, and for each needed resource type
-- each free resource of that type, checking it again once its calendar is locked, until the
-- database accepts one. (Choosing the resources before the lock made two bookings at the same
-- time pick the same room and the second give up, though another room was free.)
create or replace function app.take_slot(s app.services, p_start timestamptz, p_staff uuid, p_resource uuid,
                                         p_customer uuid, p_status text, p_notes text, p_from uuid)
returns app.bookings
language plpgsql set search_path = '' as $$
declare
  v_min_start timestamptz := pg_catalog.now() + pg_catalog.make_interval(mins => s.min_notice_minutes);
  c record;
  b app.bookings;
  v_end timestamptz := p_start + pg_catalog.make_interval(mins => s.duration_minutes);
  v_blocked tstzrange := pg_catalog.tstzrange(p_start - pg_catalog.make_interval(mins => s.buffer_before_minutes),
                                              v_end + pg_catalog.make_interval(mins => s.buffer_after_minutes));
  v_type text;
  v_pick uuid;
  v_held uuid[];
  v_resource uuid;
begin
  if p_start < pg_catalog.now() then
    raise exception using errcode = '22023', hint = 'in_the_past', column = 'start',
      message = 'That start time is in the past.';
  end if;
  if p_start < v_min_start then
    raise exception using errcode = '22023', hint = 'too_soon', column = 'start',
      message = pg_catalog.format('Bookings need %s minutes'' notice.', s.min_notice_minutes);
  end if;
  if p_start > pg_catalog.now() + pg_catalog.make_interval(days => s.max_advance_days) then
    raise exception using errcode = '22023', hint = 'too_far_ahead', column = 'start',
      message = pg_catalog.format('Bookings open %s days ahead.', s.max_advance_days);
  end if;
  perform app.require_on_grid(s, p_start, p_staff);
  for c in
    select o.staff_id, st.user_id
      from auth.open_slots(s.id, p_start, p_start + interval '1 second', p_staff, p_resource, p_from) o
      join app.staff st on st.org_id = s.org_id and st.id = o.staff_id
     where o.starts_at = p_start
     -- "any": the least busy that day first.
     order by (select count(*) from app.bookings x
                where x.org_id = s.org_id and x.staff_id = o.staff_id and x.active
                  and x.starts_at >= p_start - interval '12 hours' and x.starts_at < p_start + interval '12 hours'), st.name
  loop
    -- Appointments and class sessions live in different tables: both take these locks before
    -- they check each other, so neither can slip past the other.
    perform app.lock_calendar(s.org_id, c.staff_id, v_blocked);
    continue when exists (
      select from app.class_sessions cs
       where cs.org_id = s.org_id and cs.active and cs.blocked && v_blocked and cs.staff_id = c.staff_id);
    -- One resource per needed type (types in order, resources by name: every booking locks in
    -- the same order), free once locked: a statement after the lock sees what the booking that
    -- held it committed.
    v_held := '{}';
    for v_type in select t from pg_catalog.unnest(s.resource_types) t order by t loop
      v_pick := null;
      for v_resource in
        select r.id from app.resources r
         where r.org_id = s.org_id and r.archived_at is null and r.type = v_type
           and (p_resource is null or r.id = p_resource
                or not exists (select from app.resources x where x.org_id = s.org_id and x.id = p_resource and x.type = r.type))
         order by r.name, r.id
      loop
        continue when not auth.resource_free(v_resource, v_blocked, p_from);
        perform app.lock_calendar(s.org_id, v_resource, v_blocked);
        if auth.resource_free(v_resource, v_blocked, p_from) then
          v_pick := v_resource;
          exit;
        end if;
      end loop;
      exit when v_pick is null;
      v_held := v_held || v_pick;
    end loop;
    continue when pg_catalog.cardinality(v_held) < pg_catalog.cardinality(s.resource_types);
    begin
      insert into app.bookings (org_id, service_id, staff_id, staff_user_id, customer_id, status, starts_at, ends_at,
                                blocked, price_amount, currency, notes, rescheduled_from_id)
      values (s.org_id, s.id, c.staff_id, c.user_id, p_customer, p_status, p_start, v_end, v_blocked,
              s.price_amount, s.currency, p_notes, p_from)
      returning * into b;
      insert into app.booking_resources (org_id, booking_id, resource_id, staff_user_id, blocked, active)
      select b.org_id, b.id, r, b.staff_user_id, b.blocked, true from pg_catalog.unnest(v_held) r;
      return b;
    exception when exclusion_violation then
      -- Taken by a concurrent booking since we looked: try the next staff member.
      null;
    end;
  end loop;
  perform app.raise_slot_taken(s, p_start, p_staff, p_resource, p_from);
  return null;
end
$$;
comment on function app.take_slot(app.services, timestamptz, uuid, uuid, uuid, text, text, uuid) is 'Books p_start for the first staff member (p_staff, or the least busy that day) and one free resource per needed type, each chosen under its calendar lock; 409 slot_taken with nearby slots when none can be had.';

-- ---------------------------------------------------------------------------------------
-- The customer of a booking, found or created once however many bookings ask at once
-- ---------------------------------------------------------------------------------------
create or replace function app.booking_customer(p jsonb) returns uuid
language plpgsql set search_path = '' as $$
declare
  v_id uuid;
  v_email text := app.normalize_email(p #>> '{customer,email}');
  v_phone text := app.normalize_phone(p #>> '{customer,phone}');
begin
  if p ->> 'customerId' is not null then
    select c.id into v_id from app.customers c
     where c.org_id = auth.org_id() and c.id = (p ->> 'customerId')::uuid and c.deleted_at is null;
    if not found then
      perform app.not_found('customer');
    end if;
  elsif p -> 'customer' is not null and p -> 'customer' <> 'null'::jsonb then
    if v_email is null and v_phone is not null then
      -- Phones are not unique: the same new number twice at once is serialised per
      -- organisation and number, so that it becomes one customer.
      perform pg_catalog.pg_advisory_xact_lock(
        pg_catalog.hashtextextended('favcrm.customer.phone.' || auth.org_id()::text || v_phone, 0));
    end if;
    if v_email is not null then
      select c.id into v_id from app.customers c
       where c.org_id = auth.org_id() and c.email = v_email and c.deleted_at is null;
    end if;
    if v_id is null and v_phone is not null then
      select c.id into v_id from app.customers c
       where c.org_id = auth.org_id() and c.phone = v_phone and c.deleted_at is null
       order by c.id limit 1;
    end if;
    if v_id is null then
      -- A concurrent booking may be creating the same customer: the insert then waits for it
      -- and does nothing, and the select after it (a new snapshot) finds that customer.
      insert into app.customers (org_id, name, email, phone, source)
      values (auth.org_id(), pg_catalog.btrim(p #>> '{customer,name}'), v_email, v_phone, 'booking')
      on conflict (org_id, email) where deleted_at is null and email is not null do nothing
      returning id into v_id;
      if v_id is null then
        select c.id into v_id from app.customers c
         where c.org_id = auth.org_id() and c.email = v_email and c.deleted_at is null;
      end if;
    end if;
  else
    perform app.raise_invalid('customer', 'required', 'Give customerId, or customer with a name and an email or phone.');
  end if;
  update app.customers set last_activity_at = pg_catalog.now() where org_id = auth.org_id() and id = v_id;
  return v_id;
end
$$;
comment on function app.booking_customer(jsonb) is 'The customer a booking is for: by customerId, else found by email (then phone) or created, once even when several bookings for the same new customer arrive together.';

-- ---------------------------------------------------------------------------------------
-- A web page's booking answers the same whether or not the customer was known
-- ---------------------------------------------------------------------------------------
create or replace function app.public_booking(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
begin
  if p ? 'customerId' then
    perform app.raise_invalid('customerId', 'not_allowed_for_publishable_key',
      'A web page books with customer {name, email, phone}, not an existing customer id.');
  end if;
  if coalesce(p #>> '{customer,email}', p #>> '{customer,phone}') is null then
    perform app.raise_invalid('customer', 'contact_required', 'Give the customer''s email or phone.');
  end if;
  -- No customerId: for a known email or phone it would name (and date) an existing customer.
  return api.create_booking(p) - 'customerId';
end
$$;
comment on function app.public_booking(jsonb) is 'create_booking for a web page (publishable key): by customer name and email or phone only; the answer leaves out customerId, so it does not tell whether the customer existed.';
