-- Booking messages and campaigns (issue 15, fourth part): the organisation's rules for what a
-- booking's events send (a confirmation, a reminder some hours before, a cancellation, a
-- waiting-list promotion, a no-show follow-up), and campaigns (a template to a segment of
-- customers). Both write messages through the outbox (V22). The rules are written at the top of
-- sql/operations/messaging.sql and sql/operations/campaigns.sql.

create table app.booking_message_rules (
  org_id uuid not null references app.organisations (id),
  id uuid not null default app.uuid_v7(),
  event text not null check (event in ('confirmation', 'reminder', 'cancellation', 'waitlist_promotion', 'no_show')),
  template_id uuid not null,
  hours_before int check (hours_before between 1 and 336),
  created_at timestamptz not null default pg_catalog.now(),
  removed_at timestamptz,
  primary key (org_id, id),
  foreign key (org_id, template_id) references app.message_templates (org_id, id),
  check ((event = 'reminder') = (hours_before is not null))
);
comment on table app.booking_message_rules is 'Which template a booking event sends: confirmation (a booking made or confirmed), reminder (hours_before its start), cancellation, waitlist_promotion (a seat given to the first in line), no_show.';
create unique index booking_message_rules_one on app.booking_message_rules (org_id, event, template_id, coalesce(hours_before, 0))
  where removed_at is null;

create table app.campaigns (
  org_id uuid not null references app.organisations (id),
  id uuid not null default app.uuid_v7(),
  name text not null check (pg_catalog.char_length(name) between 1 and 200),
  template_id uuid not null,
  segment jsonb not null default '{}' check (pg_catalog.jsonb_typeof(segment) = 'object'),
  send_at timestamptz,
  status text not null default 'draft' check (status in ('draft', 'awaiting_approval', 'sent', 'cancelled')),
  recipients int,
  skipped int,
  approval_id uuid,
  created_by_user_id uuid,
  created_at timestamptz not null default pg_catalog.now(),
  updated_at timestamptz not null default pg_catalog.now(),
  sent_at timestamptz,
  primary key (org_id, id),
  foreign key (org_id, template_id) references app.message_templates (org_id, id),
  foreign key (org_id, approval_id) references app.approvals (org_id, id)
);
comment on table app.campaigns is 'A template sent to a segment of customers (tag, lifecycle stage, inactive days, loyalty tier), each consenting recipient a message of its own.';
comment on column app.campaigns.segment is '{tag, lifecycleStage, inactiveDays, loyaltyTier}: every condition given must hold.';
comment on column app.campaigns.recipients is 'Messages written when it was sent; skipped: customers of the segment without consent or a contact then.';

alter table app.messages add column rule_id uuid;
alter table app.messages add column campaign_id uuid;
alter table app.messages add foreign key (org_id, rule_id) references app.booking_message_rules (org_id, id);
alter table app.messages add foreign key (org_id, campaign_id) references app.campaigns (org_id, id);
comment on column app.messages.rule_id is 'The booking message rule that wrote it: one message per booking and rule (not cancelled).';
comment on column app.messages.campaign_id is 'The campaign that wrote it.';
create unique index messages_one_per_booking_rule on app.messages (org_id, booking_id, rule_id)
  where rule_id is not null and status <> 'cancelled';
create index messages_by_campaign on app.messages (org_id, campaign_id, status) where campaign_id is not null;

grant select, insert, update on app.booking_message_rules, app.campaigns to favcrm_member;

create trigger audit_change after insert or update or delete on app.booking_message_rules
  for each row execute function audit.record_change('org_id');
create trigger audit_change after insert or update or delete on app.campaigns
  for each row execute function audit.record_change('org_id');

-- A booking's events write its messages in the transaction of the change (the rules in
-- sql/operations/messaging.sql, "Booking messages").
create function app.messages_on_booking() returns trigger
language plpgsql set search_path = '' as $$
begin
  perform app.booking_messages(tg_op, old, new);
  return null;
end
$$;
comment on function app.messages_on_booking() is 'Trigger: a booking made, confirmed, moved, cancelled or marked a no-show writes the messages its organisation''s rules ask for (app.booking_messages).';
create trigger messages after insert or update of status, starts_at on app.bookings
  for each row execute function app.messages_on_booking();

create function app.messages_on_booking_event() returns trigger
language plpgsql set search_path = '' as $$
begin
  perform app.booking_event_messages(new);
  return null;
end
$$;
comment on function app.messages_on_booking_event() is 'Trigger: a waiting-list promotion writes the message its organisation''s rules ask for (app.booking_event_messages).';
create trigger messages after insert on app.booking_events
  for each row execute function app.messages_on_booking_event();
