-- Notifications of a new kind: events a part of Larder set aside after
-- failing (parked_events, for admins).
alter table notifications drop constraint notifications_kind_check;
alter table notifications add constraint notifications_kind_check
    check (kind in ('urgent_issue', 'proposed_order', 'expiring', 'order_received', 'sync_failed', 'parked_events'));

-- Stock issues of a new kind too: parked events.
alter table stock_issues drop constraint stock_issues_kind_check;
alter table stock_issues add constraint stock_issues_kind_check
    check (kind in ('stockout', 'reorder', 'expiring', 'overstock', 'price_change', 'parked_events'));

-- Pushes held for a person's daily digest (one per event), until the
-- digest that carries them is queued.
create table digest_items (
    user_id text not null references users (id),
    source text not null,
    organization_id text not null references organizations (id),
    title text not null,
    created_at bigint not null,
    primary key (user_id, source)
);

-- The day (in the organization's calendar) a person's last digest went.
alter table notification_settings add column digest_sent_on text;

-- The session a browser's push subscription was made in: signing out of
-- it forgets the subscription, so a shared computer does not go on
-- showing the last person's pushes.
alter table push_subscriptions add column session_hash text;
create index push_subscriptions_session on push_subscriptions (session_hash);
