-- The outbox, webhooks, messaging and approvals: managers and above see their organisation's
-- deliveries but only admins and owners its webhook deliveries and endpoints, staff none; any
-- member writes messages to the outbox but never a webhook delivery; only owners connect
-- channels; an approval's snapshot never changes; account mail is out of every runtime role's
-- reach; and nobody sees another organisation's rows.
begin;
set local session_replication_role = replica;
insert into app.organisations (id, name) values
  ('a0000000-0000-7000-8000-000000000000', 'Org A'), ('b0000000-0000-7000-8000-000000000000', 'Org B');
insert into app.webhook_endpoints (org_id, id, url, event_types) values
  ('a0000000-0000-7000-8000-000000000000', 'a8000000-0000-7000-8000-000000000000', 'https://a.example/hook', '{*}'),
  ('b0000000-0000-7000-8000-000000000000', 'b8000000-0000-7000-8000-000000000000', 'https://b.example/hook', '{*}');
insert into app.webhook_events (org_id, id, type, data) values
  ('a0000000-0000-7000-8000-000000000000', 'a8100000-0000-7000-8000-000000000000', 'customer.created', '{}'),
  ('b0000000-0000-7000-8000-000000000000', 'b8100000-0000-7000-8000-000000000000', 'customer.created', '{}');
insert into app.deliveries (org_id, id, kind, recipient, idempotency_key, endpoint_id, event_id) values
  ('a0000000-0000-7000-8000-000000000000', 'a8200000-0000-7000-8000-000000000000', 'webhook', 'https://a.example/hook',
   'k1', 'a8000000-0000-7000-8000-000000000000', 'a8100000-0000-7000-8000-000000000000'),
  ('b0000000-0000-7000-8000-000000000000', 'b8200000-0000-7000-8000-000000000000', 'webhook', 'https://b.example/hook',
   'k2', 'b8000000-0000-7000-8000-000000000000', 'b8100000-0000-7000-8000-000000000000');
insert into app.deliveries (org_id, id, kind, recipient, idempotency_key) values
  ('a0000000-0000-7000-8000-000000000000', 'a8300000-0000-7000-8000-000000000000', 'email', 'amy@example.com', 'k3'),
  ('b0000000-0000-7000-8000-000000000000', 'b8300000-0000-7000-8000-000000000000', 'email', 'bea@example.com', 'k4');
insert into app.approvals (org_id, id, operation, summary, snapshot, expires_at) values
  ('a0000000-0000-7000-8000-000000000000', 'a8400000-0000-7000-8000-000000000000', 'send_message', 'A message',
   '{"body": "Hello"}', now() + interval '1 day');
-- An agent's request its client could put to its person: the digest of the secret held for them.
insert into app.approvals (org_id, id, operation, summary, snapshot, expires_at, requested_by_key_id, person_digest) values
  ('a0000000-0000-7000-8000-000000000000', 'a8410000-0000-7000-8000-000000000000', 'send_message', 'Asked in a client',
   '{"body": "Hi"}', now() + interval '1 day', 'a9000000-0000-7000-8000-000000000000',
   ext.digest(convert_to('the person''s secret', 'UTF8'), 'sha256'));
insert into app.account_mail (id, template, recipient, fields) values
  ('a8500000-0000-7000-8000-000000000000', 'signup_notice', 'someone@example.com', '{}');
set local session_replication_role = origin;
set local role favcrm_member;

-- Staff of A: no deliveries, no endpoints, no approvals; a message to the outbox but never a
-- webhook delivery.
select auth.set_claims('{"org_id": "a0000000-0000-7000-8000-000000000000", "role": "staff", "scopes": []}');
do $$
begin
  assert (select count(*) from app.deliveries) = 0, 'staff see no deliveries';
  assert (select count(*) from app.webhook_endpoints) = 0, 'staff see no endpoints';
  assert (select count(*) from app.approvals) = 0, 'staff see no approvals';
  insert into app.deliveries (org_id, kind, recipient, idempotency_key)
  values ('a0000000-0000-7000-8000-000000000000', 'email', 'x@example.com', 'k5');
  begin
    insert into app.deliveries (org_id, kind, recipient, idempotency_key, endpoint_id, event_id)
    values ('a0000000-0000-7000-8000-000000000000', 'webhook', 'https://evil.example', 'k6',
            'a8000000-0000-7000-8000-000000000000', 'a8100000-0000-7000-8000-000000000000');
    assert false, 'no member writes a webhook delivery';
  exception when insufficient_privilege then null;
  end;
  begin
    insert into app.channels (org_id, channel, provider) values ('a0000000-0000-7000-8000-000000000000', 'sms', 'twilio');
    assert false, 'staff connect no channel';
  exception when insufficient_privilege then null;
  end;
end
$$;

-- A manager of A: the email delivery, not the webhook one; approvals, whose snapshot never changes.
select auth.set_claims('{"org_id": "a0000000-0000-7000-8000-000000000000", "role": "manager", "scopes": []}');
do $$
declare
  n int;
begin
  assert (select count(*) from app.deliveries where kind = 'webhook') = 0, 'managers see no webhook deliveries';
  assert (select count(*) from app.deliveries where kind = 'email') = 2, 'managers see the email deliveries of A';
  assert (select count(*) from app.webhook_events) = 0, 'managers see no events';
  update app.deliveries set status = 'pending' where kind = 'webhook';
  get diagnostics n = row_count;
  assert n = 0, 'managers retry no webhook delivery';
  assert (select count(*) from app.approvals) = 2, 'managers see A''s approvals';
  begin
    update app.approvals set snapshot = '{"body": "Something else"}';
    assert false, 'no member changes an approval''s snapshot';
  exception when insufficient_privilege then null;
  end;
  begin
    update app.approvals set person_digest = ext.digest('mine', 'sha256');
    assert false, 'no member changes whose secret decides an approval in the client';
  exception when insufficient_privilege then null;
  end;
  begin
    insert into app.channels (org_id, channel, provider) values ('a0000000-0000-7000-8000-000000000000', 'sms', 'twilio');
    assert false, 'managers connect no channel';
  exception when insufficient_privilege then null;
  end;
end
$$;

-- The person at the client that asked decides there only with its key and the secret's digest:
-- another key holding the digest, or the key with another digest, is no person's decision.
do $$
declare
  a app.approvals;
  v_digest text := encode(ext.digest(convert_to('the person''s secret', 'UTF8'), 'sha256'), 'hex');
begin
  select * into a from app.approvals where id = 'a8410000-0000-7000-8000-000000000000';
  perform auth.set_claims(jsonb_build_object('org_id', 'a0000000-0000-7000-8000-000000000000', 'role', 'manager',
    'scopes', '[]'::jsonb, 'key_id', 'a9000000-0000-7000-8000-000000000000', 'person_digest', v_digest));
  assert app.person_decides(a), 'the asking key with the secret is the person';
  perform app.require_approver(a);
  perform auth.set_claims(jsonb_build_object('org_id', 'a0000000-0000-7000-8000-000000000000', 'role', 'manager',
    'scopes', '[]'::jsonb, 'key_id', 'a9100000-0000-7000-8000-000000000000', 'person_digest', v_digest));
  assert not app.person_decides(a), 'another key with the digest is not';
  perform auth.set_claims(jsonb_build_object('org_id', 'a0000000-0000-7000-8000-000000000000', 'role', 'manager',
    'scopes', '[]'::jsonb, 'key_id', 'a9000000-0000-7000-8000-000000000000',
    'person_digest', encode(ext.digest('a guess', 'sha256'), 'hex')));
  assert not app.person_decides(a), 'the asking key with another secret is not';
  begin
    perform app.require_approver(a);
    assert false, 'an agent key without the person''s secret does not decide';
  exception when insufficient_privilege then null;
  end;
  -- Staff may not decide a message, in their client or anywhere.
  perform auth.set_claims(jsonb_build_object('org_id', 'a0000000-0000-7000-8000-000000000000', 'role', 'staff',
    'scopes', '[]'::jsonb, 'key_id', 'a9000000-0000-7000-8000-000000000000', 'person_digest', v_digest));
  begin
    perform app.require_approver(a);
    assert false, 'the person''s role still counts';
  exception when insufficient_privilege then null;
  end;
end
$$;

-- An admin of A: A's endpoints, events and webhook deliveries, none of B's; no channel connected.
select auth.set_claims('{"org_id": "a0000000-0000-7000-8000-000000000000", "role": "admin", "scopes": []}');
do $$
begin
  assert (select count(*) from app.webhook_endpoints) = 1, 'admins see A''s endpoint only';
  assert (select count(*) from app.webhook_events) = 1, 'admins see A''s events only';
  assert (select count(*) from app.deliveries) = 3, 'admins see A''s deliveries only';
  begin
    insert into app.webhook_endpoints (org_id, url, event_types)
    values ('b0000000-0000-7000-8000-000000000000', 'https://evil.example', '{*}');
    assert false, 'no endpoint is added to B';
  exception when insufficient_privilege then null;
  end;
  begin
    insert into app.channels (org_id, channel, provider) values ('a0000000-0000-7000-8000-000000000000', 'sms', 'twilio');
    assert false, 'admins connect no channel';
  exception when insufficient_privilege then null;
  end;
end
$$;

-- The owner of A connects a channel; still nothing of B's.
select auth.set_claims('{"org_id": "a0000000-0000-7000-8000-000000000000", "role": "owner", "scopes": []}');
do $$
begin
  insert into app.channels (org_id, channel, provider) values ('a0000000-0000-7000-8000-000000000000', 'sms', 'twilio');
  assert (select count(*) from app.deliveries where org_id = 'b0000000-0000-7000-8000-000000000000') = 0, 'nothing of B';
end
$$;

-- No claims: nothing. Account mail: no runtime role, with or without claims.
select set_config('request.claims', '', true), set_config('request.org_id', '', true), set_config('request.role', '', true);
do $$
begin
  assert (select count(*) from app.deliveries) = 0, 'no claims, no deliveries';
  begin
    perform count(*) from app.account_mail;
    assert false, 'members never read account mail';
  exception when insufficient_privilege then null;
  end;
end
$$;
reset role;
set local role favcrm_anon;
do $$
begin
  begin
    perform count(*) from app.account_mail;
    assert false, 'anonymous callers never read account mail';
  exception when insufficient_privilege then null;
  end;
end
$$;
rollback;
