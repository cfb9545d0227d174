-- What the stock issue analyser found: a plain-language explanation, the
-- numbers behind it and a proposed action, per pantry (or, for a
-- supplier's price, per organization). One open issue per key: open_key
-- holds the key while the issue is open and is cleared when it closes
-- (accepted, dismissed, or resolved by itself), so the unique index lets
-- any number of closed issues share a key.
create table stock_issues (
    id text primary key,
    organization_id text not null references organizations (id),
    pantry_id text references pantries (id),
    product_id text references products (id),
    kind text not null check (kind in ('stockout', 'reorder', 'expiring', 'overstock', 'price_change')),
    severity text not null check (severity in ('info', 'warning', 'urgent')),
    issue_key text not null,
    open_key text,
    status text not null check (status in ('open', 'accepted', 'dismissed', 'resolved')),
    title text not null,
    explanation text not null,
    -- JSON: [[label, value], ...]
    numbers text not null,
    -- JSON: the proposed action.
    proposal text not null,
    -- The optional advisor's words.
    advice text,
    raised_at integer not null,
    updated_at integer not null,
    closed_at integer,
    closed_by text references users (id),
    dismiss_reason text,
    order_id text references purchase_orders (id)
);
create unique index stock_issues_open on stock_issues (open_key);
create index stock_issues_key on stock_issues (issue_key, status, closed_at);
create index stock_issues_pantry on stock_issues (pantry_id, status, raised_at);
create index stock_issues_organization on stock_issues (organization_id, status, raised_at);
