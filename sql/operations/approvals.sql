-- Approvals: what an agent asks for that a person must approve first.
--
-- The rules, once:
--   * The organisation names the operations that need approval when an agent key (fav_mcp_)
--     calls them (app.approval_settings; until set: send_message, send_campaign and
--     refund_payment). Such a call changes nothing else: it writes an approval holding an
--     immutable snapshot of exactly what would happen (the message as rendered, with its
--     recipient and channel; the refund's payment and amount) and answers approval_required
--     with it. For these operations the approval replaces the confirmation step; confirmation
--     stays for every other destructive operation.
--   * App keys (fav_sk_) and people approve or reject, with approvals:decide and the role the
--     operation itself needs (a message: manager; a refund: admin). An agent key never decides,
--     so the key that asked cannot approve its own request; nor does it change the approval
--     settings.
--   * Approving carries out exactly the snapshot, once: a second approve answers with the same
--     approval and does nothing again. If what it would do is no longer allowed (the customer
--     withdrew consent, the payment was refunded meanwhile), the approval is failed with the
--     reason and nothing happens. A marketing message approved during quiet hours waits until
--     they end, as any would.
--   * The person confirms, not the model: when the agent's MCP client can ask its person
--     (elicitation), the server offers a secret's digest with the call (claim person_digest);
--     the approval keeps it if the organisation lets people approve in their client
--     (approve_in_client, the default) and the key's member has the role the operation needs.
--     The client then shows the person the snapshot; an approve carrying the same digest, from
--     the key that asked, is theirs (decided_via mcp_elicitation). The secret never reaches the
--     model, so the model cannot approve its own request.
--   * An approval not decided by its expiry (72 hours unless set) is expired: it can no longer
--     be approved.

create function app.approval_settings() returns app.approval_settings
language sql stable set search_path = '' as $$
  select coalesce(
    (select s from app.approval_settings s where s.org_id = auth.org_id()),
    row(auth.org_id(), null, array['refund_payment', 'send_campaign', 'send_message'], 72, null, true)::app.approval_settings)
$$;
comment on function app.approval_settings() is 'The caller''s organisation''s approval settings, or the defaults (send_message, send_campaign and refund_payment need approval; 72 hours; people may approve in their MCP client).';
grant execute on function app.approval_settings() to favcrm_member;

create function app.approvable_operations() returns text[]
language sql immutable parallel safe as $$
  select array['refund_payment', 'send_campaign', 'send_message']
$$;
comment on function app.approvable_operations() is 'The operations an organisation may put behind approval (each calls app.approval_gate).';
grant execute on function app.approvable_operations() to favcrm_member;

create function app.approval_settings_json(s app.approval_settings) returns jsonb
language sql stable parallel safe as $$
  select pg_catalog.jsonb_build_object(
    'operations', pg_catalog.to_jsonb(s.operations),
    'expiresAfterHours', s.expires_after_hours,
    'approveInClient', s.approve_in_client,
    'approvableOperations', pg_catalog.to_jsonb(app.approvable_operations()),
    'updatedAt', app.ts(s.updated_at))
$$;
comment on function app.approval_settings_json(app.approval_settings) is 'The API representation of the approval settings.';
grant execute on function app.approval_settings_json(app.approval_settings) to favcrm_member;

create function api.get_approval_settings(p jsonb) returns jsonb
language plpgsql stable set search_path = '' as $$
begin
  perform auth.require_scope('approvals:read');
  return app.approval_settings_json(app.approval_settings());
end
$$;
comment on function api.get_approval_settings(jsonb) is 'Which operations an agent''s call turns into an approval, and how long approvals wait.';
grant execute on function api.get_approval_settings(jsonb) to favcrm_member;

create function api.update_approval_settings(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  s app.approval_settings := app.approval_settings();
  v_bad text;
begin
  perform auth.require_scope('approvals:write');
  -- The rules that hold agents back are not theirs to change.
  if coalesce(auth.claims() ->> 'key_kind', 'agent') = 'agent' then
    raise exception using errcode = '42501', hint = 'agent_cannot_decide',
      message = 'An agent key cannot change what needs approval: a person does (with an app key).';
  end if;
  if auth.role_rank(auth.role()) < auth.role_rank('admin') then
    raise exception using errcode = '42501', hint = 'forbidden', message = 'Only admins and owners change the approval settings.';
  end if;
  if p ? 'operations' then
    s.operations := array(select distinct o from pg_catalog.jsonb_array_elements_text(p -> 'operations') o order by o);
    select o into v_bad from pg_catalog.unnest(s.operations) o where o <> all (app.approvable_operations()) limit 1;
    if v_bad is not null then
      perform app.raise_invalid('operations', 'not_approvable',
        pg_catalog.format('%s cannot be put behind approval. Operations: %s.', v_bad,
                          pg_catalog.array_to_string(app.approvable_operations(), ', ')));
    end if;
  end if;
  s.expires_after_hours := coalesce((p ->> 'expiresAfterHours')::int, s.expires_after_hours);
  s.approve_in_client := coalesce((p ->> 'approveInClient')::boolean, s.approve_in_client);
  insert into app.approval_settings (org_id, operations, expires_after_hours, approve_in_client)
  values (auth.org_id(), s.operations, s.expires_after_hours, s.approve_in_client)
  on conflict (org_id) do update
     set operations = excluded.operations, expires_after_hours = excluded.expires_after_hours,
         approve_in_client = excluded.approve_in_client, updated_at = pg_catalog.now()
   where (app.approval_settings.operations, app.approval_settings.expires_after_hours,
          app.approval_settings.approve_in_client)
         is distinct from (excluded.operations, excluded.expires_after_hours, excluded.approve_in_client);
  return app.approval_settings_json(app.approval_settings());
end
$$;
comment on function api.update_approval_settings(jsonb) is 'Sets which operations need approval when an agent key calls them, how long approvals wait, and whether the person at an MCP client that can ask them may approve there.';
grant execute on function api.update_approval_settings(jsonb) to favcrm_member;

create function app.approval_json(a app.approvals) returns jsonb
language sql stable parallel safe as $$
  select pg_catalog.jsonb_build_object(
    'id', a.id,
    'operation', a.operation,
    'summary', a.summary,
    'snapshot', a.snapshot,
    'status', case when a.status = 'pending' and a.expires_at <= pg_catalog.now() then 'expired' else a.status end,
    'requestedByKeyId', a.requested_by_key_id,
    'requestedByUserId', a.requested_by_user_id,
    'requestedVia', a.requested_via,
    'decidableInClient', a.person_digest is not null,
    'decidedByKeyId', a.decided_by_key_id,
    'decidedByUserId', a.decided_by_user_id,
    'decidedVia', a.decided_via,
    'decidedAt', app.ts(a.decided_at),
    'note', a.decision_note,
    'result', a.result,
    'error', a.error,
    'expiresAt', app.ts(a.expires_at),
    'createdAt', app.ts(a.created_at))
$$;
comment on function app.approval_json(app.approvals) is 'The API representation of an approval: what it would do (snapshot), its status (expired once pending past its expiry), who asked and who decided, and what carrying it out gave.';
grant execute on function app.approval_json(app.approvals) to favcrm_member;

-- Called by an approvable operation once it knows exactly what it would do: NULL to go ahead,
-- or, for an agent key when the organisation asks for approval, the approval written, as
-- {_approvalRequired: approval}, which the operation returns instead of acting.
create function app.approver_role(p_operation text) returns text
language sql immutable parallel safe as $$
  select case p_operation when 'refund_payment' then 'admin' else 'manager' end
$$;
comment on function app.approver_role(text) is 'The least role that decides on an approval of the operation: admin for refunds, manager otherwise.';
grant execute on function app.approver_role(text) to favcrm_member;

create function app.approval_gate(p_operation text, p_snapshot jsonb, p_summary text) returns jsonb
language plpgsql set search_path = '' as $$
declare
  s app.approval_settings;
  a app.approvals;
  v_person bytea;
begin
  if coalesce(auth.claims() ->> 'key_kind', 'agent') <> 'agent' then
    return null;
  end if;
  s := app.approval_settings();
  if p_operation <> all (s.operations) then
    return null;
  end if;
  -- The client can ask its person, who may decide there: the secret's digest is kept.
  if s.approve_in_client and auth.role_rank(auth.role()) >= auth.role_rank(app.approver_role(p_operation)) then
    v_person := pg_catalog.decode(auth.claims() ->> 'person_digest', 'hex');
  end if;
  insert into app.approvals (org_id, operation, summary, snapshot, requested_by_key_id, requested_by_user_id,
                             requested_via, expires_at, person_digest)
  values (auth.org_id(), p_operation, p_summary, p_snapshot, auth.key_id(), auth.user_id(), auth.claims() ->> 'via',
          pg_catalog.now() + pg_catalog.make_interval(hours => s.expires_after_hours), v_person)
  returning * into a;
  return pg_catalog.jsonb_build_object('_approvalRequired', app.approval_json(a));
end
$$;
comment on function app.approval_gate(text, jsonb, text) is 'For an agent key''s call of an operation the organisation puts behind approval: writes the approval with its snapshot (and, when the client can ask its person and they may decide, the digest of the secret it holds for them) and returns it (under _approvalRequired); NULL otherwise.';
grant execute on function app.approval_gate(text, jsonb, text) to favcrm_member;

create function app.person_decides(a app.approvals) returns boolean
language sql stable parallel safe set search_path = '' as $$
  select a.person_digest is not null
     and a.requested_by_key_id is not distinct from auth.key_id()
     and auth.claims() ->> 'person_digest' is not null
     and pg_catalog.decode(auth.claims() ->> 'person_digest', 'hex') = a.person_digest
$$;
comment on function app.person_decides(app.approvals) is 'Whether the caller is the person at the MCP client that asked for the approval: the key that asked, carrying the secret whose digest the approval keeps.';
grant execute on function app.person_decides(app.approvals) to favcrm_member;

create function app.require_approver(a app.approvals) returns void
language plpgsql stable set search_path = '' as $$
declare
  v_role text := app.approver_role(a.operation);
begin
  if app.person_decides(a) then
    -- The person at the client that asked, holding its secret: their role still counts, and the
    -- organisation may have stopped letting people decide in their client since.
    if not (app.approval_settings()).approve_in_client then
      raise exception using errcode = '42501', hint = 'forbidden',
        message = 'The organisation no longer lets people approve in their MCP client: the approval waits in the inbox.';
    end if;
  else
    perform auth.require_scope('approvals:decide');
  end if;
  if coalesce(auth.claims() ->> 'key_kind', 'agent') = 'agent' and not app.person_decides(a) then
    raise exception using errcode = '42501', hint = 'agent_cannot_decide',
      message = 'An agent key cannot approve or reject: a person decides (in the approval inbox, or with an app key).';
  end if;
  if a.requested_by_key_id is not distinct from auth.key_id() and auth.key_id() is not null
     and not app.person_decides(a) then
    raise exception using errcode = '42501', hint = 'own_request', message = 'The key that asked cannot decide.';
  end if;
  if auth.role_rank(auth.role()) < auth.role_rank(v_role) then
    raise exception using errcode = '42501', hint = 'forbidden',
      message = pg_catalog.format('Only %s decide on %s.', case v_role when 'admin' then 'admins and owners'
                                                              else 'managers and above' end, a.operation);
  end if;
end
$$;
comment on function app.require_approver(app.approvals) is 'Raises 42501 unless the caller may decide the approval: approvals:decide, not an agent key, not the key that asked, and the role its operation needs; or the person at the client that asked, holding its secret, with that role, where the organisation allows it.';
grant execute on function app.require_approver(app.approvals) to favcrm_member;

create function app.approval_for_decision(p_id uuid) returns app.approvals
language plpgsql set search_path = '' as $$
declare
  a app.approvals;
begin
  select * into a from app.approvals where org_id = auth.org_id() and id = p_id for update;
  if not found then
    perform app.not_found('approval', 'approvalId');
  end if;
  perform app.require_approver(a);
  return a;
end
$$;
comment on function app.approval_for_decision(uuid) is 'The approval, locked, once the caller may decide it; or 404.';
grant execute on function app.approval_for_decision(uuid) to favcrm_member;

-- A message approved: sent as it was rendered, if the customer can still get it.
create function app.carry_out_message(p_snapshot jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  c app.customers;
  v_composed jsonb := p_snapshot;
  v_after timestamptz;
begin
  select * into c from app.customers where org_id = auth.org_id() and id = (p_snapshot ->> 'customerId')::uuid;
  if not found or c.deleted_at is not null then
    perform app.not_found('customer', 'customerId');
  end if;
  if p_snapshot ->> 'purpose' = 'marketing'
     and not coalesce((c.marketing_consent -> (p_snapshot ->> 'channel') ->> 'granted')::boolean, false) then
    raise exception using errcode = '55000', hint = 'no_consent', column = 'customerId',
      message = pg_catalog.format('The customer has not (or no longer) consented to marketing by %s.', p_snapshot ->> 'channel');
  end if;
  if p_snapshot ->> 'channel' <> 'email' and not auth.channel_connected(p_snapshot ->> 'channel') then
    raise exception using errcode = '55000', hint = 'channel_not_connected', column = 'channel',
      message = pg_catalog.format('No %s channel is connected now.', p_snapshot ->> 'channel');
  end if;
  v_after := greatest(coalesce((p_snapshot ->> 'sendAfter')::timestamptz, pg_catalog.now()), pg_catalog.now());
  if p_snapshot ->> 'purpose' = 'marketing' then
    v_after := app.after_quiet_hours(v_after);
  end if;
  v_composed := v_composed || pg_catalog.jsonb_build_object('sendAfter', app.ts(v_after));
  return app.message_json(app.write_message(v_composed, 'approval'));
end
$$;
comment on function app.carry_out_message(jsonb) is 'Sends an approved message exactly as it was rendered, refusing when the customer is gone, withdrew consent or the channel was disconnected.';
grant execute on function app.carry_out_message(jsonb) to favcrm_member;

create function api.approve(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  a app.approvals;
  v_result jsonb;
  v_error text;
  v_code text;
  v_stripe jsonb;
begin
  a := app.approval_for_decision((p ->> 'approvalId')::uuid);
  if a.status = 'approved' then
    -- Approved already: carried out then, not again.
    return app.approval_json(a);
  elsif a.status <> 'pending' then
    raise exception using errcode = '55000', hint = 'approval_decided', column = 'approvalId',
      message = pg_catalog.format('This approval was %s already.', a.status);
  elsif a.expires_at <= pg_catalog.now() then
    perform auth.raise_gone('approval_expired', 'This approval expired before anyone decided; the agent must ask again.');
  end if;
  begin
    -- Carried out as the person approving it, with the approval as its confirmation.
    perform auth.set_claims(auth.claims() || pg_catalog.jsonb_build_object('approval_id', a.id));
    v_result := case a.operation
      when 'send_message' then app.carry_out_message(a.snapshot)
      when 'send_campaign' then app.carry_out_campaign(a.snapshot)
      when 'refund_payment' then api.refund_payment(a.snapshot -> 'input')
    end;
  exception
    -- What it would do is no longer allowed (a business refusal): failed, nothing done. Any
    -- other error (a conflict to retry, a fault) is raised as it is and changes nothing.
    when sqlstate '55000' or sqlstate '22023' or sqlstate 'P0002' or sqlstate '23505' or sqlstate '23514'
         or insufficient_privilege then
      get stacked diagnostics v_code = pg_exception_hint;
      v_error := coalesce(nullif(v_code, '') || ': ', '') || sqlerrm;
  end;
  v_stripe := v_result -> '_stripe';
  update app.approvals
     set status = case when v_error is null then 'approved' else 'failed' end,
         decided_by_key_id = auth.key_id(), decided_by_user_id = auth.user_id(),
         decided_via = case when app.person_decides(a) then 'mcp_elicitation' else auth.claims() ->> 'via' end,
         decided_at = pg_catalog.now(), decision_note = p ->> 'note', result = v_result - '_stripe', error = v_error
   where org_id = a.org_id and id = a.id
  returning * into a;
  return app.approval_json(a) || case when v_stripe is not null
                                      then pg_catalog.jsonb_build_object('_stripe', v_stripe) else '{}'::jsonb end;
end
$$;
comment on function api.approve(jsonb) is 'Approves a pending approval and carries out exactly its snapshot, once (approving again changes nothing); failed, with the reason, when what it would do is no longer allowed.';
grant execute on function api.approve(jsonb) to favcrm_member;

create function api.reject(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  a app.approvals;
begin
  a := app.approval_for_decision((p ->> 'approvalId')::uuid);
  if a.status = 'rejected' then
    return app.approval_json(a);
  elsif a.status <> 'pending' then
    raise exception using errcode = '55000', hint = 'approval_decided', column = 'approvalId',
      message = pg_catalog.format('This approval was %s already.', a.status);
  elsif a.expires_at <= pg_catalog.now() then
    perform auth.raise_gone('approval_expired', 'This approval expired before anyone decided.');
  end if;
  update app.approvals
     set status = 'rejected', decided_by_key_id = auth.key_id(), decided_by_user_id = auth.user_id(),
         decided_via = auth.claims() ->> 'via', decided_at = pg_catalog.now(), decision_note = p ->> 'note'
   where org_id = a.org_id and id = a.id
  returning * into a;
  -- A campaign waiting for it is a draft again.
  update app.campaigns set status = 'draft', updated_at = pg_catalog.now()
   where org_id = a.org_id and approval_id = a.id and status = 'awaiting_approval';
  return app.approval_json(a);
end
$$;
comment on function api.reject(jsonb) is 'Rejects a pending approval: nothing of it happens.';
grant execute on function api.reject(jsonb) to favcrm_member;

create function api.list_approvals(p jsonb) returns json
language plpgsql stable set search_path = '' as $$
declare
  v_limit int := app.page_limit(p);
  v_after uuid := app.decode_cursor(p ->> 'cursor');
  v_status text := p ->> 'status';
begin
  perform auth.require_scope('approvals:read');
  return (
    select app.page_json(pg_catalog.json_agg(app.approval_json(x.a) order by x.n) filter (where x.n <= v_limit),
                         (pg_catalog.array_agg(x.id) filter (where x.n = v_limit))[1],
                         pg_catalog.count(*) > v_limit)
      from (select a.id, a, pg_catalog.row_number() over (order by a.id desc) n
              from app.approvals a
             where a.org_id = auth.org_id()
               and (v_status is null
                    or (v_status = 'pending' and a.status = 'pending' and a.expires_at > pg_catalog.now())
                    or (v_status = 'expired' and a.status = 'pending' and a.expires_at <= pg_catalog.now())
                    or (v_status not in ('pending', 'expired') and a.status = v_status))
               and (p ->> 'operation' is null or a.operation = p ->> 'operation')
               and (v_after is null or a.id < v_after)
             order by a.id desc
             limit v_limit + 1) x);
end
$$;
comment on function api.list_approvals(jsonb) is 'Approvals, newest first, by status (pending: waiting for a person; expired, approved, rejected, failed) and operation.';
grant execute on function api.list_approvals(jsonb) to favcrm_member;

create function api.get_approval(p jsonb) returns jsonb
language plpgsql stable set search_path = '' as $$
declare
  a app.approvals;
begin
  perform auth.require_scope('approvals:read');
  select * into a from app.approvals where org_id = auth.org_id() and id = (p ->> 'approvalId')::uuid;
  if not found then
    perform app.not_found('approval', 'approvalId');
  end if;
  return app.approval_json(a);
end
$$;
comment on function api.get_approval(jsonb) is 'One approval: what it would do, its status, who asked and who decided, and the result.';
grant execute on function api.get_approval(jsonb) to favcrm_member;

create function app.approval_webhook(p_op text, o app.approvals, n app.approvals) returns void
language plpgsql set search_path = '' as $$
declare
  v_type text := case when p_op = 'INSERT' then 'approval.requested'
                      when n.status is distinct from o.status then 'approval.' || n.status end;
begin
  if v_type is not null and auth.webhooks_wanted(v_type) then
    perform auth.emit_webhook_event(v_type, app.approval_json(n));
  end if;
end
$$;
comment on function app.approval_webhook(text, app.approvals, app.approvals) is 'The webhook event of an approval: requested, approved, rejected or failed.';
grant execute on function app.approval_webhook(text, app.approvals, app.approvals) to favcrm_member;
