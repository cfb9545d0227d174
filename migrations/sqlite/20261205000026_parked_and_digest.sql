-- Notifications of a new kind: events a part of Larder set aside after
-- failing (parked_events, for admins). SQLite cannot change a check, so
-- the table is made again with every row it had.
create table notifications_new (
    id text primary key,
    user_id text not null references users (id),
    organization_id text not null references organizations (id),
    pantry_id text references pantries (id),
    kind text not null check (kind in ('urgent_issue', 'proposed_order', 'expiring', 'order_received', 'sync_failed', 'parked_events')),
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

-- Stock issues of a new kind too: parked events.
create table stock_issues_new (
    id text primary key,
    organization_id text not null references organizations (id),
    pantry_id text references pantries (id),
    product_id text references products (id),
    kind text not null check (kind in ('stockout', 'reorder', 'expiring', 'overstock', 'price_change', 'parked_events')),
    severity text not null check (severity in ('info', 'warning', 'urgent')),
    issue_key text not null,
    open_key text,
    status text not null check (status in ('open', 'accepted', 'dismissed', 'resolved')),
    title text not null,
    explanation text not null,
    numbers text not null,
    proposal text not null,
    advice text,
    raised_at integer not null,
    updated_at integer not null,
    closed_at integer,
    closed_by text references users (id),
    dismiss_reason text,
    order_id text references purchase_orders (id)
);
insert into stock_issues_new (id, organization_id, pantry_id, product_id, kind, severity, issue_key, open_key, status,
        title, explanation, numbers, proposal, advice, raised_at, updated_at, closed_at, closed_by, dismiss_reason, order_id)
    select id, organization_id, pantry_id, product_id, kind, severity, issue_key, open_key, status,
        title, explanation, numbers, proposal, advice, raised_at, updated_at, closed_at, closed_by, dismiss_reason, order_id
    from stock_issues;
drop table stock_issues;
alter table stock_issues_new rename to stock_issues;
create unique index stock_issues_open on stock_issues (open_key);
create index stock_issues_key on stock_issues (issue_key, status, closed_at);
create index stock_issues_pantry on stock_issues (pantry_id, status, raised_at);
create index stock_issues_organization on stock_issues (organization_id, status, raised_at);

-- Pushes held for a person's daily digest (one per event), until the
-- digest that carries them is queued.
create table digest_items (
    user_id text not null references users (id),
    source text not null,
    organization_id text not null references organizations (id),
    title text not null,
    created_at integer not null,
    primary key (user_id, source)
);

-- The day (in the organization's calendar) a person's last digest went.
alter table notification_settings add column digest_sent_on text;

-- The session a browser's push subscription was made in: signing out of
-- it forgets the subscription, so a shared computer does not go on
-- showing the last person's pushes.
alter table push_subscriptions add column session_hash text;
create index push_subscriptions_session on push_subscriptions (session_hash);
