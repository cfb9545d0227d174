-- The notification centre: what reached each person, from which event
-- (one notification per person per event, however often it is
-- delivered), and whether they have read it.
create table notifications (
    id text primary key,
    user_id text not null references users (id),
    organization_id text not null references organizations (id),
    pantry_id text references pantries (id),
    kind text not null check (kind in ('urgent_issue', 'proposed_order', 'expiring', 'order_received', 'sync_failed')),
    title text not null,
    body text not null,
    -- The page it opens (a path in Larder).
    link text not null,
    -- The event it came from.
    source text not null,
    created_at integer not null,
    read_at integer
);
create unique index notifications_once on notifications (user_id, source);
create index notifications_person on notifications (user_id, created_at);

-- Where each kind reaches a person: in_app, push, both (the default) or off.
create table notification_preferences (
    user_id text not null references users (id),
    kind text not null,
    channel text not null check (channel in ('in_app', 'push', 'both', 'off')),
    primary key (user_id, kind)
);

-- A person's other notification choices.
create table notification_settings (
    user_id text primary key references users (id),
    daily_digest integer not null default 0
);
