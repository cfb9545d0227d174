-- A supplier's catalog syncs: each file brought in, whether it went
-- through, how long it took and what it changed (new items, new prices,
-- items no longer listed), for the supplier's history.
create table supplier_syncs (
    id text primary key,
    supplier_id text not null references suppliers (id),
    organization_id text not null references organizations (id),
    -- The file's name (or, for a fetched catalog, its address).
    source text not null,
    status text not null check (status in ('done', 'failed')),
    started_at bigint not null,
    finished_at bigint not null,
    items_new bigint not null,
    items_price_changed bigint not null,
    items_discontinued bigint not null,
    items_unchanged bigint not null,
    message text not null,
    -- What changed, a line each.
    changes text not null
);
create index supplier_syncs_supplier on supplier_syncs (supplier_id, started_at);
