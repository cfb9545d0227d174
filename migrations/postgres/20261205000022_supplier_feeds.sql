-- A supplier's catalog fetched from its web address, on demand and, with a
-- schedule (a cron pattern read on the organization's local clock), by
-- Larder's scheduler. The lease keeps one sync of a supplier at a time
-- across every process sharing the database.
create table supplier_feeds (
    supplier_id text primary key references suppliers (id),
    organization_id text not null references organizations (id),
    url text not null,
    -- A five-field cron pattern ("0 2 * * *"), or null for on demand only.
    schedule text,
    -- When the schedule next runs it (null without a schedule).
    next_run_at bigint,
    -- Who is syncing it now, and until when their claim holds.
    lease_holder text,
    lease_until bigint not null default 0,
    updated_at bigint not null
);
create index supplier_feeds_due on supplier_feeds (next_run_at);
