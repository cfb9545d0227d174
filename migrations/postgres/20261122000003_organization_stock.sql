-- Stock per product across a whole organization: a second projection of
-- the ledger, kept in the same transaction as stock_levels, so the
-- organization overview sums one row per product instead of one per
-- pantry and product (10,000 rows rather than 200,000 at 20 pantries).
create table organization_stock (
    organization_id text not null references organizations (id),
    product_id text not null references products (id),
    -- No check here: a batch adds its signed sums in one upsert, and
    -- stock_levels already keeps every pantry at zero or more.
    on_hand bigint not null,
    primary key (organization_id, product_id)
);

insert into organization_stock (organization_id, product_id, on_hand)
select organization_id, product_id, sum(on_hand) from stock_levels group by organization_id, product_id;
