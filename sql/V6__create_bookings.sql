-- Bookings: services, staff, resources, working hours, time off, closures, availability and
-- appointments that PostgreSQL itself refuses to double-book.
--
-- Times: bookings are timestamptz (UTC on the wire). Working hours are wall-clock times in the
-- organisation's time zone and are expanded per date, so 09:00 stays 09:00 across DST changes.

create extension if not exists btree_gist with schema ext;

-- Everyone can read and take bookings; staff only their own (policies on app.bookings).
create or replace function auth.role_scopes(p_role text) returns text[]
language sql immutable parallel safe as $$
  select case p_role
    when 'owner' then array['audit:read','bookings:read','bookings:write','customers:read','customers:write','keys:read','keys:write','organisation:read','organisation:write','team:read','team:write']
    when 'admin' then array['audit:read','bookings:read','bookings:write','customers:read','customers:write','keys:read','keys:write','organisation:read','organisation:write','team:read','team:write']
    when 'manager' then array['bookings:read','bookings:write','customers:read','customers:write','keys:read','keys:write','organisation:read','team:read','team:write']
    when 'staff' then array['bookings:read','bookings:write','customers:read','customers:write','organisation:read','team:read']
    else array[]::text[]
  end
$$;

-- ---------------------------------------------------------------------------------------
-- What can be booked
-- ---------------------------------------------------------------------------------------
create table app.services (
  org_id uuid not null references app.organisations (id),
  id uuid not null default app.uuid_v7(),
  name text not null check (pg_catalog.char_length(name) between 1 and 200),
  description text check (pg_catalog.char_length(description) <= 5000),
  duration_minutes int not null check (duration_minutes between 5 and 1440),
  price_amount bigint not null default 0 check (price_amount >= 0),
  currency text not null check (currency ~ '^[A-Z]{3}$'),
  buffer_before_minutes int not null default 0 check (buffer_before_minutes between 0 and 240),
  buffer_after_minutes int not null default 0 check (buffer_after_minutes between 0 and 240),
  capacity int not null default 1 check (capacity between 1 and 500),
  min_notice_minutes int not null default 0 check (min_notice_minutes between 0 and 525600),
  max_advance_days int not null default 90 check (max_advance_days between 1 and 730),
  slot_interval_minutes int check (slot_interval_minutes between 5 and 1440),
  requires_confirmation boolean not null default false,
  free_cancel_hours int not null default 24 check (free_cancel_hours between 0 and 720),
  late_cancel_fee_amount bigint not null default 0 check (late_cancel_fee_amount >= 0),
  no_show_fee_amount bigint not null default 0 check (no_show_fee_amount >= 0),
  resource_types text[] not null default '{}' check (pg_catalog.cardinality(resource_types) <= 5),
  waitlist_cutoff_minutes int not null default 60 check (waitlist_cutoff_minutes between 0 and 10080),
  archived_at timestamptz,
  created_at timestamptz not null default pg_catalog.now(),
  updated_at timestamptz not null default pg_catalog.now(),
  primary key (org_id, id)
);
comment on table app.services is 'What customers book: duration, price in minor units, buffers, booking window, cancellation policy, who can do it and what rooms or equipment it needs.';
comment on column app.services.slot_interval_minutes is 'Spacing of start times on the slot grid; NULL means the duration.';
comment on column app.services.capacity is '1: an appointment with one customer; more: a class, booked seat by seat in scheduled class sessions.';
comment on column app.services.waitlist_cutoff_minutes is 'A freed class seat goes to the first waiting customer until this many minutes before the start.';
comment on column app.services.resource_types is 'Resource types (room, chair, …) a booking needs one free resource of each.';

create table app.staff (
  org_id uuid not null references app.organisations (id),
  id uuid not null default app.uuid_v7(),
  name text not null check (pg_catalog.char_length(name) between 1 and 200),
  email text check (email = pg_catalog.lower(email) and pg_catalog.char_length(email) <= 254),
  user_id uuid,
  archived_at timestamptz,
  created_at timestamptz not null default pg_catalog.now(),
  updated_at timestamptz not null default pg_catalog.now(),
  primary key (org_id, id),
  unique (org_id, user_id),
  foreign key (org_id, user_id) references app.memberships (org_id, user_id)
);
comment on table app.staff is 'People who deliver services and have working hours; optionally a team member (user_id), who then sees their own bookings.';

create table app.service_staff (
  org_id uuid not null references app.organisations (id),
  service_id uuid not null,
  staff_id uuid not null,
  primary key (org_id, service_id, staff_id),
  foreign key (org_id, service_id) references app.services (org_id, id),
  foreign key (org_id, staff_id) references app.staff (org_id, id)
);
create index service_staff_org_id_staff_id_idx on app.service_staff (org_id, staff_id);
comment on table app.service_staff is 'Which staff can deliver which service.';

create table app.resources (
  org_id uuid not null references app.organisations (id),
  id uuid not null default app.uuid_v7(),
  name text not null check (pg_catalog.char_length(name) between 1 and 200),
  type text not null check (type ~ '^[a-z0-9_-]{1,50}$'),
  capacity int not null default 1 check (capacity between 1 and 500),
  archived_at timestamptz,
  created_at timestamptz not null default pg_catalog.now(),
  updated_at timestamptz not null default pg_catalog.now(),
  primary key (org_id, id)
);
create index resources_org_id_type_idx on app.resources (org_id, type);
comment on table app.resources is 'Rooms and equipment a service may need; one booking holds one resource of each needed type.';

create table app.working_hours (
  org_id uuid not null references app.organisations (id),
  id uuid not null default app.uuid_v7(),
  staff_id uuid not null,
  weekday int not null check (weekday between 1 and 7),
  start_time time not null,
  end_time time not null check (end_time > start_time),
  primary key (org_id, id),
  foreign key (org_id, staff_id) references app.staff (org_id, id)
);
create index working_hours_org_id_staff_id_idx on app.working_hours (org_id, staff_id, weekday);
comment on table app.working_hours is 'Weekly wall-clock ranges (ISO weekday 1 = Monday) in the organisation''s time zone; several a day make breaks.';

create table app.time_off (
  org_id uuid not null references app.organisations (id),
  id uuid not null default app.uuid_v7(),
  staff_id uuid not null,
  period tstzrange not null check (not pg_catalog.isempty(period) and not pg_catalog.lower_inf(period) and not pg_catalog.upper_inf(period)),
  reason text check (pg_catalog.char_length(reason) <= 500),
  created_at timestamptz not null default pg_catalog.now(),
  primary key (org_id, id),
  foreign key (org_id, staff_id) references app.staff (org_id, id)
);
create index time_off_period_idx on app.time_off using gist (org_id, staff_id, period);
comment on table app.time_off is 'Absences and one-off exceptions of a staff member: no slots during the period.';

create table app.hours_exceptions (
  org_id uuid not null references app.organisations (id),
  id uuid not null default app.uuid_v7(),
  staff_id uuid not null,
  on_date date not null,
  start_time time,
  end_time time,
  reason text check (pg_catalog.char_length(reason) <= 500),
  created_at timestamptz not null default pg_catalog.now(),
  primary key (org_id, id),
  foreign key (org_id, staff_id) references app.staff (org_id, id),
  check ((start_time is null and end_time is null) or end_time > start_time)
);
create index hours_exceptions_org_id_staff_id_on_date_idx on app.hours_exceptions (org_id, staff_id, on_date);
comment on table app.hours_exceptions is 'One-off hours of a staff member on one date, replacing the weekly hours of that date (a row without times: not working that day).';

create table app.closures (
  org_id uuid not null references app.organisations (id),
  id uuid not null default app.uuid_v7(),
  starts_on date not null,
  ends_on date not null check (ends_on >= starts_on),
  reason text check (pg_catalog.char_length(reason) <= 500),
  created_at timestamptz not null default pg_catalog.now(),
  primary key (org_id, id)
);
create index closures_org_id_ends_on_idx on app.closures (org_id, ends_on);
comment on table app.closures is 'Whole days (in the organisation''s time zone, inclusive) when the business is closed.';

create table app.class_sessions (
  org_id uuid not null references app.organisations (id),
  id uuid not null default app.uuid_v7(),
  service_id uuid not null,
  staff_id uuid not null,
  staff_user_id uuid,
  resource_id uuid,
  series_id uuid,
  starts_at timestamptz not null,
  ends_at timestamptz not null check (ends_at > starts_at),
  blocked tstzrange not null,
  capacity int not null check (capacity between 1 and 500),
  booked_count int not null default 0,
  status text not null default 'scheduled' check (status in ('scheduled', 'cancelled')),
  active boolean not null generated always as (status = 'scheduled') stored,
  created_at timestamptz not null default pg_catalog.now(),
  updated_at timestamptz not null default pg_catalog.now(),
  primary key (org_id, id),
  foreign key (org_id, service_id) references app.services (org_id, id),
  foreign key (org_id, staff_id) references app.staff (org_id, id),
  foreign key (org_id, resource_id) references app.resources (org_id, id),
  -- Seats are counted in the same transaction that takes them; never more than the capacity.
  constraint class_sessions_seats check (booked_count between 0 and capacity),
  constraint class_sessions_staff_no_overlap exclude using gist (org_id with =, staff_id with =, blocked with &&)
    where (active),
  constraint class_sessions_resource_no_overlap exclude using gist (org_id with =, resource_id with =, blocked with &&)
    where (active and resource_id is not null)
);
create index class_sessions_org_id_starts_at_idx on app.class_sessions (org_id, service_id, starts_at);
create index class_sessions_org_id_staff_user_id_idx on app.class_sessions (org_id, staff_user_id);
comment on table app.class_sessions is 'Scheduled occurrences of a class (a service with capacity > 1): one staff member, optionally a room, a number of seats.';
comment on column app.class_sessions.booked_count is 'Seats taken by active bookings; raised only by a conditional update (booked_count < capacity).';

create table app.bookings (
  org_id uuid not null references app.organisations (id),
  id uuid not null default app.uuid_v7(),
  service_id uuid not null,
  staff_id uuid not null,
  staff_user_id uuid,
  customer_id uuid not null,
  status text not null
    check (status in ('pending', 'confirmed', 'declined', 'cancelled', 'checked_in', 'completed', 'no_show')),
  starts_at timestamptz not null,
  ends_at timestamptz not null check (ends_at > starts_at),
  blocked tstzrange not null,
  active boolean not null generated always as (status in ('pending', 'confirmed', 'checked_in')) stored,
  price_amount bigint not null check (price_amount >= 0),
  currency text not null check (currency ~ '^[A-Z]{3}$'),
  notes text check (pg_catalog.char_length(notes) <= 5000),
  cancelled_at timestamptz,
  cancelled_by_user_id uuid,
  cancel_reason text check (pg_catalog.char_length(cancel_reason) <= 500),
  late_cancel boolean,
  fee_amount bigint check (fee_amount >= 0),
  rescheduled_from_id uuid,
  class_session_id uuid,
  created_at timestamptz not null default pg_catalog.now(),
  updated_at timestamptz not null default pg_catalog.now(),
  primary key (org_id, id),
  foreign key (org_id, class_session_id) references app.class_sessions (org_id, id),
  foreign key (org_id, service_id) references app.services (org_id, id),
  foreign key (org_id, staff_id) references app.staff (org_id, id),
  foreign key (org_id, customer_id) references app.customers (org_id, id),
  foreign key (org_id, rescheduled_from_id) references app.bookings (org_id, id),
  -- No person is in two places at once: active bookings of one staff member never overlap,
  -- buffers included. Touching ranges ([9:00,10:00) and [10:00,11:00)) do not overlap.
  constraint bookings_staff_no_overlap exclude using gist (org_id with =, staff_id with =, blocked with &&)
    where (active and class_session_id is null)
);
create index bookings_org_id_class_session_id_idx on app.bookings (org_id, class_session_id);
create index bookings_org_id_starts_at_idx on app.bookings (org_id, starts_at);
create index bookings_org_id_staff_user_id_idx on app.bookings (org_id, staff_user_id);
create index bookings_org_id_customer_id_idx on app.bookings (org_id, customer_id);
create index bookings_org_id_rescheduled_from_id_idx on app.bookings (org_id, rescheduled_from_id);
comment on table app.bookings is 'Appointments. blocked is [start - buffer before, end + buffer after); the exclusion constraint keeps a staff member''s active bookings apart.';
comment on column app.bookings.staff_user_id is 'The team member behind staff_id when there is one, copied for the row-level security of staff.';
comment on column app.bookings.class_session_id is 'For a class: the session whose seat this booking holds (the session holds the staff member and the room).';
comment on column app.bookings.active is 'pending, confirmed or checked_in: the booking holds its staff member and resources.';

create table app.booking_resources (
  org_id uuid not null references app.organisations (id),
  booking_id uuid not null,
  resource_id uuid not null,
  staff_user_id uuid,
  blocked tstzrange not null,
  active boolean not null,
  primary key (org_id, booking_id, resource_id),
  foreign key (org_id, booking_id) references app.bookings (org_id, id),
  foreign key (org_id, resource_id) references app.resources (org_id, id),
  constraint booking_resources_no_overlap exclude using gist (org_id with =, resource_id with =, blocked with &&)
    where (active)
);
create index booking_resources_org_id_staff_user_id_idx on app.booking_resources (org_id, staff_user_id);
comment on table app.booking_resources is 'The resources a booking holds; its own exclusion constraint keeps a room or a piece of equipment to one booking at a time. Follows the booking''s status and time.';

create table app.waitlist_entries (
  org_id uuid not null references app.organisations (id),
  id uuid not null default app.uuid_v7(),
  class_session_id uuid not null,
  customer_id uuid not null,
  staff_user_id uuid,
  status text not null default 'waiting' check (status in ('waiting', 'promoted', 'left', 'closed')),
  booking_id uuid,
  created_at timestamptz not null default pg_catalog.now(),
  updated_at timestamptz not null default pg_catalog.now(),
  primary key (org_id, id),
  foreign key (org_id, class_session_id) references app.class_sessions (org_id, id),
  foreign key (org_id, customer_id) references app.customers (org_id, id),
  foreign key (org_id, booking_id) references app.bookings (org_id, id)
);
create unique index waitlist_entries_one_per_customer on app.waitlist_entries (org_id, class_session_id, customer_id)
  where status = 'waiting';
create index waitlist_entries_org_id_staff_user_id_idx on app.waitlist_entries (org_id, staff_user_id);
comment on table app.waitlist_entries is 'Customers waiting for a seat in a full class session, first come first served (id order).';

create table app.booking_events (
  org_id uuid not null references app.organisations (id),
  id uuid not null default app.uuid_v7(),
  booking_id uuid not null,
  staff_user_id uuid,
  kind text not null check (kind in ('waitlist_promoted')),
  payload jsonb not null default '{}',
  created_at timestamptz not null default pg_catalog.now(),
  primary key (org_id, id),
  foreign key (org_id, booking_id) references app.bookings (org_id, id)
);
create index booking_events_org_id_staff_user_id_idx on app.booking_events (org_id, staff_user_id);
comment on table app.booking_events is 'Things about bookings a customer should hear of (a waitlist promotion), for the messaging work to send.';

-- A booking's resources follow its status and time.
create function app.sync_booking_resources() returns trigger
language plpgsql set search_path = '' as $$
begin
  if new.active is distinct from old.active or new.blocked is distinct from old.blocked then
    update app.booking_resources set active = new.active, blocked = new.blocked
     where org_id = new.org_id and booking_id = new.id;
  end if;
  return null;
end
$$;
create trigger sync_resources after update on app.bookings
  for each row execute function app.sync_booking_resources();

create trigger audit_change after insert or update or delete on app.services
  for each row execute function audit.record_change('org_id');
create trigger audit_change after insert or update or delete on app.staff
  for each row execute function audit.record_change('org_id');
create trigger audit_change after insert or update or delete on app.service_staff
  for each row execute function audit.record_change('org_id');
create trigger audit_change after insert or update or delete on app.resources
  for each row execute function audit.record_change('org_id');
create trigger audit_change after insert or update or delete on app.working_hours
  for each row execute function audit.record_change('org_id');
create trigger audit_change after insert or update or delete on app.time_off
  for each row execute function audit.record_change('org_id');
create trigger audit_change after insert or update or delete on app.hours_exceptions
  for each row execute function audit.record_change('org_id');
create trigger audit_change after insert or update or delete on app.closures
  for each row execute function audit.record_change('org_id');
create trigger audit_change after insert or update or delete on app.bookings
  for each row execute function audit.record_change('org_id');
create trigger audit_change after insert or update or delete on app.class_sessions
  for each row execute function audit.record_change('org_id');
create trigger audit_change after insert or update or delete on app.waitlist_entries
  for each row execute function audit.record_change('org_id');

grant select, insert, update on app.services, app.staff, app.resources to favcrm_member;
grant select, insert, delete on app.service_staff, app.working_hours, app.time_off, app.closures, app.hours_exceptions
  to favcrm_member;
grant select, insert, update on app.bookings, app.booking_resources, app.class_sessions, app.waitlist_entries
  to favcrm_member;
grant select, insert on app.booking_events to favcrm_member;

-- ---------------------------------------------------------------------------------------
-- Representations and helpers
-- ---------------------------------------------------------------------------------------
create function app.money(p_amount bigint, p_currency text) returns jsonb
language sql immutable parallel safe as $$
  select pg_catalog.jsonb_build_object('amount', p_amount, 'currency', p_currency)
$$;
comment on function app.money(bigint, text) is 'Money as {amount (integer minor units), currency (ISO 4217)}.';

create function app.service_json(s app.services) returns jsonb
language sql stable parallel safe as $$
  select pg_catalog.jsonb_build_object(
    'id', s.id,
    'name', s.name,
    'description', s.description,
    'durationMinutes', s.duration_minutes,
    'price', app.money(s.price_amount, s.currency),
    'bufferBeforeMinutes', s.buffer_before_minutes,
    'bufferAfterMinutes', s.buffer_after_minutes,
    'minNoticeMinutes', s.min_notice_minutes,
    'maxAdvanceDays', s.max_advance_days,
    'slotIntervalMinutes', coalesce(s.slot_interval_minutes, s.duration_minutes),
    'requiresConfirmation', s.requires_confirmation,
    'cancellationPolicy', pg_catalog.jsonb_build_object(
      'freeCancelHours', s.free_cancel_hours,
      'lateCancelFee', app.money(s.late_cancel_fee_amount, s.currency),
      'noShowFee', app.money(s.no_show_fee_amount, s.currency)),
    'staffIds', pg_catalog.to_jsonb(array(select ss.staff_id from app.service_staff ss
                                           where ss.org_id = s.org_id and ss.service_id = s.id order by ss.staff_id)),
    'resourceTypes', pg_catalog.to_jsonb(s.resource_types),
    'capacity', s.capacity,
    'waitlistCutoffMinutes', s.waitlist_cutoff_minutes,
    'status', case when s.archived_at is null then 'active' else 'archived' end,
    'createdAt', app.ts(s.created_at),
    'updatedAt', app.ts(s.updated_at),
    'archivedAt', app.ts(s.archived_at))
$$;
comment on function app.service_json(app.services) is 'The API representation of a service.';

create function app.staff_json(st app.staff) returns jsonb
language sql stable parallel safe as $$
  select pg_catalog.jsonb_build_object(
    'id', st.id, 'name', st.name, 'email', st.email, 'userId', st.user_id,
    'status', case when st.archived_at is null then 'active' else 'archived' end,
    'createdAt', app.ts(st.created_at), 'updatedAt', app.ts(st.updated_at))
$$;
comment on function app.staff_json(app.staff) is 'The API representation of a staff member.';

create function app.resource_json(r app.resources) returns jsonb
language sql stable parallel safe as $$
  select pg_catalog.jsonb_build_object(
    'id', r.id, 'name', r.name, 'type', r.type, 'capacity', r.capacity,
    'status', case when r.archived_at is null then 'active' else 'archived' end,
    'createdAt', app.ts(r.created_at), 'updatedAt', app.ts(r.updated_at))
$$;
comment on function app.resource_json(app.resources) is 'The API representation of a resource.';

create function app.booking_json(b app.bookings) returns jsonb
language sql stable parallel safe as $$
  select pg_catalog.jsonb_build_object(
    'id', b.id,
    'serviceId', b.service_id,
    'staffId', b.staff_id,
    'customerId', b.customer_id,
    'resourceIds', pg_catalog.to_jsonb(array(select br.resource_id from app.booking_resources br
                                              where br.org_id = b.org_id and br.booking_id = b.id order by br.resource_id)),
    'status', b.status,
    'startsAt', app.ts(b.starts_at),
    'endsAt', app.ts(b.ends_at),
    'price', app.money(b.price_amount, b.currency),
    'notes', b.notes,
    'cancelledAt', app.ts(b.cancelled_at),
    'cancelledByUserId', b.cancelled_by_user_id,
    'cancelReason', b.cancel_reason,
    'lateCancel', b.late_cancel,
    'fee', case when b.fee_amount is null then null else app.money(b.fee_amount, b.currency) end,
    'rescheduledFromId', b.rescheduled_from_id,
    'rescheduledToId', (select n.id from app.bookings n where n.org_id = b.org_id and n.rescheduled_from_id = b.id limit 1),
    'classSessionId', b.class_session_id,
    'createdAt', app.ts(b.created_at),
    'updatedAt', app.ts(b.updated_at))
$$;
comment on function app.booking_json(app.bookings) is 'The API representation of a booking.';

grant execute on function app.money(bigint, text), app.service_json(app.services), app.staff_json(app.staff),
  app.resource_json(app.resources), app.booking_json(app.bookings) to favcrm_member;

-- Setting up what can be booked is for managers and above.
create function app.require_manager() returns void
language plpgsql stable set search_path = '' as $$
begin
  if auth.role_rank(auth.role()) < auth.role_rank('manager') then
    raise exception using errcode = '42501', hint = 'forbidden',
      message = 'Only managers and above can change services, staff, resources, hours and closures.';
  end if;
end
$$;
grant execute on function app.require_manager() to favcrm_member;

create function app.service_for(p_id uuid, p_lock boolean) returns app.services
language plpgsql set search_path = '' as $$
declare
  s app.services;
begin
  if p_lock then
    select * into s from app.services where org_id = auth.org_id() and id = p_id for update;
  else
    select * into s from app.services where org_id = auth.org_id() and id = p_id;
  end if;
  if not found then
    perform app.not_found('service');
  end if;
  return s;
end
$$;
grant execute on function app.service_for(uuid, boolean) to favcrm_member;

create function app.staff_for(p_id uuid) returns app.staff
language plpgsql stable set search_path = '' as $$
declare
  st app.staff;
begin
  select * into st from app.staff where org_id = auth.org_id() and id = p_id;
  if not found then
    perform app.not_found('staff member');
  end if;
  return st;
end
$$;
grant execute on function app.staff_for(uuid) to favcrm_member;

-- Replaces the staff who can deliver a service.
create function app.set_service_staff(p_service uuid, p_staff jsonb) returns void
language plpgsql set search_path = '' as $$
begin
  if exists (select from pg_catalog.jsonb_array_elements_text(p_staff) v(id)
              where not exists (select from app.staff st
                                 where st.org_id = auth.org_id() and st.id = v.id::uuid and st.archived_at is null)) then
    raise exception using errcode = 'P0002', hint = 'not_found', column = 'staffIds',
      message = 'A staff id is not an active staff member of this organisation.';
  end if;
  -- Only the difference is written (and audited).
  delete from app.service_staff ss
   where ss.org_id = auth.org_id() and ss.service_id = p_service
     and ss.staff_id not in (select v.id::uuid from pg_catalog.jsonb_array_elements_text(p_staff) v(id));
  insert into app.service_staff (org_id, service_id, staff_id)
  select distinct auth.org_id(), p_service, v.id::uuid from pg_catalog.jsonb_array_elements_text(p_staff) v(id)
  on conflict do nothing;
end
$$;
grant execute on function app.set_service_staff(uuid, jsonb) to favcrm_member;

create function app.normalize_resource_types(p jsonb) returns text[]
language sql immutable parallel safe as $$
  select coalesce(array(select distinct pg_catalog.lower(pg_catalog.btrim(t))
                          from pg_catalog.jsonb_array_elements_text(p) t order by 1), '{}')
$$;
grant execute on function app.normalize_resource_types(jsonb) to favcrm_member;

-- ---------------------------------------------------------------------------------------
-- Availability
-- ---------------------------------------------------------------------------------------
-- A staff member's working ranges on one date: that date's one-off hours when there are any,
-- else the weekly hours of its weekday.
create function app.hours_on(p_org uuid, p_staff uuid, p_day date) returns table (start_time time, end_time time)
language sql stable as $$
  select e.start_time, e.end_time
    from app.hours_exceptions e
   where e.org_id = p_org and e.staff_id = p_staff and e.on_date = p_day and e.start_time is not null
  union all
  select wh.start_time, wh.end_time
    from app.working_hours wh
   where wh.org_id = p_org and wh.staff_id = p_staff and wh.weekday = extract(isodow from p_day)
     and not exists (select from app.hours_exceptions e
                      where e.org_id = p_org and e.staff_id = p_staff and e.on_date = p_day)
$$;
comment on function app.hours_on(uuid, uuid, date) is 'Working ranges of a staff member on a date: one-off hours replace the weekly ones.';
grant execute on function app.hours_on(uuid, uuid, date) to favcrm_member;
-- The open slots of a service in [p_from, p_to): each start with a staff member who can take
-- it and one free resource of each needed type. Planned once per connection (a generic plan):
-- planning this query afresh for each call cost 6–7 ms, running it about 1.5 ms. SECURITY DEFINER because availability must
-- count every booking of the organisation, including those a staff key cannot read; it
-- returns times and ids only, for the organisation in the request's claims.
create function auth.open_slots(p_service_id uuid, p_from timestamptz, p_to timestamptz, p_staff uuid,
                                p_resource uuid, p_ignore uuid)
returns table (starts_at timestamptz, ends_at timestamptz, staff_id uuid, resource_ids uuid[])
language plpgsql stable security definer set search_path = '' set plan_cache_mode = force_generic_plan as $$
declare
  v_org uuid := auth.org_id();
  s app.services;
  v_tz text;
  v_duration interval;
  v_step interval;
  v_before interval;
  v_after interval;
  v_earliest timestamptz;
  v_latest timestamptz;
begin
  select * into s from app.services sv where sv.org_id = v_org and sv.id = p_service_id;
  if not found or v_org is null or s.capacity > 1 then
    return;
  end if;
  select o.timezone into v_tz from app.organisations o where o.id = v_org;
  v_duration := pg_catalog.make_interval(mins => s.duration_minutes);
  v_step := pg_catalog.make_interval(mins => coalesce(s.slot_interval_minutes, s.duration_minutes));
  v_before := pg_catalog.make_interval(mins => s.buffer_before_minutes);
  v_after := pg_catalog.make_interval(mins => s.buffer_after_minutes);
  v_earliest := greatest(p_from, pg_catalog.now() + pg_catalog.make_interval(mins => s.min_notice_minutes));
  v_latest := least(p_to, pg_catalog.now() + pg_catalog.make_interval(days => s.max_advance_days));
  if v_earliest >= v_latest then
    return;
  end if;
  -- Everything that takes time in the window is read once and merged into one multirange per
  -- staff member (and per resource); each candidate slot is then checked against those.
  return query
  with staff as (
    select st.id
      from app.staff st
      join app.service_staff ss on ss.org_id = st.org_id and ss.staff_id = st.id and ss.service_id = s.id
     where st.org_id = v_org and st.archived_at is null and (p_staff is null or st.id = p_staff)
  ),
  win as (
    select pg_catalog.tstzrange(v_earliest - interval '1 day', v_latest + interval '1 day') as r
  ),
  busy as (
    select x.staff_id, range_agg(x.r) as ranges
      from (select b.staff_id, b.blocked as r
              from app.bookings b, win
             where b.org_id = v_org and b.active and b.class_session_id is null and b.blocked && win.r
               and b.staff_id in (select id from staff) and b.id is distinct from p_ignore
            union all
            select cs.staff_id, cs.blocked
              from app.class_sessions cs, win
             where cs.org_id = v_org and cs.active and cs.blocked && win.r and cs.staff_id in (select id from staff)) x
     group by x.staff_id
  ),
  away as (
    select t.staff_id, range_agg(t.period) as ranges
      from app.time_off t, win
     where t.org_id = v_org and t.period && win.r and t.staff_id in (select id from staff)
     group by t.staff_id
  ),
  closed as (
    select range_agg(pg_catalog.daterange(c.starts_on, c.ends_on, '[]')) as days
      from app.closures c
     where c.org_id = v_org and c.ends_on >= (v_earliest at time zone v_tz)::date - 1
  ),
  held as (
    select x.resource_id, range_agg(x.r) as ranges
      from (select br.resource_id, br.blocked as r
              from app.booking_resources br, win
             where br.org_id = v_org and br.active and br.blocked && win.r and br.booking_id is distinct from p_ignore
            union all
            select cr.resource_id, cr.blocked
              from app.class_sessions cr, win
             where cr.org_id = v_org and cr.active and cr.resource_id is not null and cr.blocked && win.r) x
     group by x.resource_id
  ),
  candidates as (
    select r.id, r.type, r.name, h.ranges
      from app.resources r
      left join held h on h.resource_id = r.id
     where r.org_id = v_org and r.archived_at is null and r.type = any (s.resource_types)
       and (p_resource is null or r.id = p_resource
            or not exists (select from app.resources x where x.org_id = v_org and x.id = p_resource and x.type = r.type))
  ),
  days as (
    select d::date as day
      from pg_catalog.generate_series((v_earliest at time zone v_tz)::date - 1, (v_latest at time zone v_tz)::date, interval '1 day') d
  ),
  -- Wall-clock starts per date: 09:00 is 09:00 in winter and in summer.
  -- Each date's one-off hours if it has any, else its weekday's hours (as app.hours_on, inline).
  hours as (
    select staff.id as staff_id, days.day, e.start_time, e.end_time
      from staff
      cross join days
      join app.hours_exceptions e on e.org_id = v_org and e.staff_id = staff.id and e.on_date = days.day
     where e.start_time is not null
    union all
    select staff.id, days.day, wh.start_time, wh.end_time
      from staff
      cross join days
      join app.working_hours wh on wh.org_id = v_org and wh.staff_id = staff.id and wh.weekday = extract(isodow from days.day)
     where not exists (select from app.hours_exceptions e
                        where e.org_id = v_org and e.staff_id = staff.id and e.on_date = days.day)
  ),
  local_slots as (
    select h.staff_id, h.day, gs as local_start, h.day + h.end_time as local_end
      from hours h
      cross join lateral pg_catalog.generate_series(h.day + h.start_time, h.day + h.end_time - v_duration, v_step) gs
  ),
  slots as (
    select ls.staff_id, ls.day, (ls.local_start at time zone v_tz) as slot_start, (ls.local_end at time zone v_tz) as window_end
      from local_slots ls
     -- A wall-clock time skipped by a DST change does not exist: no slot there.
     where ((ls.local_start at time zone v_tz) at time zone v_tz) = ls.local_start
  )
  select sl.slot_start, sl.slot_start + v_duration, sl.staff_id, res.ids
    from slots sl
    cross join closed
    left join busy on busy.staff_id = sl.staff_id
    left join away on away.staff_id = sl.staff_id
    cross join lateral (
      select array_agg(pick.id order by pick.type) as ids, count(pick.id) as n
        from pg_catalog.unnest(s.resource_types) need(type)
        cross join lateral (
          select c.id, c.type
            from candidates c
           where c.type = need.type
             and (c.ranges is null
                  or not c.ranges && pg_catalog.tstzrange(sl.slot_start - v_before, sl.slot_start + v_duration + v_after))
           order by c.name, c.id
           limit 1) pick
    ) res
   where sl.slot_start >= v_earliest and sl.slot_start < v_latest
     and sl.slot_start + v_duration <= sl.window_end
     and res.n = pg_catalog.cardinality(s.resource_types)
     and (closed.days is null or not closed.days @> (sl.slot_start at time zone v_tz)::date)
     and (away.ranges is null or not away.ranges && pg_catalog.tstzrange(sl.slot_start, sl.slot_start + v_duration))
     and (busy.ranges is null
          or not busy.ranges && pg_catalog.tstzrange(sl.slot_start - v_before, sl.slot_start + v_duration + v_after))
   order by 1, 3;
end
$$;
comment on function auth.open_slots(uuid, timestamptz, timestamptz, uuid, uuid, uuid) is 'Open slots of a service of the claimed organisation in [from, to): working hours expanded per date in the organisation''s time zone, minus breaks, time off, closures, minimum notice, maximum advance and every active booking (with buffers), with one free resource per needed type. Ignores booking p_ignore (for rescheduling).';
revoke all on function auth.open_slots(uuid, timestamptz, timestamptz, uuid, uuid, uuid) from public;
grant execute on function auth.open_slots(uuid, timestamptz, timestamptz, uuid, uuid, uuid) to favcrm_member;

-- The range a request may ask slots for: from < to, at most 31 days.
create function app.slot_range(p jsonb) returns tstzrange
language plpgsql stable set search_path = '' as $$
declare
  v_from timestamptz := (p ->> 'from')::timestamptz;
  v_to timestamptz := (p ->> 'to')::timestamptz;
begin
  if v_to <= v_from then
    perform app.raise_invalid('to', 'range_end_before_start', 'to must be after from.');
  end if;
  if v_to - v_from > interval '31 days' then
    perform app.raise_invalid('to', 'range_too_long', 'Ask for at most 31 days of slots at a time.');
  end if;
  return pg_catalog.tstzrange(v_from, v_to);
end
$$;
grant execute on function app.slot_range(jsonb) to favcrm_member;

-- Slots grouped by start, with who and what can take each.
create function app.slots_json(p_service uuid, p_from timestamptz, p_to timestamptz, p_staff uuid, p_resource uuid,
                               p_ignore uuid, p_limit int) returns jsonb
language sql stable as $$
  with o as (
    select * from auth.open_slots(p_service, p_from, p_to, p_staff, p_resource, p_ignore)
  ),
  by_start as (
    select o.starts_at, o.ends_at,
           pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('id', st.id, 'name', st.name) order by st.name, st.id) as staff
      from o
      join app.staff st on st.org_id = auth.org_id() and st.id = o.staff_id
     group by o.starts_at, o.ends_at
     order by o.starts_at
     limit p_limit
  ),
  resources as (
    select o.starts_at, pg_catalog.jsonb_agg(distinct r) as ids
      from o cross join pg_catalog.unnest(o.resource_ids) r
     group by o.starts_at
  )
  select coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
           'start', app.ts(b.starts_at), 'end', app.ts(b.ends_at), 'staff', b.staff,
           'resourceIds', coalesce(r.ids, '[]'::jsonb)) order by b.starts_at), '[]'::jsonb)
    from by_start b
    left join resources r on r.starts_at = b.starts_at
$$;
grant execute on function app.slots_json(uuid, timestamptz, timestamptz, uuid, uuid, uuid, int) to favcrm_member;

create function api.get_available_slots(p jsonb) returns jsonb
language plpgsql stable set search_path = '' as $$
declare
  s app.services;
  v_range tstzrange := app.slot_range(p);
  v_tz text;
begin
  perform auth.require_scope('bookings:read');
  s := app.service_for((p ->> 'serviceId')::uuid, false);
  if s.archived_at is not null then
    raise exception using errcode = '55000', hint = 'service_archived', message = 'This service is archived and cannot be booked.';
  end if;
  select o.timezone into v_tz from app.organisations o where o.id = auth.org_id();
  return pg_catalog.jsonb_build_object(
    'serviceId', s.id,
    'timezone', v_tz,
    'durationMinutes', s.duration_minutes,
    'slots', case when s.capacity > 1
                  then app.class_slots_json(s, pg_catalog.lower(v_range), pg_catalog.upper(v_range), (p ->> 'staffId')::uuid)
                  else app.slots_json(s.id, pg_catalog.lower(v_range), pg_catalog.upper(v_range),
                                      (p ->> 'staffId')::uuid, (p ->> 'resourceId')::uuid, null, 10000) end);
end
$$;
comment on function api.get_available_slots(jsonb) is 'Open start times of a service in a range of at most 31 days, each with the staff and resources that can take it.';

-- ---------------------------------------------------------------------------------------
-- Services
-- ---------------------------------------------------------------------------------------
create function api.list_services(p jsonb) returns jsonb
language plpgsql stable set search_path = '' as $$
declare
  v_org uuid := auth.org_id();
  v_limit int := app.page_limit(p);
  v_after uuid := app.decode_cursor(p ->> 'cursor');
  v_all boolean := coalesce((p ->> 'includeArchived')::boolean, false);
  v_result jsonb;
begin
  perform auth.require_scope('bookings:read');
  select app.page(array_agg(app.service_json(s::app.services) order by s.id desc), array_agg(s.id order by s.id desc), v_limit)
    into v_result
    from (select * from app.services s
           where s.org_id = v_org and (v_all or s.archived_at is null) and (v_after is null or s.id < v_after)
           order by s.id desc limit v_limit + 1) s;
  return v_result;
end
$$;
comment on function api.list_services(jsonb) is 'Lists services (active ones unless includeArchived), newest first.';

create function api.get_service(p jsonb) returns jsonb
language plpgsql stable set search_path = '' as $$
begin
  perform auth.require_scope('bookings:read');
  return app.service_json(app.service_for((p ->> 'serviceId')::uuid, false));
end
$$;
comment on function api.get_service(jsonb) is 'Returns one service.';

-- Applies the fields present in p to a service row (PATCH semantics; absent keeps, null clears).
create function app.apply_service(s app.services, p jsonb) returns app.services
language plpgsql stable set search_path = '' as $$
begin
  if p ? 'name' then s.name := pg_catalog.btrim(p ->> 'name'); end if;
  if p ? 'description' then s.description := p ->> 'description'; end if;
  if p ? 'durationMinutes' then s.duration_minutes := (p ->> 'durationMinutes')::int; end if;
  if p ? 'price' then
    s.price_amount := (p #>> '{price,amount}')::bigint;
    s.currency := coalesce(pg_catalog.upper(p #>> '{price,currency}'), s.currency);
  end if;
  if p ? 'bufferBeforeMinutes' then s.buffer_before_minutes := coalesce((p ->> 'bufferBeforeMinutes')::int, 0); end if;
  if p ? 'bufferAfterMinutes' then s.buffer_after_minutes := coalesce((p ->> 'bufferAfterMinutes')::int, 0); end if;
  if p ? 'minNoticeMinutes' then s.min_notice_minutes := coalesce((p ->> 'minNoticeMinutes')::int, 0); end if;
  if p ? 'maxAdvanceDays' then s.max_advance_days := coalesce((p ->> 'maxAdvanceDays')::int, 90); end if;
  if p ? 'slotIntervalMinutes' then s.slot_interval_minutes := (p ->> 'slotIntervalMinutes')::int; end if;
  if p ? 'requiresConfirmation' then s.requires_confirmation := coalesce((p ->> 'requiresConfirmation')::boolean, false); end if;
  if p ? 'cancellationPolicy' then
    s.free_cancel_hours := coalesce((p #>> '{cancellationPolicy,freeCancelHours}')::int, s.free_cancel_hours);
    s.late_cancel_fee_amount := coalesce((p #>> '{cancellationPolicy,lateCancelFeeAmount}')::bigint, s.late_cancel_fee_amount);
    s.no_show_fee_amount := coalesce((p #>> '{cancellationPolicy,noShowFeeAmount}')::bigint, s.no_show_fee_amount);
  end if;
  if p ? 'resourceTypes' then s.resource_types := app.normalize_resource_types(coalesce(p -> 'resourceTypes', '[]')); end if;
  if p ? 'capacity' then s.capacity := coalesce((p ->> 'capacity')::int, 1); end if;
  if p ? 'waitlistCutoffMinutes' then s.waitlist_cutoff_minutes := coalesce((p ->> 'waitlistCutoffMinutes')::int, 60); end if;
  return s;
end
$$;
grant execute on function app.apply_service(app.services, jsonb) to favcrm_member;

create function api.create_service(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  s app.services;
begin
  perform auth.require_scope('bookings:write');
  perform app.require_manager();
  s.org_id := auth.org_id();
  s.id := app.uuid_v7();
  select o.default_currency into s.currency from app.organisations o where o.id = s.org_id;
  s.price_amount := 0;
  s := app.apply_service(s, p);
  insert into app.services (org_id, id, name, description, duration_minutes, price_amount, currency,
                            buffer_before_minutes, buffer_after_minutes, min_notice_minutes, max_advance_days,
                            slot_interval_minutes, requires_confirmation, free_cancel_hours, late_cancel_fee_amount,
                            no_show_fee_amount, resource_types, capacity, waitlist_cutoff_minutes)
  values (s.org_id, s.id, s.name, s.description, s.duration_minutes, s.price_amount, s.currency,
          coalesce(s.buffer_before_minutes, 0), coalesce(s.buffer_after_minutes, 0), coalesce(s.min_notice_minutes, 0),
          coalesce(s.max_advance_days, 90), s.slot_interval_minutes, coalesce(s.requires_confirmation, false),
          coalesce(s.free_cancel_hours, 24), coalesce(s.late_cancel_fee_amount, 0), coalesce(s.no_show_fee_amount, 0),
          coalesce(s.resource_types, '{}'), coalesce(s.capacity, 1), coalesce(s.waitlist_cutoff_minutes, 60))
  returning * into s;
  perform app.set_service_staff(s.id, coalesce(p -> 'staffIds', '[]'));
  return app.service_json(s);
end
$$;
comment on function api.create_service(jsonb) is 'Creates a bookable service (managers and above). Price defaults to the organisation''s currency.';

create function api.update_service(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  o app.services;
  s app.services;
begin
  perform auth.require_scope('bookings:write');
  perform app.require_manager();
  o := app.service_for((p ->> 'serviceId')::uuid, true);
  s := app.apply_service(o, p);
  if s is distinct from o then
    update app.services set
      name = s.name, description = s.description, duration_minutes = s.duration_minutes, price_amount = s.price_amount,
      currency = s.currency, buffer_before_minutes = s.buffer_before_minutes, buffer_after_minutes = s.buffer_after_minutes,
      min_notice_minutes = s.min_notice_minutes, max_advance_days = s.max_advance_days,
      slot_interval_minutes = s.slot_interval_minutes, requires_confirmation = s.requires_confirmation,
      free_cancel_hours = s.free_cancel_hours, late_cancel_fee_amount = s.late_cancel_fee_amount,
      no_show_fee_amount = s.no_show_fee_amount, resource_types = s.resource_types, capacity = s.capacity,
      waitlist_cutoff_minutes = s.waitlist_cutoff_minutes, updated_at = pg_catalog.now()
    where org_id = o.org_id and id = o.id
    returning * into s;
  end if;
  if p ? 'staffIds' then
    perform app.set_service_staff(s.id, coalesce(p -> 'staffIds', '[]'));
  end if;
  return app.service_json(s);
end
$$;
comment on function api.update_service(jsonb) is 'Changes a service (managers and above); existing bookings keep their time and price.';

create function api.archive_service(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  s app.services;
begin
  perform auth.require_scope('bookings:write');
  perform app.require_manager();
  s := app.service_for((p ->> 'serviceId')::uuid, true);
  update app.services set archived_at = coalesce(archived_at, pg_catalog.now()), updated_at = pg_catalog.now()
   where org_id = s.org_id and id = s.id and archived_at is null;
  s := app.service_for(s.id, false);
  return app.service_json(s);
end
$$;
comment on function api.archive_service(jsonb) is 'Archives a service: no new bookings; existing ones stay. Archiving twice changes nothing.';

-- ---------------------------------------------------------------------------------------
-- Staff and resources
-- ---------------------------------------------------------------------------------------
create function api.list_staff(p jsonb) returns jsonb
language plpgsql stable set search_path = '' as $$
declare
  v_org uuid := auth.org_id();
  v_limit int := app.page_limit(p);
  v_after uuid := app.decode_cursor(p ->> 'cursor');
  v_all boolean := coalesce((p ->> 'includeArchived')::boolean, false);
  v_result jsonb;
begin
  perform auth.require_scope('bookings:read');
  select app.page(array_agg(app.staff_json(st::app.staff) order by st.id desc), array_agg(st.id order by st.id desc), v_limit)
    into v_result
    from (select * from app.staff st
           where st.org_id = v_org and (v_all or st.archived_at is null) and (v_after is null or st.id < v_after)
           order by st.id desc limit v_limit + 1) st;
  return v_result;
end
$$;
comment on function api.list_staff(jsonb) is 'Lists staff members, newest first.';

-- A staff profile links only to an active member of this organisation.
create function app.require_member(p_user uuid) returns void
language plpgsql stable set search_path = '' as $$
begin
  if p_user is not null and not exists (select from app.memberships m
                                         where m.org_id = auth.org_id() and m.user_id = p_user and m.removed_at is null) then
    raise exception using errcode = 'P0002', hint = 'not_found', column = 'userId',
      message = 'No team member with that user id exists in this organisation.';
  end if;
end
$$;
grant execute on function app.require_member(uuid) to favcrm_member;

create function api.create_staff(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  st app.staff;
begin
  perform auth.require_scope('bookings:write');
  perform app.require_manager();
  perform app.require_member((p ->> 'userId')::uuid);
  insert into app.staff (org_id, name, email, user_id)
  values (auth.org_id(), pg_catalog.btrim(p ->> 'name'), app.normalize_email(p ->> 'email'), (p ->> 'userId')::uuid)
  returning * into st;
  return app.staff_json(st);
end
$$;
comment on function api.create_staff(jsonb) is 'Adds a staff member, optionally linked to a team member (userId), who then sees their own bookings.';

create function api.update_staff(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  o app.staff;
  st app.staff;
begin
  perform auth.require_scope('bookings:write');
  perform app.require_manager();
  o := app.staff_for((p ->> 'staffId')::uuid);
  st := o;
  if p ? 'name' then st.name := pg_catalog.btrim(p ->> 'name'); end if;
  if p ? 'email' then st.email := app.normalize_email(p ->> 'email'); end if;
  if p ? 'userId' then
    perform app.require_member((p ->> 'userId')::uuid);
    st.user_id := (p ->> 'userId')::uuid;
  end if;
  if p ? 'archived' then
    st.archived_at := case when (p ->> 'archived')::boolean then coalesce(o.archived_at, pg_catalog.now()) end;
  end if;
  if st is not distinct from o then
    return app.staff_json(o);
  end if;
  update app.staff set name = st.name, email = st.email, user_id = st.user_id, archived_at = st.archived_at,
                       updated_at = pg_catalog.now()
   where org_id = o.org_id and id = o.id
   returning * into st;
  if st.user_id is distinct from o.user_id then
    -- Their bookings follow the link, so that the new team member sees them.
    update app.bookings set staff_user_id = st.user_id where org_id = st.org_id and staff_id = st.id;
    update app.booking_resources br set staff_user_id = st.user_id
      from app.bookings b
     where b.org_id = st.org_id and b.staff_id = st.id and br.org_id = b.org_id and br.booking_id = b.id;
  end if;
  return app.staff_json(st);
end
$$;
comment on function api.update_staff(jsonb) is 'Changes a staff member: name, email, linked team member, or archived (no new slots).';

create function api.list_resources(p jsonb) returns jsonb
language plpgsql stable set search_path = '' as $$
declare
  v_org uuid := auth.org_id();
  v_limit int := app.page_limit(p);
  v_after uuid := app.decode_cursor(p ->> 'cursor');
  v_type text := p ->> 'type';
  v_result jsonb;
begin
  perform auth.require_scope('bookings:read');
  select app.page(array_agg(app.resource_json(r::app.resources) order by r.id desc), array_agg(r.id order by r.id desc), v_limit)
    into v_result
    from (select * from app.resources r
           where r.org_id = v_org and r.archived_at is null and (v_type is null or r.type = v_type)
             and (v_after is null or r.id < v_after)
           order by r.id desc limit v_limit + 1) r;
  return v_result;
end
$$;
comment on function api.list_resources(jsonb) is 'Lists active rooms and equipment, optionally of one type.';

create function api.create_resource(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  r app.resources;
begin
  perform auth.require_scope('bookings:write');
  perform app.require_manager();
  insert into app.resources (org_id, name, type, capacity)
  values (auth.org_id(), pg_catalog.btrim(p ->> 'name'), pg_catalog.lower(pg_catalog.btrim(p ->> 'type')),
          coalesce((p ->> 'capacity')::int, 1))
  returning * into r;
  return app.resource_json(r);
end
$$;
comment on function api.create_resource(jsonb) is 'Adds a room or piece of equipment of a type (room, chair, …).';

create function api.update_resource(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  o app.resources;
  r app.resources;
begin
  perform auth.require_scope('bookings:write');
  perform app.require_manager();
  select * into o from app.resources where org_id = auth.org_id() and id = (p ->> 'resourceId')::uuid for update;
  if not found then
    perform app.not_found('resource');
  end if;
  r := o;
  if p ? 'name' then r.name := pg_catalog.btrim(p ->> 'name'); end if;
  if p ? 'type' then r.type := pg_catalog.lower(pg_catalog.btrim(p ->> 'type')); end if;
  if p ? 'capacity' then r.capacity := coalesce((p ->> 'capacity')::int, 1); end if;
  if p ? 'archived' then
    r.archived_at := case when (p ->> 'archived')::boolean then coalesce(o.archived_at, pg_catalog.now()) end;
  end if;
  if r is not distinct from o then
    return app.resource_json(o);
  end if;
  update app.resources set name = r.name, type = r.type, capacity = r.capacity, archived_at = r.archived_at,
                           updated_at = pg_catalog.now()
   where org_id = o.org_id and id = o.id
   returning * into r;
  return app.resource_json(r);
end
$$;
comment on function api.update_resource(jsonb) is 'Changes a resource: name, type, capacity, or archived.';

-- ---------------------------------------------------------------------------------------
-- Working hours, time off, closures
-- ---------------------------------------------------------------------------------------
create function app.hours_exception_json(p_staff uuid, p_date date) returns jsonb
language sql stable as $$
  select pg_catalog.jsonb_build_object(
    'staffId', p_staff,
    'date', p_date,
    'hours', coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
               'start', pg_catalog.to_char(e.start_time, 'HH24:MI'), 'end', pg_catalog.to_char(e.end_time, 'HH24:MI'))
               order by e.start_time) filter (where e.start_time is not null), '[]'::jsonb),
    'reason', min(e.reason))
    from app.hours_exceptions e
   where e.org_id = auth.org_id() and e.staff_id = p_staff and e.on_date = p_date
$$;
grant execute on function app.hours_exception_json(uuid, date) to favcrm_member;

create function app.working_hours_json(p_staff uuid) returns jsonb
language sql stable as $$
  select pg_catalog.jsonb_build_object(
    'staffId', p_staff,
    'timezone', (select o.timezone from app.organisations o where o.id = auth.org_id()),
    'hours', coalesce((select pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                         'weekday', wh.weekday,
                         'start', pg_catalog.to_char(wh.start_time, 'HH24:MI'),
                         'end', pg_catalog.to_char(wh.end_time, 'HH24:MI')) order by wh.weekday, wh.start_time)
                         from app.working_hours wh where wh.org_id = auth.org_id() and wh.staff_id = p_staff), '[]'::jsonb),
    'timeOff', coalesce((select pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                           'id', t.id, 'start', app.ts(pg_catalog.lower(t.period)), 'end', app.ts(pg_catalog.upper(t.period)),
                           'reason', t.reason) order by pg_catalog.lower(t.period))
                           from app.time_off t
                          where t.org_id = auth.org_id() and t.staff_id = p_staff
                            and pg_catalog.upper(t.period) > pg_catalog.now()), '[]'::jsonb),
    'exceptions', coalesce((select pg_catalog.jsonb_agg(x.j order by x.on_date)
                              from (select e.on_date, app.hours_exception_json(p_staff, e.on_date) as j
                                      from app.hours_exceptions e
                                     where e.org_id = auth.org_id() and e.staff_id = p_staff
                                       and e.on_date >= (pg_catalog.now() at time zone 'UTC')::date - 1
                                     group by e.on_date) x), '[]'::jsonb))
$$;
grant execute on function app.working_hours_json(uuid) to favcrm_member;

-- Working ranges as given ([{weekday?, start, end}]): each ends after it starts, and no two of
-- the same day (same weekday, or all of them when there is none) overlap.
create function app.require_valid_ranges(p_hours jsonb) returns void
language plpgsql stable set search_path = '' as $$
declare
  v_bad int;
begin
  select h.ordinality - 1 into v_bad
    from pg_catalog.jsonb_array_elements(coalesce(p_hours, '[]')) with ordinality h(v, ordinality)
   where (h.v ->> 'end')::time <= (h.v ->> 'start')::time and (h.v ->> 'end') <> '24:00'
   limit 1;
  if found then
    perform app.raise_invalid(pg_catalog.format('hours[%s].end', v_bad), 'end_before_start', 'Each range must end after it starts.');
  end if;
  select b.ordinality - 1 into v_bad
    from pg_catalog.jsonb_array_elements(coalesce(p_hours, '[]')) with ordinality a(v, ordinality)
    join pg_catalog.jsonb_array_elements(coalesce(p_hours, '[]')) with ordinality b(v, ordinality)
      on a.ordinality < b.ordinality and (a.v ->> 'weekday') is not distinct from (b.v ->> 'weekday')
     and (a.v ->> 'start')::time < (b.v ->> 'end')::time and (b.v ->> 'start')::time < (a.v ->> 'end')::time
   limit 1;
  if found then
    perform app.raise_invalid(pg_catalog.format('hours[%s]', v_bad), 'overlapping_hours', 'Two ranges of the same day overlap.');
  end if;
end
$$;
grant execute on function app.require_valid_ranges(jsonb) to favcrm_member;

create function api.get_working_hours(p jsonb) returns jsonb
language plpgsql stable set search_path = '' as $$
declare
  st app.staff;
begin
  perform auth.require_scope('bookings:read');
  st := app.staff_for((p ->> 'staffId')::uuid);
  return app.working_hours_json(st.id);
end
$$;
comment on function api.get_working_hours(jsonb) is 'A staff member''s weekly hours (wall clock, organisation time zone) and upcoming time off.';

create function api.set_working_hours(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  st app.staff;
begin
  perform auth.require_scope('bookings:write');
  perform app.require_manager();
  st := app.staff_for((p ->> 'staffId')::uuid);
  perform app.require_valid_ranges(p -> 'hours');
  if array(select pg_catalog.format('%s %s %s', wh.weekday, wh.start_time, wh.end_time)
              from app.working_hours wh where wh.org_id = st.org_id and wh.staff_id = st.id order by 1)
     = array(select pg_catalog.format('%s %s %s', (h ->> 'weekday')::int, (h ->> 'start')::time, (h ->> 'end')::time)
               from pg_catalog.jsonb_array_elements(coalesce(p -> 'hours', '[]')) h order by 1) then
    return app.working_hours_json(st.id);
  end if;
  delete from app.working_hours where org_id = st.org_id and staff_id = st.id;
  insert into app.working_hours (org_id, staff_id, weekday, start_time, end_time)
  select st.org_id, st.id, (h ->> 'weekday')::int, (h ->> 'start')::time, (h ->> 'end')::time
    from pg_catalog.jsonb_array_elements(coalesce(p -> 'hours', '[]')) h;
  return app.working_hours_json(st.id);
end
$$;
comment on function api.set_working_hours(jsonb) is 'Replaces a staff member''s weekly hours: ranges per ISO weekday (1 = Monday) in wall-clock time; several ranges a day make breaks.';

create function api.add_time_off(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  st app.staff;
  t app.time_off;
begin
  perform auth.require_scope('bookings:write');
  perform app.require_manager();
  st := app.staff_for((p ->> 'staffId')::uuid);
  if (p ->> 'end')::timestamptz <= (p ->> 'start')::timestamptz then
    perform app.raise_invalid('end', 'end_before_start', 'end must be after start.');
  end if;
  insert into app.time_off (org_id, staff_id, period, reason)
  values (st.org_id, st.id, pg_catalog.tstzrange((p ->> 'start')::timestamptz, (p ->> 'end')::timestamptz), p ->> 'reason')
  returning * into t;
  return pg_catalog.jsonb_build_object('id', t.id, 'staffId', t.staff_id, 'start', app.ts(pg_catalog.lower(t.period)),
                                       'end', app.ts(pg_catalog.upper(t.period)), 'reason', t.reason);
end
$$;
comment on function api.add_time_off(jsonb) is 'Blocks a staff member for a period (holiday, appointment, one-off exception). Existing bookings stay.';

create function api.remove_time_off(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  t app.time_off;
begin
  perform auth.require_scope('bookings:write');
  perform app.require_manager();
  select * into t from app.time_off where org_id = auth.org_id() and id = (p ->> 'timeOffId')::uuid;
  if not found then
    perform app.not_found('time off');
  end if;
  perform auth.require_confirmation('remove_time_off');
  delete from app.time_off where org_id = t.org_id and id = t.id;
  return pg_catalog.jsonb_build_object('id', t.id, 'staffId', t.staff_id, 'start', app.ts(pg_catalog.lower(t.period)),
                                       'end', app.ts(pg_catalog.upper(t.period)), 'reason', t.reason);
end
$$;
comment on function api.remove_time_off(jsonb) is 'Removes a period of time off; its slots open again.';

create function api.set_hours_exception(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  st app.staff;
  v_date date := (p ->> 'date')::date;
begin
  perform auth.require_scope('bookings:write');
  perform app.require_manager();
  st := app.staff_for((p ->> 'staffId')::uuid);
  perform app.require_valid_ranges(p -> 'hours');
  -- Unchanged: nothing written.
  if array(select pg_catalog.format('%s %s', e.start_time, e.end_time) from app.hours_exceptions e
            where e.org_id = st.org_id and e.staff_id = st.id and e.on_date = v_date order by 1)
     = array(select pg_catalog.format('%s %s', (h ->> 'start')::time, (h ->> 'end')::time)
               from pg_catalog.jsonb_array_elements(coalesce(p -> 'hours', '[]')) h
             union all
             select pg_catalog.format('%s %s', null::time, null::time)
              where pg_catalog.jsonb_array_length(coalesce(p -> 'hours', '[]')) = 0
             order by 1)
     and not exists (select from app.hours_exceptions e
                      where e.org_id = st.org_id and e.staff_id = st.id and e.on_date = v_date
                        and e.reason is distinct from p ->> 'reason') then
    return app.hours_exception_json(st.id, v_date);
  end if;
  delete from app.hours_exceptions where org_id = st.org_id and staff_id = st.id and on_date = v_date;
  insert into app.hours_exceptions (org_id, staff_id, on_date, start_time, end_time, reason)
  select st.org_id, st.id, v_date, (h ->> 'start')::time, (h ->> 'end')::time, p ->> 'reason'
    from pg_catalog.jsonb_array_elements(coalesce(p -> 'hours', '[]')) h
  union all
  select st.org_id, st.id, v_date, null, null, p ->> 'reason'
   where pg_catalog.jsonb_array_length(coalesce(p -> 'hours', '[]')) = 0;
  return app.hours_exception_json(st.id, v_date);
end
$$;
comment on function api.set_hours_exception(jsonb) is 'Sets one-off hours for a staff member on one date, replacing that date''s weekly hours; no ranges means not working that day.';

create function api.remove_hours_exception(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  st app.staff;
begin
  perform auth.require_scope('bookings:write');
  perform app.require_manager();
  st := app.staff_for((p ->> 'staffId')::uuid);
  delete from app.hours_exceptions where org_id = st.org_id and staff_id = st.id and on_date = (p ->> 'date')::date;
  return app.hours_exception_json(st.id, (p ->> 'date')::date);
end
$$;
comment on function api.remove_hours_exception(jsonb) is 'Removes the one-off hours of a date: the weekly hours apply again. Removing twice changes nothing.';

create function app.closure_json(c app.closures) returns jsonb
language sql stable parallel safe as $$
  select pg_catalog.jsonb_build_object('id', c.id, 'startsOn', c.starts_on, 'endsOn', c.ends_on, 'reason', c.reason,
                                       'createdAt', app.ts(c.created_at))
$$;
grant execute on function app.closure_json(app.closures) to favcrm_member;

create function api.add_closure(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  c app.closures;
begin
  perform auth.require_scope('bookings:write');
  perform app.require_manager();
  if (p ->> 'endsOn')::date < (p ->> 'startsOn')::date then
    perform app.raise_invalid('endsOn', 'end_before_start', 'endsOn must not be before startsOn.');
  end if;
  insert into app.closures (org_id, starts_on, ends_on, reason)
  values (auth.org_id(), (p ->> 'startsOn')::date, (p ->> 'endsOn')::date, p ->> 'reason')
  returning * into c;
  return app.closure_json(c);
end
$$;
comment on function api.add_closure(jsonb) is 'Closes the business on whole days (inclusive, in its time zone): no slots those days.';

create function api.list_closures(p jsonb) returns jsonb
language plpgsql stable set search_path = '' as $$
declare
  v_from date := coalesce((p ->> 'from')::date, (pg_catalog.now() at time zone 'UTC')::date - 1);
begin
  perform auth.require_scope('bookings:read');
  return pg_catalog.jsonb_build_object('items', coalesce((
    select pg_catalog.jsonb_agg(app.closure_json(c) order by c.starts_on)
      from app.closures c where c.org_id = auth.org_id() and c.ends_on >= v_from), '[]'::jsonb));
end
$$;
comment on function api.list_closures(jsonb) is 'Lists closures that end on or after from (default: yesterday).';

-- ---------------------------------------------------------------------------------------
-- Bookings
-- ---------------------------------------------------------------------------------------

-- The customer of a new booking: an existing one by id, or found by email, then phone, or created.
create function app.booking_customer(p jsonb) returns uuid
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
      insert into app.customers (org_id, name, email, phone, source)
      values (auth.org_id(), pg_catalog.btrim(p #>> '{customer,name}'), v_email, v_phone, 'booking')
      returning id into v_id;
    end if;
  else
    perform app.raise_invalid('customer', 'required', 'Give customerId, or customer with a name and an email or phone.');
  end if;
  update app.customers set last_activity_at = pg_catalog.now() where org_id = auth.org_id() and id = v_id;
  return v_id;
end
$$;
grant execute on function app.booking_customer(jsonb) to favcrm_member;

-- Refuses a start that is not on the service's grid for any eligible staff member's hours that day.
create function app.require_on_grid(s app.services, p_start timestamptz, p_staff uuid) returns void
language plpgsql stable set search_path = '' as $$
declare
  v_tz text;
  v_local timestamp;
  v_step int := coalesce(s.slot_interval_minutes, s.duration_minutes) * 60;
begin
  select o.timezone into v_tz from app.organisations o where o.id = s.org_id;
  v_local := p_start at time zone v_tz;
  if not exists (
      select from app.service_staff ss
        cross join lateral app.hours_on(ss.org_id, ss.staff_id, v_local::date) wh
       where ss.org_id = s.org_id and ss.service_id = s.id and (p_staff is null or ss.staff_id = p_staff)
         and v_local::time >= wh.start_time
         and v_local + pg_catalog.make_interval(mins => s.duration_minutes) <= v_local::date + wh.end_time
         and (extract(epoch from (v_local::time - wh.start_time))::int % v_step) = 0) then
    raise exception using errcode = '22023', hint = 'not_on_slot_grid', column = 'start',
      message = 'That start time is not one of this service''s slots; pick one from get_available_slots.';
  end if;
end
$$;
grant execute on function app.require_on_grid(app.services, timestamptz, uuid) to favcrm_member;

-- Raises 409 slot_taken with the next open slots (DETAIL carries them as JSON).
create function app.raise_slot_taken(s app.services, p_start timestamptz, p_staff uuid, p_resource uuid, p_ignore uuid)
returns void
language plpgsql stable set search_path = '' as $$
begin
  raise exception using errcode = '23P01', hint = 'slot_taken',
    message = 'That slot is no longer free (another booking, time off or a closure). nearbySlots lists open ones.',
    detail = pg_catalog.jsonb_build_object('nearbySlots',
      app.slots_json(s.id, p_start - interval '3 hours', p_start + interval '7 days', p_staff, p_resource, p_ignore, 5))::text;
end
$$;
grant execute on function app.raise_slot_taken(app.services, timestamptz, uuid, uuid, uuid) to favcrm_member;

-- The staff a caller may book: staff members book only themselves.
create function app.bookable_staff(p_staff uuid) returns uuid
language plpgsql stable set search_path = '' as $$
declare
  v_own uuid;
begin
  if auth.role() <> 'staff' then
    return p_staff;
  end if;
  select st.id into v_own from app.staff st where st.org_id = auth.org_id() and st.user_id = auth.user_id();
  if v_own is null or (p_staff is not null and p_staff <> v_own) then
    raise exception using errcode = '42501', hint = 'forbidden', column = 'staffId',
      message = 'Staff can only book themselves; ask a manager to book a colleague.';
  end if;
  return v_own;
end
$$;
grant execute on function app.bookable_staff(uuid) to favcrm_member;

create function app.lock_calendar(p_org uuid, p_holder uuid, p_range tstzrange) returns void
language plpgsql volatile set search_path = '' as $$
declare
  v_day date;
begin
  -- One lock per UTC day the range touches, in order (no deadlocks): bookings on other days
  -- of the same person or room do not wait for each other.
  for v_day in
    select d::date from pg_catalog.generate_series((pg_catalog.lower(p_range) at time zone 'UTC')::date,
                                                   (pg_catalog.upper(p_range) at time zone 'UTC')::date, interval '1 day') d
  loop
    perform pg_catalog.pg_advisory_xact_lock(
      pg_catalog.hashtextextended('favcrm.calendar.' || p_org::text || p_holder::text || v_day::text, 0));
  end loop;
end
$$;
comment on function app.lock_calendar(uuid, uuid, tstzrange) is 'Transaction locks on the calendar of a staff member or a resource for the days a range touches, taken by appointments and class sessions before they check each other (they live in different tables, so no one constraint covers both).';
grant execute on function app.lock_calendar(uuid, uuid, tstzrange) to favcrm_member;

-- Takes a slot: tries each staff member who can take it until the database accepts one.
create function app.take_slot(s app.services, p_start timestamptz, p_staff uuid, p_resource uuid, p_customer uuid,
                              p_status text, p_notes text, p_from uuid) returns app.bookings
language plpgsql set search_path = '' as $$
declare
  v_min_start timestamptz := pg_catalog.now() + pg_catalog.make_interval(mins => s.min_notice_minutes);
  c record;
  b app.bookings;
  v_end timestamptz := p_start + pg_catalog.make_interval(mins => s.duration_minutes);
  v_blocked tstzrange := pg_catalog.tstzrange(p_start - pg_catalog.make_interval(mins => s.buffer_before_minutes),
                                              v_end + pg_catalog.make_interval(mins => s.buffer_after_minutes));
begin
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
    select o.staff_id, o.resource_ids, st.user_id
      from auth.open_slots(s.id, p_start, p_start + interval '1 second', p_staff, p_resource, p_from) o
      join app.staff st on st.org_id = s.org_id and st.id = o.staff_id
     where o.starts_at = p_start
     -- "any": the least busy that day first.
     order by (select count(*) from app.bookings x
                where x.org_id = s.org_id and x.staff_id = o.staff_id and x.active
                  and x.starts_at >= p_start - interval '12 hours' and x.starts_at < p_start + interval '12 hours'), st.name
  loop
    -- Appointments and class sessions live in different tables: both take this lock before
    -- they check each other, so neither can slip past the other.
    perform app.lock_calendar(s.org_id, c.staff_id, v_blocked);
    perform app.lock_calendar(s.org_id, r, v_blocked) from pg_catalog.unnest(c.resource_ids) r order by r;
    continue when exists (
      select from app.class_sessions cs
       where cs.org_id = s.org_id and cs.active and cs.blocked && v_blocked
         and (cs.staff_id = c.staff_id or cs.resource_id = any (c.resource_ids)));
    begin
      insert into app.bookings (org_id, service_id, staff_id, staff_user_id, customer_id, status, starts_at, ends_at,
                                blocked, price_amount, currency, notes, rescheduled_from_id)
      values (s.org_id, s.id, c.staff_id, c.user_id, p_customer, p_status, p_start, v_end,
              pg_catalog.tstzrange(p_start - pg_catalog.make_interval(mins => s.buffer_before_minutes),
                                   v_end + pg_catalog.make_interval(mins => s.buffer_after_minutes)),
              s.price_amount, s.currency, p_notes, p_from)
      returning * into b;
      insert into app.booking_resources (org_id, booking_id, resource_id, staff_user_id, blocked, active)
      select b.org_id, b.id, r, b.staff_user_id, b.blocked, true from pg_catalog.unnest(c.resource_ids) r;
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
grant execute on function app.take_slot(app.services, timestamptz, uuid, uuid, uuid, text, text, uuid) to favcrm_member;

create function api.create_booking(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  s app.services;
  v_staff uuid;
  b app.bookings;
begin
  perform auth.require_scope('bookings:write');
  s := app.service_for((p ->> 'serviceId')::uuid, false);
  if s.archived_at is not null then
    raise exception using errcode = '55000', hint = 'service_archived', message = 'This service is archived and cannot be booked.';
  end if;
  if coalesce(p ->> 'staffId', 'any') <> 'any' then
    v_staff := (app.staff_for((p ->> 'staffId')::uuid)).id;
  end if;
  v_staff := app.bookable_staff(v_staff);
  if s.capacity > 1 then
    b := app.take_seat(s, (p ->> 'start')::timestamptz, v_staff, app.booking_customer(p),
                       case when s.requires_confirmation then 'pending' else 'confirmed' end, p ->> 'notes', null);
  else
    b := app.take_slot(s, (p ->> 'start')::timestamptz, v_staff, (p ->> 'resourceId')::uuid, app.booking_customer(p),
                       case when s.requires_confirmation then 'pending' else 'confirmed' end, p ->> 'notes', null);
  end if;
  return app.booking_json(b);
end
$$;
comment on function api.create_booking(jsonb) is 'Books a slot: pending when the service needs confirmation, else confirmed. The slot is checked again here and guarded by an exclusion constraint; a clash is 409 slot_taken with nearby open slots.';

create function app.booking_for_update(p jsonb) returns app.bookings
language plpgsql set search_path = '' as $$
declare
  b app.bookings;
begin
  select * into b from app.bookings where org_id = auth.org_id() and id = (p ->> 'bookingId')::uuid for update;
  if not found then
    perform app.not_found('booking');
  end if;
  return b;
end
$$;
grant execute on function app.booking_for_update(jsonb) to favcrm_member;

create function app.require_status(b app.bookings, p_allowed text[], p_action text) returns void
language plpgsql stable set search_path = '' as $$
begin
  if b.status <> all (p_allowed) then
    raise exception using errcode = '55000', hint = 'invalid_booking_state',
      message = pg_catalog.format('A %s booking cannot be %s (allowed from: %s).', b.status, p_action,
                                  pg_catalog.array_to_string(p_allowed, ', '));
  end if;
end
$$;
grant execute on function app.require_status(app.bookings, text[], text) to favcrm_member;

create function app.set_booking_status(b app.bookings, p_status text) returns app.bookings
language plpgsql set search_path = '' as $$
begin
  update app.bookings set status = p_status, updated_at = pg_catalog.now()
   where org_id = b.org_id and id = b.id
   returning * into b;
  return b;
end
$$;
grant execute on function app.set_booking_status(app.bookings, text) to favcrm_member;

create function api.get_booking(p jsonb) returns jsonb
language plpgsql stable set search_path = '' as $$
declare
  b app.bookings;
begin
  perform auth.require_scope('bookings:read');
  select * into b from app.bookings where org_id = auth.org_id() and id = (p ->> 'bookingId')::uuid;
  if not found then
    perform app.not_found('booking');
  end if;
  return app.booking_json(b);
end
$$;
comment on function api.get_booking(jsonb) is 'Returns one booking (staff: only their own).';

create function api.list_bookings(p jsonb) returns jsonb
language plpgsql stable set search_path = '' as $$
declare
  v_org uuid := auth.org_id();
  v_limit int := app.page_limit(p);
  v_after uuid := app.decode_cursor(p ->> 'cursor');
  v_after_start timestamptz;
  v_from timestamptz := (p ->> 'from')::timestamptz;
  v_to timestamptz := (p ->> 'to')::timestamptz;
  v_status text := p ->> 'status';
  v_staff uuid := (p ->> 'staffId')::uuid;
  v_customer uuid := (p ->> 'customerId')::uuid;
  v_result jsonb;
begin
  perform auth.require_scope('bookings:read');
  if v_after is not null then
    select b.starts_at into v_after_start from app.bookings b where b.org_id = v_org and b.id = v_after;
  end if;
  select app.page(array_agg(app.booking_json(b::app.bookings) order by b.starts_at, b.id),
                  array_agg(b.id order by b.starts_at, b.id), v_limit)
    into v_result
    from (select * from app.bookings b
           where b.org_id = v_org
             and (v_from is null or b.starts_at >= v_from) and (v_to is null or b.starts_at < v_to)
             and (v_status is null or b.status = v_status)
             and (v_staff is null or b.staff_id = v_staff)
             and (v_customer is null or b.customer_id = v_customer)
             and (v_after_start is null or (b.starts_at, b.id) > (v_after_start, v_after))
           order by b.starts_at, b.id
           limit v_limit + 1) b;
  return v_result;
end
$$;
comment on function api.list_bookings(jsonb) is 'Lists bookings by start time, filtered by range, status, staff or customer (staff: only their own).';

create function api.confirm_booking(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  b app.bookings;
begin
  perform auth.require_scope('bookings:write');
  b := app.booking_for_update(p);
  if b.status = 'confirmed' then
    return app.booking_json(b);
  end if;
  perform app.require_status(b, array['pending'], 'confirmed');
  return app.booking_json(app.set_booking_status(b, 'confirmed'));
end
$$;
comment on function api.confirm_booking(jsonb) is 'Confirms a pending booking. Confirming twice changes nothing.';

create function api.decline_booking(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  b app.bookings;
begin
  perform auth.require_scope('bookings:write');
  b := app.booking_for_update(p);
  perform auth.require_confirmation('decline_booking');
  if b.status = 'declined' then
    return app.booking_json(b);
  end if;
  perform app.require_status(b, array['pending'], 'declined');
  update app.bookings set status = 'declined', cancel_reason = p ->> 'reason', updated_at = pg_catalog.now()
   where org_id = b.org_id and id = b.id returning * into b;
  return app.booking_json(b);
end
$$;
comment on function api.decline_booking(jsonb) is 'Declines a pending booking request; the slot opens again.';

create function api.cancel_booking(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  b app.bookings;
  s app.services;
  v_late boolean;
begin
  perform auth.require_scope('bookings:write');
  b := app.booking_for_update(p);
  perform auth.require_confirmation('cancel_booking');
  if b.status = 'cancelled' then
    return app.booking_json(b);
  end if;
  perform app.require_status(b, array['pending', 'confirmed'], 'cancelled');
  select * into s from app.services where org_id = b.org_id and id = b.service_id;
  v_late := pg_catalog.now() > b.starts_at - pg_catalog.make_interval(hours => s.free_cancel_hours);
  update app.bookings set
    status = 'cancelled', cancelled_at = pg_catalog.now(), cancelled_by_user_id = auth.user_id(),
    cancel_reason = p ->> 'reason', late_cancel = v_late,
    fee_amount = case when v_late then s.late_cancel_fee_amount else 0 end, updated_at = pg_catalog.now()
   where org_id = b.org_id and id = b.id returning * into b;
  return app.booking_json(b);
end
$$;
comment on function api.cancel_booking(jsonb) is 'Cancels a booking, recording who, why, whether it was late under the service''s policy and the fee due. Cancelling twice changes nothing.';

create function api.reschedule_booking(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  o app.bookings;
  s app.services;
  v_staff uuid;
  n app.bookings;
begin
  perform auth.require_scope('bookings:write');
  o := app.booking_for_update(p);
  perform app.require_status(o, array['pending', 'confirmed'], 'rescheduled');
  select * into s from app.services where org_id = o.org_id and id = o.service_id;
  if coalesce(p ->> 'staffId', 'same') = 'same' and s.capacity > 1 then
    v_staff := null;
  elsif coalesce(p ->> 'staffId', 'same') = 'same' then
    v_staff := o.staff_id;
  elsif p ->> 'staffId' <> 'any' then
    v_staff := (app.staff_for((p ->> 'staffId')::uuid)).id;
  end if;
  v_staff := app.bookable_staff(v_staff);
  -- Free the old time first (same transaction): a move by 30 minutes may overlap itself.
  update app.bookings set status = 'cancelled', cancelled_at = pg_catalog.now(), cancelled_by_user_id = auth.user_id(),
                          cancel_reason = 'rescheduled', late_cancel = false, fee_amount = 0, updated_at = pg_catalog.now()
   where org_id = o.org_id and id = o.id;
  if s.capacity > 1 then
    n := app.take_seat(s, (p ->> 'start')::timestamptz, case when p ->> 'staffId' = 'same' then null else v_staff end,
                       o.customer_id, o.status, o.notes, o.id);
  else
    n := app.take_slot(s, (p ->> 'start')::timestamptz, v_staff, null, o.customer_id, o.status, o.notes, o.id);
  end if;
  return app.booking_json(n);
end
$$;
comment on function api.reschedule_booking(jsonb) is 'Moves a booking atomically: the new time is checked and taken and the old one freed in one transaction, or nothing changes. The new booking links to the old (rescheduledFromId).';

create function api.check_in_booking(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  b app.bookings;
begin
  perform auth.require_scope('bookings:write');
  b := app.booking_for_update(p);
  if b.status = 'checked_in' then
    return app.booking_json(b);
  end if;
  perform app.require_status(b, array['confirmed'], 'checked in');
  return app.booking_json(app.set_booking_status(b, 'checked_in'));
end
$$;
comment on function api.check_in_booking(jsonb) is 'Marks that the customer arrived.';

create function api.complete_booking(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  b app.bookings;
begin
  perform auth.require_scope('bookings:write');
  b := app.booking_for_update(p);
  if b.status = 'completed' then
    return app.booking_json(b);
  end if;
  perform app.require_status(b, array['confirmed', 'checked_in'], 'completed');
  if pg_catalog.now() < b.starts_at then
    raise exception using errcode = '55000', hint = 'not_started', message = 'A booking can be completed only once it has started.';
  end if;
  return app.booking_json(app.set_booking_status(b, 'completed'));
end
$$;
comment on function api.complete_booking(jsonb) is 'Marks a booking done (after its start).';

create function api.mark_no_show(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  b app.bookings;
  s app.services;
begin
  perform auth.require_scope('bookings:write');
  b := app.booking_for_update(p);
  perform auth.require_confirmation('mark_no_show');
  if b.status = 'no_show' then
    return app.booking_json(b);
  end if;
  perform app.require_status(b, array['pending', 'confirmed'], 'marked as a no-show');
  if pg_catalog.now() < b.starts_at then
    raise exception using errcode = '55000', hint = 'not_started',
      message = 'A customer can be marked as a no-show only after the booking''s start time.';
  end if;
  select * into s from app.services where org_id = b.org_id and id = b.service_id;
  update app.bookings set status = 'no_show', fee_amount = s.no_show_fee_amount, updated_at = pg_catalog.now()
   where org_id = b.org_id and id = b.id returning * into b;
  return app.booking_json(b);
end
$$;
comment on function api.mark_no_show(jsonb) is 'Marks that the customer did not come (only after the start), with the service''s no-show fee.';

create function api.get_booking_stats(p jsonb) returns jsonb
language plpgsql stable set search_path = '' as $$
declare
  v_from timestamptz := (p ->> 'from')::timestamptz;
  v_to timestamptz := (p ->> 'to')::timestamptz;
begin
  perform auth.require_scope('bookings:read');
  if v_to <= v_from then
    perform app.raise_invalid('to', 'range_end_before_start', 'to must be after from.');
  end if;
  if v_to - v_from > interval '366 days' then
    perform app.raise_invalid('to', 'range_too_long', 'Ask for at most 366 days at a time.');
  end if;
  return (
    select pg_catalog.jsonb_build_object(
      'from', app.ts(v_from), 'to', app.ts(v_to), 'total', count(*),
      'byStatus', pg_catalog.jsonb_build_object(
        'pending', count(*) filter (where b.status = 'pending'),
        'confirmed', count(*) filter (where b.status = 'confirmed'),
        'declined', count(*) filter (where b.status = 'declined'),
        'cancelled', count(*) filter (where b.status = 'cancelled'),
        'checkedIn', count(*) filter (where b.status = 'checked_in'),
        'completed', count(*) filter (where b.status = 'completed'),
        'noShow', count(*) filter (where b.status = 'no_show')))
      from app.bookings b
     where b.org_id = auth.org_id() and b.starts_at >= v_from and b.starts_at < v_to);
end
$$;
comment on function api.get_booking_stats(jsonb) is 'Counts bookings by status over a range of at most 366 days (staff: their own).';

-- ---------------------------------------------------------------------------------------
-- Classes: sessions with seats, and waitlists
-- ---------------------------------------------------------------------------------------
create function app.class_session_json(cs app.class_sessions) returns jsonb
language sql stable parallel safe as $$
  select pg_catalog.jsonb_build_object(
    'id', cs.id,
    'serviceId', cs.service_id,
    'staffId', cs.staff_id,
    'resourceId', cs.resource_id,
    'seriesId', cs.series_id,
    'start', app.ts(cs.starts_at),
    'end', app.ts(cs.ends_at),
    'capacity', cs.capacity,
    'seatsBooked', cs.booked_count,
    'seatsRemaining', case when cs.active then cs.capacity - cs.booked_count else 0 end,
    'waiting', (select count(*) from app.waitlist_entries w
                 where w.org_id = cs.org_id and w.class_session_id = cs.id and w.status = 'waiting'),
    'status', cs.status,
    'createdAt', app.ts(cs.created_at),
    'updatedAt', app.ts(cs.updated_at))
$$;
comment on function app.class_session_json(app.class_sessions) is 'The API representation of a class session.';
grant execute on function app.class_session_json(app.class_sessions) to favcrm_member;

-- Open class sessions of a service as slots, with the seats left.
create function app.class_slots_json(s app.services, p_from timestamptz, p_to timestamptz, p_staff uuid) returns jsonb
language sql stable as $$
  select coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
           'start', app.ts(cs.starts_at), 'end', app.ts(cs.ends_at),
           'staff', pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object('id', st.id, 'name', st.name)),
           'resourceIds', case when cs.resource_id is null then '[]'::jsonb else pg_catalog.jsonb_build_array(cs.resource_id) end,
           'classSessionId', cs.id,
           'seatsRemaining', cs.capacity - cs.booked_count) order by cs.starts_at), '[]'::jsonb)
    from app.class_sessions cs
    join app.staff st on st.org_id = cs.org_id and st.id = cs.staff_id
   where cs.org_id = s.org_id and cs.service_id = s.id and cs.active and cs.booked_count < cs.capacity
     and cs.starts_at >= greatest(p_from, pg_catalog.now() + pg_catalog.make_interval(mins => s.min_notice_minutes))
     and cs.starts_at < least(p_to, pg_catalog.now() + pg_catalog.make_interval(days => s.max_advance_days))
     and (p_staff is null or cs.staff_id = p_staff)
$$;
grant execute on function app.class_slots_json(app.services, timestamptz, timestamptz, uuid) to favcrm_member;

-- Takes a seat in the session of the service starting at p_start: the seat count is raised
-- only while below capacity, in this transaction, so a class never has more bookings than seats.
create function app.take_seat(s app.services, p_start timestamptz, p_staff uuid, p_customer uuid, p_status text,
                              p_notes text, p_from uuid) returns app.bookings
language plpgsql set search_path = '' as $$
declare
  cs app.class_sessions;
  b app.bookings;
begin
  if p_start < pg_catalog.now() + pg_catalog.make_interval(mins => s.min_notice_minutes) then
    raise exception using errcode = '22023', hint = 'too_soon', column = 'start',
      message = pg_catalog.format('Bookings need %s minutes'' notice.', s.min_notice_minutes);
  end if;
  select * into cs from app.class_sessions c
   where c.org_id = s.org_id and c.service_id = s.id and c.starts_at = p_start and c.active
     and (p_staff is null or c.staff_id = p_staff)
   order by c.booked_count
   limit 1;
  if not found then
    raise exception using errcode = '22023', hint = 'no_class_at_start', column = 'start',
      message = 'No class session of this service starts then; pick one from get_available_slots or list_class_sessions.';
  end if;
  if exists (select from app.bookings x where x.org_id = s.org_id and x.class_session_id = cs.id
                                          and x.customer_id = p_customer and x.active) then
    raise exception using errcode = '23505', hint = 'already_booked', message = 'This customer already has a seat in that class.';
  end if;
  update app.class_sessions set booked_count = booked_count + 1, updated_at = pg_catalog.now()
   where org_id = cs.org_id and id = cs.id and booked_count < capacity and active;
  if not found then
    raise exception using errcode = '23P01', hint = 'class_full',
      message = 'The class is full. join_waitlist puts the customer on its waiting list.',
      detail = pg_catalog.jsonb_build_object('classSessionId', cs.id)::text;
  end if;
  insert into app.bookings (org_id, service_id, staff_id, staff_user_id, customer_id, status, starts_at, ends_at, blocked,
                            price_amount, currency, notes, rescheduled_from_id, class_session_id)
  values (s.org_id, s.id, cs.staff_id, cs.staff_user_id, p_customer, p_status, cs.starts_at, cs.ends_at, cs.blocked,
          s.price_amount, s.currency, p_notes, p_from, cs.id)
  returning * into b;
  return b;
end
$$;
grant execute on function app.take_seat(app.services, timestamptz, uuid, uuid, text, text, uuid) to favcrm_member;

-- When a seat booking stops being active, its seat is freed and, until the service's cut-off,
-- given to the first customer waiting (an event records it for messaging).
create function app.release_seat() returns trigger
language plpgsql set search_path = '' as $$
declare
  cs app.class_sessions;
  s app.services;
  w app.waitlist_entries;
  b app.bookings;
begin
  if new.class_session_id is null or not old.active or new.active then
    return null;
  end if;
  update app.class_sessions set booked_count = booked_count - 1, updated_at = pg_catalog.now()
   where org_id = new.org_id and id = new.class_session_id
   returning * into cs;
  select * into s from app.services where org_id = new.org_id and id = new.service_id;
  if not cs.active or pg_catalog.now() > cs.starts_at - pg_catalog.make_interval(mins => s.waitlist_cutoff_minutes) then
    return null;
  end if;
  select * into w from app.waitlist_entries
   where org_id = cs.org_id and class_session_id = cs.id and status = 'waiting'
   order by id
   limit 1
   for update skip locked;
  if not found then
    return null;
  end if;
  update app.class_sessions set booked_count = booked_count + 1, updated_at = pg_catalog.now()
   where org_id = cs.org_id and id = cs.id and booked_count < capacity;
  insert into app.bookings (org_id, service_id, staff_id, staff_user_id, customer_id, status, starts_at, ends_at, blocked,
                            price_amount, currency, class_session_id)
  values (cs.org_id, s.id, cs.staff_id, cs.staff_user_id, w.customer_id,
          case when s.requires_confirmation then 'pending' else 'confirmed' end, cs.starts_at, cs.ends_at, cs.blocked,
          s.price_amount, s.currency, cs.id)
  returning * into b;
  update app.waitlist_entries set status = 'promoted', booking_id = b.id, updated_at = pg_catalog.now()
   where org_id = w.org_id and id = w.id;
  insert into app.booking_events (org_id, booking_id, staff_user_id, kind, payload)
  values (b.org_id, b.id, b.staff_user_id, 'waitlist_promoted',
          pg_catalog.jsonb_build_object('customerId', b.customer_id, 'classSessionId', cs.id, 'waitlistEntryId', w.id,
                                        'freedByBookingId', new.id));
  return null;
end
$$;
create trigger release_seat after update on app.bookings
  for each row execute function app.release_seat();

create function api.schedule_class_session(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  s app.services;
  st app.staff;
  v_tz text;
  v_local timestamp;
  v_weeks int := coalesce((p ->> 'repeatWeeks')::int, 1);
  v_capacity int;
  v_series uuid;
  v_start timestamptz;
  v_end timestamptz;
  v_blocked tstzrange;
  v_resource uuid := (p ->> 'resourceId')::uuid;
  v_ids uuid[] := '{}';
  cs app.class_sessions;
begin
  perform auth.require_scope('bookings:write');
  perform app.require_manager();
  s := app.service_for((p ->> 'serviceId')::uuid, false);
  if s.capacity <= 1 then
    perform app.raise_invalid('serviceId', 'not_a_class', 'Only services with a capacity above 1 have class sessions.');
  end if;
  if s.archived_at is not null then
    raise exception using errcode = '55000', hint = 'service_archived', message = 'This service is archived.';
  end if;
  st := app.staff_for((p ->> 'staffId')::uuid);
  if v_resource is not null and not exists (select from app.resources r where r.org_id = s.org_id and r.id = v_resource) then
    perform app.not_found('resource');
  end if;
  v_capacity := coalesce((p ->> 'capacity')::int, s.capacity);
  if v_weeks not between 1 and 52 then
    perform app.raise_invalid('repeatWeeks', 'out_of_range', 'repeatWeeks must be between 1 and 52.');
  end if;
  if v_weeks > 1 then
    v_series := app.uuid_v7();
  end if;
  select o.timezone into v_tz from app.organisations o where o.id = s.org_id;
  -- Weekly at the same wall-clock time, whatever DST does in between.
  v_local := (p ->> 'start')::timestamptz at time zone v_tz;

  for i in 0 .. v_weeks - 1 loop
    v_start := (v_local + pg_catalog.make_interval(days => 7 * i)) at time zone v_tz;
    v_end := v_start + pg_catalog.make_interval(mins => s.duration_minutes);
    v_blocked := pg_catalog.tstzrange(v_start - pg_catalog.make_interval(mins => s.buffer_before_minutes),
                                      v_end + pg_catalog.make_interval(mins => s.buffer_after_minutes));
    if v_start <= pg_catalog.now() then
      perform app.raise_invalid('start', 'must_be_future', 'Class sessions must start in the future.');
    end if;
    perform app.lock_calendar(s.org_id, st.id, v_blocked);
    if v_resource is not null then
      perform app.lock_calendar(s.org_id, v_resource, v_blocked);
    end if;
    if exists (select from app.bookings b where b.org_id = s.org_id and b.staff_id = st.id and b.active
                                            and b.class_session_id is null and b.blocked && v_blocked)
       or (v_resource is not null and exists (
             select from app.booking_resources br where br.org_id = s.org_id and br.resource_id = v_resource
                                                    and br.active and br.blocked && v_blocked)) then
      raise exception using errcode = '23P01', hint = 'slot_taken',
        message = pg_catalog.format('The staff member or room is booked at %s; nothing was scheduled.', app.ts(v_start));
    end if;
    begin
      insert into app.class_sessions (org_id, service_id, staff_id, staff_user_id, resource_id, series_id, starts_at,
                                      ends_at, blocked, capacity)
      values (s.org_id, s.id, st.id, st.user_id, v_resource, v_series, v_start, v_end, v_blocked, v_capacity)
      returning * into cs;
    exception when exclusion_violation then
      raise exception using errcode = '23P01', hint = 'slot_taken',
        message = pg_catalog.format('Another class session overlaps %s; nothing was scheduled.', app.ts(v_start));
    end;
    v_ids := v_ids || cs.id;
  end loop;
  return pg_catalog.jsonb_build_object('seriesId', v_series, 'items', (
    select pg_catalog.jsonb_agg(app.class_session_json(c) order by c.starts_at)
      from app.class_sessions c where c.org_id = s.org_id and c.id = any (v_ids)));
end
$$;
comment on function api.schedule_class_session(jsonb) is 'Schedules a class session (or one a week for repeatWeeks weeks, all or nothing) for a service with capacity above 1.';

create function api.list_class_sessions(p jsonb) returns jsonb
language plpgsql stable set search_path = '' as $$
declare
  v_from timestamptz := coalesce((p ->> 'from')::timestamptz, pg_catalog.now());
  v_to timestamptz := coalesce((p ->> 'to')::timestamptz, v_from + interval '31 days');
begin
  perform auth.require_scope('bookings:read');
  if v_to <= v_from then
    perform app.raise_invalid('to', 'range_end_before_start', 'to must be after from.');
  end if;
  if v_to - v_from > interval '92 days' then
    perform app.raise_invalid('to', 'range_too_long', 'Ask for at most 92 days at a time.');
  end if;
  return pg_catalog.jsonb_build_object('items', coalesce((
    select pg_catalog.jsonb_agg(app.class_session_json(cs) order by cs.starts_at, cs.id)
      from app.class_sessions cs
     where cs.org_id = auth.org_id() and cs.starts_at >= v_from and cs.starts_at < v_to
       and (p ->> 'serviceId' is null or cs.service_id = (p ->> 'serviceId')::uuid)
       and (p ->> 'staffId' is null or cs.staff_id = (p ->> 'staffId')::uuid)
       and (coalesce((p ->> 'includeCancelled')::boolean, false) or cs.active)), '[]'::jsonb));
end
$$;
comment on function api.list_class_sessions(jsonb) is 'Lists class sessions in a range (default the next 31 days) with seats booked, left and waiting.';

create function api.cancel_class_session(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  cs app.class_sessions;
begin
  perform auth.require_scope('bookings:write');
  perform app.require_manager();
  select * into cs from app.class_sessions where org_id = auth.org_id() and id = (p ->> 'classSessionId')::uuid for update;
  if not found then
    perform app.not_found('class session');
  end if;
  perform auth.require_confirmation('cancel_class_session');
  if not cs.active then
    return app.class_session_json(cs);
  end if;
  -- The session first, so that freed seats are not offered to the waiting list.
  update app.class_sessions set status = 'cancelled', updated_at = pg_catalog.now()
   where org_id = cs.org_id and id = cs.id;
  update app.bookings set status = 'cancelled', cancelled_at = pg_catalog.now(), cancelled_by_user_id = auth.user_id(),
                          cancel_reason = coalesce(p ->> 'reason', 'class cancelled'), late_cancel = false, fee_amount = 0,
                          updated_at = pg_catalog.now()
   where org_id = cs.org_id and class_session_id = cs.id and active;
  update app.waitlist_entries set status = 'closed', updated_at = pg_catalog.now()
   where org_id = cs.org_id and class_session_id = cs.id and status = 'waiting';
  select * into cs from app.class_sessions where org_id = cs.org_id and id = cs.id;
  return app.class_session_json(cs);
end
$$;
comment on function api.cancel_class_session(jsonb) is 'Cancels a class session with all its seat bookings (no fees) and closes its waiting list.';

create function app.waitlist_entry_json(w app.waitlist_entries) returns jsonb
language sql stable parallel safe as $$
  select pg_catalog.jsonb_build_object(
    'id', w.id,
    'classSessionId', w.class_session_id,
    'customerId', w.customer_id,
    'status', w.status,
    'position', case when w.status = 'waiting' then
                  (select count(*) from app.waitlist_entries o
                    where o.org_id = w.org_id and o.class_session_id = w.class_session_id and o.status = 'waiting'
                      and o.id <= w.id) end,
    'bookingId', w.booking_id,
    'createdAt', app.ts(w.created_at),
    'updatedAt', app.ts(w.updated_at))
$$;
grant execute on function app.waitlist_entry_json(app.waitlist_entries) to favcrm_member;

create function api.join_waitlist(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  cs app.class_sessions;
  v_customer uuid;
  w app.waitlist_entries;
begin
  perform auth.require_scope('bookings:write');
  select * into cs from app.class_sessions where org_id = auth.org_id() and id = (p ->> 'classSessionId')::uuid for update;
  if not found then
    perform app.not_found('class session');
  end if;
  if not cs.active or cs.starts_at <= pg_catalog.now() then
    raise exception using errcode = '55000', hint = 'class_not_open', message = 'The class session is cancelled or has started.';
  end if;
  if cs.booked_count < cs.capacity then
    raise exception using errcode = '55000', hint = 'seats_available',
      message = 'The class has free seats: book one with create_booking instead.';
  end if;
  v_customer := app.booking_customer(p);
  if exists (select from app.bookings b where b.org_id = cs.org_id and b.class_session_id = cs.id
                                          and b.customer_id = v_customer and b.active) then
    raise exception using errcode = '23505', hint = 'already_booked', message = 'This customer already has a seat in that class.';
  end if;
  begin
    insert into app.waitlist_entries (org_id, class_session_id, customer_id, staff_user_id)
    values (cs.org_id, cs.id, v_customer, cs.staff_user_id)
    returning * into w;
  exception when unique_violation then
    raise exception using errcode = '23505', hint = 'already_waiting', message = 'This customer is already on the waiting list.';
  end;
  return app.waitlist_entry_json(w);
end
$$;
comment on function api.join_waitlist(jsonb) is 'Puts a customer on the waiting list of a full class session; a freed seat goes to the first in line.';

create function api.leave_waitlist(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  w app.waitlist_entries;
begin
  perform auth.require_scope('bookings:write');
  select * into w from app.waitlist_entries where org_id = auth.org_id() and id = (p ->> 'waitlistEntryId')::uuid for update;
  if not found then
    perform app.not_found('waiting list entry');
  end if;
  if w.status = 'waiting' then
    update app.waitlist_entries set status = 'left', updated_at = pg_catalog.now()
     where org_id = w.org_id and id = w.id
     returning * into w;
  end if;
  return app.waitlist_entry_json(w);
end
$$;
comment on function api.leave_waitlist(jsonb) is 'Takes a customer off a waiting list. Leaving twice changes nothing.';

create function api.list_waitlist(p jsonb) returns jsonb
language plpgsql stable set search_path = '' as $$
declare
  cs app.class_sessions;
begin
  perform auth.require_scope('bookings:read');
  select * into cs from app.class_sessions where org_id = auth.org_id() and id = (p ->> 'classSessionId')::uuid;
  if not found then
    perform app.not_found('class session');
  end if;
  return pg_catalog.jsonb_build_object('items', coalesce((
    select pg_catalog.jsonb_agg(app.waitlist_entry_json(w) order by w.id)
      from app.waitlist_entries w
     where w.org_id = cs.org_id and w.class_session_id = cs.id
       and (coalesce((p ->> 'includeAll')::boolean, false) or w.status = 'waiting')), '[]'::jsonb));
end
$$;
comment on function api.list_waitlist(jsonb) is 'The waiting list of a class session, first in line first.';

grant execute on function api.schedule_class_session(jsonb), api.list_class_sessions(jsonb),
  api.cancel_class_session(jsonb), api.join_waitlist(jsonb), api.leave_waitlist(jsonb), api.list_waitlist(jsonb)
  to favcrm_member;

-- ---------------------------------------------------------------------------------------
-- Publishable keys: booking from a web page
-- ---------------------------------------------------------------------------------------
create table app.publishable_keys (
  org_id uuid not null references app.organisations (id),
  id uuid not null default app.uuid_v7(),
  name text not null check (pg_catalog.char_length(name) between 1 and 100),
  key_prefix text not null,
  key_digest bytea not null check (pg_catalog.length(key_digest) = 32),
  allowed_origins text[] not null
    check (pg_catalog.cardinality(allowed_origins) between 1 and 20),
  created_by uuid not null,
  revoked_at timestamptz,
  created_at timestamptz not null default pg_catalog.now(),
  primary key (org_id, id),
  unique (org_id, key_digest),
  foreign key (org_id, created_by) references app.memberships (org_id, user_id)
);
create index publishable_keys_key_digest_idx on app.publishable_keys (key_digest);
create index publishable_keys_org_id_created_by_idx on app.publishable_keys (org_id, created_by);
comment on table app.publishable_keys is 'fav_pk_… keys safe to embed in a web page: they may list active services, find slots and book for a customer by name, email or phone, from the allowed origins — nothing else.';
create trigger audit_change after insert or update or delete on app.publishable_keys
  for each row execute function audit.record_change('org_id', 'key_digest');
grant select, insert, update on app.publishable_keys to favcrm_member;

create function app.publishable_key_json(k app.publishable_keys) returns jsonb
language sql stable parallel safe as $$
  select pg_catalog.jsonb_build_object(
    'id', k.id, 'name', k.name, 'prefix', k.key_prefix, 'allowedOrigins', pg_catalog.to_jsonb(k.allowed_origins),
    'status', case when k.revoked_at is null then 'active' else 'revoked' end,
    'createdByUserId', k.created_by, 'createdAt', app.ts(k.created_at), 'revokedAt', app.ts(k.revoked_at))
$$;
grant execute on function app.publishable_key_json(app.publishable_keys) to favcrm_member;

create function api.create_publishable_key(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  v_secret text := auth.new_token('fav_pk_');
  v_origins text[] := array(select distinct pg_catalog.rtrim(pg_catalog.lower(o), '/')
                              from pg_catalog.jsonb_array_elements_text(coalesce(p -> 'allowedOrigins', '[]')) o order by 1);
  v_bad text;
  k app.publishable_keys;
begin
  perform auth.require_scope('keys:write');
  perform app.require_manager();
  select o into v_bad from pg_catalog.unnest(v_origins) o where o !~ '^https?://[a-z0-9.-]+(:[0-9]{1,5})?$' limit 1;
  if found then
    perform app.raise_invalid('allowedOrigins', 'invalid_origin',
      pg_catalog.format('%s is not an origin: scheme and host only, such as https://www.example.com.', v_bad));
  end if;
  insert into app.publishable_keys (org_id, name, key_prefix, key_digest, allowed_origins, created_by)
  values (auth.org_id(), pg_catalog.btrim(p ->> 'name'), pg_catalog.left(v_secret, 12), auth.sha256(v_secret), v_origins,
          auth.user_id())
  returning * into k;
  return app.publishable_key_json(k) || pg_catalog.jsonb_build_object('publishableKey', v_secret);
end
$$;
comment on function api.create_publishable_key(jsonb) is 'Creates a fav_pk_ key for web pages of the allowed origins (managers and above). The key is shown once.';

create function api.list_publishable_keys(p jsonb) returns jsonb
language plpgsql stable set search_path = '' as $$
begin
  perform auth.require_scope('keys:read');
  return pg_catalog.jsonb_build_object('items', coalesce((
    select pg_catalog.jsonb_agg(app.publishable_key_json(k) order by k.id desc)
      from app.publishable_keys k
     where k.org_id = auth.org_id() and (coalesce((p ->> 'includeRevoked')::boolean, false) or k.revoked_at is null)),
    '[]'::jsonb));
end
$$;
comment on function api.list_publishable_keys(jsonb) is 'Lists the organisation''s publishable keys (never the key itself).';

create function api.revoke_publishable_key(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  k app.publishable_keys;
begin
  perform auth.require_scope('keys:write');
  perform app.require_manager();
  select * into k from app.publishable_keys where org_id = auth.org_id() and id = (p ->> 'publishableKeyId')::uuid for update;
  if not found then
    perform app.not_found('publishable key');
  end if;
  perform auth.require_confirmation('revoke_publishable_key');
  update app.publishable_keys set revoked_at = coalesce(revoked_at, pg_catalog.now())
   where org_id = k.org_id and id = k.id returning * into k;
  return app.publishable_key_json(k);
end
$$;
comment on function api.revoke_publishable_key(jsonb) is 'Revokes a publishable key; pages using it can no longer book.';

-- The one door for publishable keys: runs as the owner role with the key's organisation in the
-- claims and the scopes of a web page, for three operations only.
create function auth.publishable_call(p_digest bytea, p_origin text, p_op text, p jsonb, p_context jsonb) returns jsonb
language plpgsql security definer set search_path = '' as $$
declare
  k app.publishable_keys;
begin
  select * into k from app.publishable_keys where key_digest = p_digest and revoked_at is null;
  if not found then
    raise exception using errcode = '28000', hint = 'invalid_api_key', message = 'The publishable key is unknown or revoked.';
  end if;
  if p_origin is not null and pg_catalog.rtrim(pg_catalog.lower(p_origin), '/') <> all (k.allowed_origins) then
    raise exception using errcode = '42501', hint = 'origin_not_allowed',
      message = pg_catalog.format('This publishable key is not allowed from %s.', p_origin);
  end if;
  if p_op not in ('list_services', 'get_available_slots', 'create_booking') then
    raise exception using errcode = '42501', hint = 'not_allowed_for_publishable_key',
      message = 'A publishable key can only list services, find slots and create bookings.';
  end if;
  perform pg_catalog.set_config('request.claims', pg_catalog.jsonb_build_object(
    'org_id', k.org_id, 'role', 'public', 'publishable_key_id', k.id,
    'scopes', pg_catalog.jsonb_build_array('bookings:read', 'bookings:write'),
    'via', p_context ->> 'via', 'op', p_op, 'request_id', p_context ->> 'request_id')::text, true);
  return case p_op
    when 'list_services' then api.list_services(p - 'includeArchived')
    when 'get_available_slots' then api.get_available_slots(p)
    when 'create_booking' then app.public_booking(p)
  end;
end
$$;
comment on function auth.publishable_call(bytea, text, text, jsonb, jsonb) is 'Runs list_services, get_available_slots or create_booking for a publishable key from an allowed origin, as a web page: active services only, bookings for a customer given by name, email or phone.';
revoke all on function auth.publishable_call(bytea, text, text, jsonb, jsonb) from public;
grant execute on function auth.publishable_call(bytea, text, text, jsonb, jsonb) to favcrm_anon;

-- A booking from a web page names its customer; it cannot pick an existing one by id.
create function app.public_booking(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
begin
  if p ? 'customerId' then
    perform app.raise_invalid('customerId', 'not_allowed_for_publishable_key',
      'A web page books with customer {name, email, phone}, not an existing customer id.');
  end if;
  if coalesce(p #>> '{customer,email}', p #>> '{customer,phone}') is null then
    perform app.raise_invalid('customer', 'contact_required', 'Give the customer''s email or phone.');
  end if;
  return api.create_booking(p);
end
$$;
revoke all on function app.public_booking(jsonb) from public;

grant execute on function api.create_publishable_key(jsonb), api.list_publishable_keys(jsonb),
  api.revoke_publishable_key(jsonb) to favcrm_member;

-- ---------------------------------------------------------------------------------------
-- A new organisation starts with example services for its industry (no staff yet, price 0:
-- the business sets its own), so that its first conversation has something to work on.
-- ---------------------------------------------------------------------------------------
create function app.industry_services(p_industry text)
returns table (name text, description text, duration_minutes int, capacity int)
language sql immutable parallel safe as $$
  select v.name, v.description, v.duration_minutes, v.capacity from (values
    ('beauty', 'Haircut', 'Wash, cut and style.', 45, 1),
    ('beauty', 'Colour', 'Full colour with toner.', 120, 1),
    ('beauty', 'Manicure', 'Shape, cuticles and polish.', 45, 1),
    ('fitness', 'Personal training', 'One-to-one session with a trainer.', 60, 1),
    ('fitness', 'Group class', 'A class for up to 12 people.', 60, 12),
    ('tutoring', 'Tutoring session', 'One-to-one lesson.', 60, 1),
    ('tutoring', 'Trial lesson', 'A first lesson to meet the tutor.', 30, 1),
    ('retail', 'Personal shopping appointment', 'Time with an adviser in the shop.', 45, 1),
    ('hospitality', 'Private dining', 'A table for a group, with a host.', 120, 1),
    ('services', 'Consultation', 'A first meeting to understand the need.', 30, 1),
    ('services', 'Appointment', 'A standard appointment.', 60, 1),
    ('other', 'Appointment', 'A standard appointment.', 60, 1)
  ) v (industry, name, description, duration_minutes, capacity)
  where v.industry = p_industry
$$;
comment on function app.industry_services(text) is 'Example services a new organisation of an industry starts with.';

create function app.seed_organisation() returns trigger
language plpgsql set search_path = '' as $$
begin
  insert into app.services (org_id, name, description, duration_minutes, price_amount, currency, capacity)
  select new.id, i.name, i.description, i.duration_minutes, 0, new.default_currency, i.capacity
    from app.industry_services(new.industry) i;
  return null;
end
$$;
comment on function app.seed_organisation() is 'Trigger: gives a new organisation the example services of its industry.';
revoke all on function app.seed_organisation() from public;
create trigger seed_services after insert on app.organisations
  for each row execute function app.seed_organisation();

grant execute on function api.list_services(jsonb), api.get_service(jsonb), api.create_service(jsonb),
  api.update_service(jsonb), api.archive_service(jsonb), api.list_staff(jsonb), api.create_staff(jsonb),
  api.update_staff(jsonb), api.list_resources(jsonb), api.create_resource(jsonb), api.update_resource(jsonb),
  api.get_working_hours(jsonb), api.set_working_hours(jsonb), api.add_time_off(jsonb), api.remove_time_off(jsonb),
  api.set_hours_exception(jsonb), api.remove_hours_exception(jsonb),
  api.add_closure(jsonb), api.list_closures(jsonb), api.get_available_slots(jsonb), api.create_booking(jsonb),
  api.get_booking(jsonb), api.list_bookings(jsonb), api.confirm_booking(jsonb), api.decline_booking(jsonb),
  api.cancel_booking(jsonb), api.reschedule_booking(jsonb), api.check_in_booking(jsonb), api.complete_booking(jsonb),
  api.mark_no_show(jsonb), api.get_booking_stats(jsonb)
  to favcrm_member;
