-- The community layer: profiles, follows, blocks, pantry timelines with
-- posts, comments and likes, and each person's home timeline (filled by
-- the timelines consumer, one row per post a person follows).

-- Who may see a pantry's timeline (its organization's people, or everyone
-- signed in), and which automatic posts Larder writes on it.
create table timeline_settings (
    pantry_id text primary key references pantries (id),
    visibility text not null default 'organization' check (visibility in ('organization', 'signed_in')),
    auto_donations integer not null default 0,
    auto_milestones integer not null default 0,
    auto_back_in_stock integer not null default 0,
    auto_needs integer not null default 0,
    updated_at integer not null
);

-- What a person shows of themselves, and to whom.
create table profiles (
    user_id text primary key references users (id),
    bio text not null default '',
    avatar_photo_id text,
    visibility text not null default 'organization' check (visibility in ('organization', 'followers', 'signed_in')),
    updated_at integer not null
);

create table posts (
    id text primary key,
    organization_id text not null references organizations (id),
    pantry_id text not null references pantries (id),
    -- None: written by Larder from an event (source says which).
    author_id text references users (id),
    kind text not null check (kind in ('announcement', 'need', 'thanks', 'event', 'automatic')),
    body text not null,
    event_on text,
    created_at integer not null,
    edited_at integer,
    deleted_at integer,
    source text unique
);
create index posts_pantry on posts (pantry_id, created_at, id);
create index posts_author on posts (author_id, created_at, id);

create table post_photos (
    post_id text not null references posts (id),
    position integer not null,
    photo_id text not null,
    primary key (post_id, position)
);

create table comments (
    id text primary key,
    post_id text not null references posts (id),
    parent_id text references comments (id),
    author_id text not null references users (id),
    body text not null,
    created_at integer not null,
    edited_at integer,
    deleted_at integer
);
create index comments_post on comments (post_id, created_at, id);

-- A like of a post or of a comment (target is the one or the other's id).
create table likes (
    target_id text not null,
    user_id text not null references users (id),
    created_at integer not null,
    primary key (target_id, user_id)
);

-- A follow of a pantry or a person; of a person whose profile is for
-- followers only it is a request until they accept.
create table follows (
    follower_id text not null references users (id),
    target_id text not null,
    target_kind text not null check (target_kind in ('pantry', 'person')),
    status text not null check (status in ('active', 'requested')),
    created_at integer not null,
    primary key (follower_id, target_id)
);
create index follows_target on follows (target_id, status);

-- A block hides each person from the other.
create table blocks (
    blocker_id text not null references users (id),
    blocked_id text not null references users (id),
    created_at integer not null,
    primary key (blocker_id, blocked_id)
);
create index blocks_blocked on blocks (blocked_id);

-- Home timelines: one row per (person, post) the timelines consumer
-- fanned out; read newest first by one range scan.
create table timeline_entries (
    user_id text not null references users (id),
    post_id text not null references posts (id),
    created_at integer not null,
    primary key (user_id, post_id)
);
create index timeline_entries_home on timeline_entries (user_id, created_at, post_id);

-- Up to when a person has read their home timeline (the unread marker).
create table timeline_reads (
    user_id text primary key references users (id),
    read_at integer not null
);

create table post_reports (
    post_id text not null references posts (id),
    reporter_id text not null references users (id),
    reason text not null,
    created_at integer not null,
    primary key (post_id, reporter_id)
);

-- Notifications of the community's kinds. SQLite cannot change a check,
-- so the table is made again with every row it had.
create table notifications_new (
    id text primary key,
    user_id text not null references users (id),
    organization_id text not null references organizations (id),
    pantry_id text references pantries (id),
    kind text not null check (kind in ('urgent_issue', 'proposed_order', 'expiring', 'order_received', 'sync_failed', 'parked_events',
        'comment', 'reply', 'mention', 'new_follower', 'likes', 'post_report')),
    title text not null,
    body text not null,
    link text not null,
    source text not null,
    created_at integer not null,
    read_at integer
);
insert into notifications_new (id, user_id, organization_id, pantry_id, kind, title, body, link, source, created_at, read_at)
    select id, user_id, organization_id, pantry_id, kind, title, body, link, source, created_at, read_at from notifications;
drop table notifications;
alter table notifications_new rename to notifications;
create unique index notifications_once on notifications (user_id, source);
create index notifications_person on notifications (user_id, created_at);

-- The people an @mention in a post or comment names (source: its id).
create table mentions (
    source_id text not null,
    user_id text not null references users (id),
    token text not null,
    primary key (source_id, user_id)
);
