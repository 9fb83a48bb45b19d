-- app.idempotency_keys: a key sees only the records it made, even within its organisation.
begin;
set local session_replication_role = replica;
insert into app.organisations (id, name) values ('a0000000-0000-7000-8000-000000000000', 'Org A');
insert into app.idempotency_keys (org_id, key_id, idempotency_key, operation, request_digest) values
  ('a0000000-0000-7000-8000-000000000000', 'ae100000-0000-7000-8000-000000000000', 'k1', 'create_customer', '\x00'),
  ('a0000000-0000-7000-8000-000000000000', 'ae200000-0000-7000-8000-000000000000', 'k1', 'create_customer', '\x00');
set local session_replication_role = origin;
set local role favcrm_member;
select auth.set_claims('{"org_id": "a0000000-0000-7000-8000-000000000000", "user_id": "a1000000-0000-7000-8000-000000000000", "key_id": "ae100000-0000-7000-8000-000000000000", "role": "owner", "scopes": []}');
do $$
begin
  assert (select count(*) from app.idempotency_keys) = 1, 'a key sees only its own idempotency records';
end
$$;
rollback;
