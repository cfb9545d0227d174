-- Imported usage or sales history: the demand before Larder, for
-- forecasting and usage summaries. It never touches stock.
create table usage_imports (
    id text primary key,
    organization_id text not null references organizations (id),
    -- The pantry rows without a pantry column go to (null: the organization).
    pantry_id text references pantries (id),
    file_name text not null,
    file_sha256 text not null,
    bytes_total integer not null,
    skip_bad integer not null default 0,
    -- running → done | refused (bad rows and not skipping) | failed
    status text not null check (status in ('running', 'done', 'refused', 'failed')),
    rows_read integer not null default 0,
    rows_imported integer not null default 0,
    rows_duplicate integer not null default 0,
    rows_bad integer not null default 0,
    message text,
    actor_id text not null references users (id),
    started_at integer not null,
    finished_at integer
);
create index usage_imports_organization on usage_imports (organization_id, started_at);

-- One row per imported line. Rows of an import count only once the import
-- is done, so a running or refused import is never seen half-way.
-- `row_key` recognises a line imported before (its content and position),
-- so importing the same file again adds nothing.
create table usage_history (
    organization_id text not null references organizations (id),
    row_key text not null,
    import_id text not null references usage_imports (id),
    pantry_id text references pantries (id),
    product_id text not null references products (id),
    day text not null,
    -- In the product's smallest unit, like movements.
    quantity integer not null check (quantity >= 0),
    unit_price_cents integer,
    revenue_cents integer,
    primary key (organization_id, row_key)
);
create index usage_history_product on usage_history (product_id, day);
create index usage_history_import on usage_history (import_id);
