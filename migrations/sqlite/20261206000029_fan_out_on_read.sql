-- A post on the timeline of a pantry with very many followers is not
-- written into each follower's home timeline; home timelines read it from
-- the pantry's posts (fan-out on read). Set when the post is fanned out.
alter table posts add column fanned_on_read integer not null default 0;
create index posts_read_fanned on posts (pantry_id, fanned_on_read, created_at, id);
