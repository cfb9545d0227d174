-- Home timelines keep each person's newest rows (LARDER_TIMELINE_KEEP);
-- when older ones are let go, the oldest kept is recorded here and the
-- home timeline ends there (older posts are on the pantries' timelines).
create table timeline_trims (
    user_id text primary key references users (id),
    before_at integer not null,
    before_id text not null
);

-- A removed post leaves every home timeline: found by its id, not by
-- scanning every row.
create index timeline_entries_post on timeline_entries (post_id);
