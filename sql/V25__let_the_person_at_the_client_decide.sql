-- The person confirms, not the model (issue 15, part 4b). An MCP client that can ask its person
-- (elicitation) shows them an agent's request for approval; the server remembers a secret's
-- digest with the approval, and the secret stays with the server and the client (sealed in the
-- request state), never with the model. Whoever answers with the secret is the person at that
-- client, who may then approve there if their role allows and the organisation lets them.

alter table app.approvals add column person_digest bytea;
comment on column app.approvals.person_digest is 'When the agent''s client could ask its person: the SHA-256 of the secret held for them (never the secret). Only a call carrying that secret, from the key that asked, may approve in the client. Immutable, as the snapshot.';

alter table app.approval_settings add column approve_in_client boolean not null default true;
comment on column app.approval_settings.approve_in_client is 'Whether the person at an MCP client that can ask them (elicitation) may approve their own agent''s request there, when their role allows; false: every approval waits for someone else in the inbox.';
