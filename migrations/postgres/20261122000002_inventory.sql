-- Inventory: the catalog, stock held in lots, the movement ledger, and the
-- event log with its consumers' checkpoints and parked events.
-- Quantities are integers in the product's smallest unit (g for kg, ml for
-- l, oz for lb, one for each and pack). Weights are integer grams.

create table products (
    id text primary key,
    organization_id text not null references organizations (id),
    name text not null,
    name_key text not null,
    category text not null,
    category_key text not null,
    unit text not null check (unit in ('each', 'kg', 'lb', 'l', 'pack')),
    -- Grams in one unit (one each, one pack, one litre); null when unknown.
    unit_weight_g bigint check (unit_weight_g is null or unit_weight_g >= 0),
    perishable bigint not null default 0,
    shelf_life_days bigint check (shelf_life_days is null or shelf_life_days >= 0),
    photo_url text,
    created_at bigint not null,
    updated_at bigint not null,
    archived_at bigint
);
create unique index products_active_name on products (organization_id, name_key) where archived_at is null;
create index products_category on products (organization_id, category_key);

-- Barcodes as GTIN-14 (shorter GTINs zero-padded), unique per organization.
create table product_barcodes (
    organization_id text not null references organizations (id),
    gtin text not null,
    product_id text not null references products (id),
    primary key (organization_id, gtin)
);
create index product_barcodes_product on product_barcodes (product_id);

-- The stock projection: what the ledger sums to, kept in the same
-- transaction as every movement.
create table stock_levels (
    pantry_id text not null references pantries (id),
    product_id text not null references products (id),
    organization_id text not null references organizations (id),
    on_hand bigint not null check (on_hand >= 0),
    minimum bigint not null default 0 check (minimum >= 0),
    updated_at bigint not null,
    primary key (pantry_id, product_id)
);
create index stock_levels_product on stock_levels (product_id);
-- Overviews sum a whole organization per product from this index alone.
create index stock_levels_organization on stock_levels (organization_id, product_id, on_hand, pantry_id);
-- Low stock: only rows with a minimum can be low.
create index stock_levels_low on stock_levels (organization_id, pantry_id, on_hand, minimum) where minimum > 0;

-- One lot per (pantry, product, best-before date); best_before is an ISO
-- date, null for stock that does not expire.
create table lots (
    id text primary key,
    pantry_id text not null,
    product_id text not null,
    best_before text,
    quantity bigint not null check (quantity >= 0),
    received_at bigint not null,
    foreign key (pantry_id, product_id) references stock_levels (pantry_id, product_id)
);
create index lots_stock on lots (pantry_id, product_id, best_before);
create index lots_expiring on lots (best_before) where quantity > 0;

-- The ledger. `quantity` is the signed change to the pantry's stock.
create table movements (
    id text primary key,
    organization_id text not null references organizations (id),
    pantry_id text not null references pantries (id),
    product_id text not null references products (id),
    kind text not null check (kind in ('received', 'distributed', 'adjusted', 'transferred', 'discarded')),
    quantity bigint not null,
    reason text,
    source text,
    donor text,
    weight_g bigint,
    counterpart_pantry_id text references pantries (id),
    note text,
    actor_id text not null references users (id),
    correlation_id text not null,
    occurred_at bigint not null
);
create index movements_stock on movements (pantry_id, product_id, occurred_at);
create index movements_product on movements (product_id, occurred_at);

-- Which lots a movement took from or added to.
create table movement_lots (
    movement_id text not null references movements (id),
    lot_id text not null references lots (id),
    quantity bigint not null,
    primary key (movement_id, lot_id)
);

-- The event log (outbox). `seq` is the delivery order: it is assigned while
-- writers are serialized, so a reader never sees seq n+1 before seq n.
create table events (
    seq bigint generated always as identity primary key,
    id text not null unique,
    type text not null,
    version bigint not null,
    organization_id text not null,
    pantry_id text,
    payload text not null,
    actor_id text,
    correlation_id text not null,
    occurred_at bigint not null
);
create index events_pantry on events (pantry_id, seq);

create table consumer_checkpoints (
    consumer text primary key,
    last_seq bigint not null,
    updated_at bigint not null
);

create table dead_letters (
    id text primary key,
    consumer text not null,
    event_seq bigint not null references events (seq),
    attempts bigint not null,
    error text not null,
    parked_at bigint not null,
    retried_at bigint,
    resolved_at bigint
);
create index dead_letters_open on dead_letters (consumer, event_seq) where resolved_at is null;

-- Movements per pantry, product and UTC day, kept by an event consumer: the
-- demand series forecasting and reports read.
create table daily_flows (
    pantry_id text not null,
    product_id text not null,
    organization_id text not null,
    day text not null,
    kind text not null,
    quantity bigint not null,
    movements bigint not null,
    primary key (pantry_id, product_id, day, kind)
);
