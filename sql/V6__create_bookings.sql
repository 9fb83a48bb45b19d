-- Bookings: services, staff, resources, working hours, time off, closures, availability and
-- appointments that PostgreSQL itself refuses to double-book.
--
-- Times: bookings are timestamptz (UTC on the wire). Working hours are wall-clock times in the
-- organisation's time zone and are expanded per date, so 09:00 stays 09:00 across DST changes.

create extension if not exists btree_gist with schema ext;

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
-- Classes: a seat booking's end frees its seat
-- ---------------------------------------------------------------------------------------
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

