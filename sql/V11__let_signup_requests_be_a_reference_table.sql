-- Ready for a cluster distributed by organisation (sql/README.md, "Scale-out"). A registration
-- request belongs to no organisation until it completes, so on such a cluster it is a reference
-- table, and a reference table cannot hold a foreign key into a distributed one. The
-- organisation a completed registration created stays recorded by its id.
alter table app.signup_requests drop constraint signup_requests_organisation_id_fkey;
comment on column app.signup_requests.organisation_id is 'The organisation this registration created, once completed (an id, not a foreign key: see sql/README.md, Scale-out).';
