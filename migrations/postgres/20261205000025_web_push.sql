-- Web Push: the instance's VAPID key pair (made on first start), each
-- person's browser subscriptions, and the pushes waiting to be sent (one
-- per browser and event, retried with growing waits).
create table vapid_keys (
    id integer primary key check (id = 1),
    -- The P-256 private scalar and the public point, base64url.
    private_key text not null,
    public_key text not null,
    created_at bigint not null
);

create table push_subscriptions (
    id text primary key,
    user_id text not null references users (id),
    endpoint text not null unique,
    p256dh text not null,
    auth text not null,
    created_at bigint not null
);
create index push_subscriptions_person on push_subscriptions (user_id);

create table push_deliveries (
    subscription_id text not null references push_subscriptions (id),
    -- The event it tells of.
    source text not null,
    -- JSON: title, body, link.
    payload text not null,
    -- waiting, sent or failed; sent and failed ones are kept a month, so an
    -- event delivered again finds its push already done.
    status text not null check (status in ('waiting', 'sent', 'failed')),
    attempts bigint not null,
    next_at bigint not null,
    last_error text,
    primary key (subscription_id, source)
);
create index push_deliveries_due on push_deliveries (status, next_at);
