-- Campaigns: one template to a segment of customers.
--
-- The rules, once:
--   * A segment is every customer (not deleted) matching all the conditions given: a tag, a
--     lifecycle stage, no activity for inactiveDays (or none ever), a loyalty tier.
--   * Each recipient gets a message of their own, rendered for them, through the outbox, with
--     the campaign's id, so its delivery states count up per campaign (get_campaign).
--   * Consent decides, per recipient, as for any message: a marketing template goes only to
--     customers who consented on its channel; those without consent or a contact are skipped and
--     counted. Quiet hours hold each message until they end.
--   * send_campaign with an agent key waits for a person's approval (send_campaign is in the
--     organisation's approval list unless taken off): the approval's snapshot is every message as
--     rendered, with its recipient; approving writes exactly those (a recipient who withdrew
--     consent meanwhile is skipped), once. A campaign is sent once.
--   * At most 10,000 recipients per campaign.

create function app.campaign_json(c app.campaigns) returns jsonb
language sql stable parallel safe as $$
  select pg_catalog.jsonb_build_object(
    'id', c.id,
    'name', c.name,
    'templateId', c.template_id,
    'channel', (select t.channel from app.message_templates t where t.org_id = c.org_id and t.id = c.template_id),
    'segment', c.segment,
    'sendAt', app.ts(c.send_at),
    'status', c.status,
    'recipients', c.recipients,
    'skipped', c.skipped,
    'approvalId', c.approval_id,
    'messages', (select pg_catalog.jsonb_build_object(
                          'total', pg_catalog.count(*),
                          'scheduled', pg_catalog.count(*) filter (where m.status = 'scheduled'),
                          'queued', pg_catalog.count(*) filter (where m.status = 'queued'),
                          'sent', pg_catalog.count(*) filter (where m.status in ('sent', 'delivered', 'read')),
                          'delivered', pg_catalog.count(*) filter (where m.status in ('delivered', 'read')),
                          'read', pg_catalog.count(*) filter (where m.status = 'read'),
                          'failed', pg_catalog.count(*) filter (where m.status = 'failed'))
                   from app.messages m where m.org_id = c.org_id and m.campaign_id = c.id),
    'createdAt', app.ts(c.created_at),
    'updatedAt', app.ts(c.updated_at),
    'sentAt', app.ts(c.sent_at))
$$;
comment on function app.campaign_json(app.campaigns) is 'The API representation of a campaign, with its messages counted by delivery state.';
grant execute on function app.campaign_json(app.campaigns) to favcrm_member;

create function app.require_campaign_role(p_scope text) returns void
language plpgsql stable set search_path = '' as $$
begin
  perform auth.require_scope(p_scope);
  if auth.role_rank(auth.role()) < auth.role_rank('manager') then
    raise exception using errcode = '42501', hint = 'forbidden', message = 'Only managers and above see and send campaigns.';
  end if;
end
$$;
comment on function app.require_campaign_role(text) is 'Raises 42501 unless the caller holds the scope and is a manager or above.';
grant execute on function app.require_campaign_role(text) to favcrm_member;

create function api.create_campaign(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  c app.campaigns;
  v_segment jsonb := coalesce(p -> 'segment', '{}');
begin
  perform app.require_campaign_role('messaging:write');
  if not exists (select from app.message_templates t
                  where t.org_id = auth.org_id() and t.id = (p ->> 'templateId')::uuid and t.archived_at is null) then
    perform app.not_found('template', 'templateId');
  end if;
  if exists (select from app.message_templates t where t.org_id = auth.org_id() and t.id = (p ->> 'templateId')::uuid
                and (t.variables && array['booking.date', 'booking.end_time', 'booking.service', 'booking.staff',
                                          'booking.start', 'booking.time', 'invoice.amount_due', 'invoice.due_date',
                                          'invoice.link', 'invoice.number', 'invoice.total'])) then
    perform app.raise_invalid('templateId', 'template_needs_a_booking',
      'A campaign''s template can use the customer''s and the organisation''s variables only (no booking or invoice).');
  end if;
  if (p ->> 'sendAt')::timestamptz not between pg_catalog.now() - interval '1 minute' and pg_catalog.now() + interval '1 year' then
    perform app.raise_invalid('sendAt', 'out_of_range', 'sendAt must be from now to a year ahead.');
  end if;
  insert into app.campaigns (org_id, name, template_id, segment, send_at, created_by_user_id)
  values (auth.org_id(), pg_catalog.btrim(p ->> 'name'), (p ->> 'templateId')::uuid, v_segment,
          (p ->> 'sendAt')::timestamptz, auth.user_id())
  returning * into c;
  return app.campaign_json(c);
end
$$;
comment on function api.create_campaign(jsonb) is 'Drafts a campaign: a template (customer and organisation variables only) for a segment (tag, lifecycle stage, inactive days, loyalty tier), to go now or at sendAt.';
grant execute on function api.create_campaign(jsonb) to favcrm_member;

create function app.campaign(p_id uuid, p_lock boolean) returns app.campaigns
language plpgsql set search_path = '' as $$
declare
  c app.campaigns;
begin
  if p_lock then
    select * into c from app.campaigns where org_id = auth.org_id() and id = p_id for update;
  else
    select * into c from app.campaigns where org_id = auth.org_id() and id = p_id;
  end if;
  if not found then
    perform app.not_found('campaign', 'campaignId');
  end if;
  return c;
end
$$;
comment on function app.campaign(uuid, boolean) is 'A campaign of the caller''s organisation (locked if asked), or 404.';
grant execute on function app.campaign(uuid, boolean) to favcrm_member;

-- The customers of a campaign's segment, oldest first.
create function app.campaign_segment(c app.campaigns) returns setof app.customers
language sql stable set search_path = '' as $$
  select cu.* from app.customers cu
   where cu.org_id = c.org_id and cu.deleted_at is null
     and (c.segment ->> 'tag' is null or cu.tags @> array[c.segment ->> 'tag'])
     and (c.segment ->> 'lifecycleStage' is null or cu.lifecycle_stage = c.segment ->> 'lifecycleStage')
     and (c.segment ->> 'inactiveDays' is null
          or coalesce(cu.last_activity_at, cu.created_at)
             < pg_catalog.now() - pg_catalog.make_interval(days => (c.segment ->> 'inactiveDays')::int))
     and (c.segment ->> 'loyaltyTier' is null
          or exists (select from app.loyalty_members lm
                      where lm.org_id = cu.org_id and lm.customer_id = cu.id and lm.tier = c.segment ->> 'loyaltyTier'))
   order by cu.id
$$;
comment on function app.campaign_segment(app.campaigns) is 'The customers a campaign''s segment names (every condition given must hold).';
grant execute on function app.campaign_segment(app.campaigns) to favcrm_member;

-- Every message of a campaign as it would be sent, and who is skipped and why.
create function app.compose_campaign(c app.campaigns) returns jsonb
language plpgsql stable set search_path = '' as $$
declare
  cu app.customers;
  v_composed jsonb;
  v_messages jsonb[] := '{}';
  v_skipped jsonb := '{}';
  v_code text;
  v_total int := 0;
begin
  for cu in select * from app.campaign_segment(c) loop
    v_total := v_total + 1;
    v_composed := app.compose_message(pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(
      'customerId', cu.id, 'templateId', c.template_id, 'sendAt', app.ts(c.send_at))));
    if (v_composed ->> 'canSend')::boolean then
      v_messages := v_messages || (v_composed - 'refusals' - 'canSend' - 'consent'
                                   || pg_catalog.jsonb_build_object('campaignId', c.id));
    else
      v_code := v_composed -> 'refusals' -> 0 ->> 'code';
      v_skipped := v_skipped || pg_catalog.jsonb_build_object(v_code, coalesce((v_skipped ->> v_code)::int, 0) + 1);
    end if;
    if pg_catalog.cardinality(v_messages) > 10000 then
      raise exception using errcode = '55000', hint = 'campaign_too_large', column = 'campaignId',
        message = 'A campaign goes to at most 10,000 customers: narrow the segment.';
    end if;
  end loop;
  return pg_catalog.jsonb_build_object('segmentSize', v_total, 'messages', pg_catalog.to_jsonb(v_messages),
                                       'skipped', v_skipped);
end
$$;
comment on function app.compose_campaign(app.campaigns) is 'Every message of a campaign as it would be sent (rendered per recipient), and how many of the segment would be skipped, by reason.';
grant execute on function app.compose_campaign(app.campaigns) to favcrm_member;

create function api.preview_campaign(p jsonb) returns jsonb
language plpgsql stable set search_path = '' as $$
declare
  c app.campaigns;
  v jsonb;
begin
  perform app.require_campaign_role('messaging:read');
  c := app.campaign((p ->> 'campaignId')::uuid, false);
  v := app.compose_campaign(c);
  return pg_catalog.jsonb_build_object(
    'campaignId', c.id,
    'segmentSize', v -> 'segmentSize',
    'recipients', pg_catalog.jsonb_array_length(v -> 'messages'),
    'skipped', v -> 'skipped',
    'sample', coalesce((select pg_catalog.jsonb_agg(x) from (select x from pg_catalog.jsonb_array_elements(v -> 'messages') x
                                                             limit coalesce((p ->> 'sampleSize')::int, 5)) s), '[]'));
end
$$;
comment on function api.preview_campaign(jsonb) is 'How many customers of a campaign''s segment it would reach after consent and contacts, how many it would skip and why, and a sample of the messages as rendered. Changes nothing.';
grant execute on function api.preview_campaign(jsonb) to favcrm_member;

-- Writes a campaign's messages (approved, or sent by a caller who needs no approval); a
-- recipient who withdrew consent since they were composed is skipped.
create function app.carry_out_campaign(p_snapshot jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  c app.campaigns := app.campaign((p_snapshot ->> 'campaignId')::uuid, true);
  v_message jsonb;
  v_written int := 0;
  v_withdrawn int := 0;
  v_after timestamptz;
begin
  if c.status in ('sent', 'cancelled') then
    raise exception using errcode = '55000', hint = 'campaign_sent', column = 'campaignId',
      message = pg_catalog.format('This campaign was %s already.', c.status);
  end if;
  for v_message in select * from pg_catalog.jsonb_array_elements(p_snapshot -> 'messages') loop
    if v_message ->> 'purpose' = 'marketing' and not exists (
         select from app.customers cu
          where cu.org_id = auth.org_id() and cu.id = (v_message ->> 'customerId')::uuid and cu.deleted_at is null
            and coalesce((cu.marketing_consent -> (v_message ->> 'channel') ->> 'granted')::boolean, false)) then
      v_withdrawn := v_withdrawn + 1;
      continue;
    end if;
    v_after := greatest(coalesce((v_message ->> 'sendAfter')::timestamptz, pg_catalog.now()), pg_catalog.now());
    if v_message ->> 'purpose' = 'marketing' then
      v_after := app.after_quiet_hours(v_after);
    end if;
    perform app.write_message(v_message || pg_catalog.jsonb_build_object('sendAfter', app.ts(v_after)), 'campaign');
    v_written := v_written + 1;
  end loop;
  update app.campaigns
     set status = 'sent', sent_at = pg_catalog.now(), updated_at = pg_catalog.now(), recipients = v_written,
         skipped = (select coalesce(sum(v::int), 0) from pg_catalog.jsonb_each_text(p_snapshot -> 'skipped') s(k, v))
                   + v_withdrawn
   where org_id = c.org_id and id = c.id
  returning * into c;
  return app.campaign_json(c);
end
$$;
comment on function app.carry_out_campaign(jsonb) is 'Writes a campaign''s messages exactly as composed (each through the outbox), skipping recipients who withdrew consent since, and marks it sent.';
grant execute on function app.carry_out_campaign(jsonb) to favcrm_member;

create function api.send_campaign(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  c app.campaigns;
  v jsonb;
  v_gate jsonb;
begin
  perform app.require_campaign_role('messaging:write');
  c := app.campaign((p ->> 'campaignId')::uuid, true);
  -- Waiting for an approval that can no longer be given (expired, failed): a draft again.
  if c.status = 'awaiting_approval' and not exists (
       select from app.approvals a where a.org_id = c.org_id and a.id = c.approval_id
          and (a.status = 'approved' or (a.status = 'pending' and a.expires_at > pg_catalog.now()))) then
    c.status := 'draft';
  end if;
  if c.status <> 'draft' then
    raise exception using errcode = '55000', hint = 'campaign_not_draft', column = 'campaignId',
      message = pg_catalog.format('This campaign is %s: only a draft is sent.', pg_catalog.replace(c.status, '_', ' '));
  end if;
  v := app.compose_campaign(c) || pg_catalog.jsonb_build_object('campaignId', c.id);
  v_gate := app.approval_gate('send_campaign', v, pg_catalog.format('Campaign "%s": %s messages by %s (%s skipped)',
    c.name, pg_catalog.jsonb_array_length(v -> 'messages'),
    (select t.channel from app.message_templates t where t.org_id = c.org_id and t.id = c.template_id),
    (select coalesce(sum(x::int), 0) from pg_catalog.jsonb_each_text(v -> 'skipped') s(k, x))));
  if v_gate is not null then
    update app.campaigns set status = 'awaiting_approval', approval_id = (v_gate #>> '{_approvalRequired,id}')::uuid,
                             updated_at = pg_catalog.now()
     where org_id = c.org_id and id = c.id;
    return v_gate;
  end if;
  return app.carry_out_campaign(v);
end
$$;
comment on function api.send_campaign(jsonb) is 'Sends a draft campaign: a message per consenting recipient, rendered for them, through the outbox (an agent key''s send waits for approval of exactly those messages).';
grant execute on function api.send_campaign(jsonb) to favcrm_member;

create function api.get_campaign(p jsonb) returns jsonb
language plpgsql stable set search_path = '' as $$
begin
  perform app.require_campaign_role('messaging:read');
  return app.campaign_json(app.campaign((p ->> 'campaignId')::uuid, false));
end
$$;
comment on function api.get_campaign(jsonb) is 'One campaign with its messages counted by delivery state (scheduled, queued, sent, delivered, read, failed).';
grant execute on function api.get_campaign(jsonb) to favcrm_member;

create function api.list_campaigns(p jsonb) returns json
language plpgsql stable set search_path = '' as $$
declare
  v_limit int := app.page_limit(p);
  v_after uuid := app.decode_cursor(p ->> 'cursor');
begin
  perform app.require_campaign_role('messaging:read');
  return (
    select app.page_json(pg_catalog.json_agg(app.campaign_json(x.c) order by x.n) filter (where x.n <= v_limit),
                         (pg_catalog.array_agg(x.id) filter (where x.n = v_limit))[1],
                         pg_catalog.count(*) > v_limit)
      from (select c.id, c, pg_catalog.row_number() over (order by c.id desc) n
              from app.campaigns c
             where c.org_id = auth.org_id()
               and (p ->> 'status' is null or c.status = p ->> 'status')
               and (v_after is null or c.id < v_after)
             order by c.id desc
             limit v_limit + 1) x);
end
$$;
comment on function api.list_campaigns(jsonb) is 'Campaigns, newest first, with their delivery counts.';
grant execute on function api.list_campaigns(jsonb) to favcrm_member;
