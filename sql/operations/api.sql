-- The api schema: one function per catalog operation and nothing else. It holds no data, so it
-- is dropped and created afresh, with its grants, every time these files are applied; the
-- files after this one fill it.
drop schema if exists api cascade;
create schema api;
comment on schema api is 'One function per catalog operation (verb_noun). The only schema a request calls.';
grant usage on schema api to favcrm_anon, favcrm_member, favcrm_authenticator;
