-- Suppliers and purchase orders. A supplier is who an organization buys
-- from (a food bank or a regular donor can be one too); its items are what
-- it sells, each tied to a product of the catalog by barcode or by hand. A
-- pantry's purchase order goes draft → submitted → partly received →
-- received, or cancelled; receiving posts `received` movements, and the
-- lines keep how much of each has come.
create table suppliers (
    id text primary key,
    organization_id text not null references organizations (id),
    name text not null,
    name_key text not null,
    contact_name text,
    email text,
    phone text,
    -- Days from ordering to delivery.
    lead_time_days bigint not null check (lead_time_days >= 0),
    -- The weekdays it takes orders, ISO numbers ("1,4": Monday and
    -- Thursday); empty for any day.
    order_days text not null default '',
    -- The least an order must come to, in cents; null for no minimum.
    minimum_order_cents bigint check (minimum_order_cents is null or minimum_order_cents >= 0),
    notes text,
    created_at bigint not null,
    updated_at bigint not null,
    archived_at bigint
);
create unique index suppliers_active_name on suppliers (organization_id, name_key) where archived_at is null;

-- What a supplier sells: its SKU and description as the supplier writes
-- them, the product it is (found by barcode, or chosen by hand; null until
-- then), how much of the product one pack holds, in the product's unit as
-- typed ("24", "12.5"), and the price of a pack in cents.
create table supplier_items (
    id text primary key,
    supplier_id text not null references suppliers (id),
    organization_id text not null references organizations (id),
    sku text not null,
    sku_key text not null,
    description text not null,
    gtin text,
    product_id text references products (id),
    pack_size text not null,
    price_cents bigint check (price_cents is null or price_cents >= 0),
    available bigint not null default 1,
    updated_at bigint not null,
    unique (supplier_id, sku_key)
);
create index supplier_items_product on supplier_items (organization_id, product_id);

create table purchase_orders (
    id text primary key,
    organization_id text not null references organizations (id),
    pantry_id text not null references pantries (id),
    supplier_id text not null references suppliers (id),
    -- Counted per organization: PO-0001, PO-0002, …
    number bigint not null,
    status text not null check (status in ('draft', 'submitted', 'partly_received', 'received', 'cancelled')),
    note text,
    created_by text not null references users (id),
    created_at bigint not null,
    submitted_at bigint,
    closed_at bigint,
    -- Moves on every change, so two receipts made at once cannot both land.
    revision bigint not null default 0,
    unique (organization_id, number)
);
create index purchase_orders_pantry on purchase_orders (pantry_id, status);

-- One product of an order: packs of `pack_parts` stored parts each (the
-- product's unit times its scale), and how many parts have been received.
create table purchase_order_lines (
    order_id text not null references purchase_orders (id),
    product_id text not null references products (id),
    supplier_item_id text references supplier_items (id),
    packs bigint not null check (packs > 0),
    pack_parts bigint not null check (pack_parts > 0),
    price_cents bigint check (price_cents is null or price_cents >= 0),
    received_parts bigint not null default 0 check (received_parts >= 0),
    position bigint not null,
    primary key (order_id, product_id)
);
