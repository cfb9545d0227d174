-- Two changes that make a movement cheaper to write; neither changes what
-- is stored.

-- Every distribution changes a lot's quantity. While `quantity` sat in the
-- predicate of `lots_expiring`, PostgreSQL could not update a lot in place
-- (a heap-only tuple update), so each one wrote a new entry into every
-- index of the table. `in_stock` changes only when a lot empties or fills
-- again, so the index now follows it instead, and the ordinary update
-- leaves the indexes alone.
alter table lots add column in_stock boolean generated always as (quantity > 0) stored;
drop index lots_expiring;
create index lots_expiring on lots (best_before) where in_stock;

-- A ledger line names its stock row: one foreign key to it instead of one
-- each to the organization, the pantry and the product (the stock row has
-- those three). The check is then one lookup of a row the writer has just
-- updated, and it no longer locks the organization's, pantry's and
-- product's rows on every batch. It is also stricter: a line's
-- organization must be its pantry's.
alter table stock_levels add constraint stock_levels_key unique (pantry_id, product_id, organization_id);
-- Every movement was written with its stock row; this only guards a
-- database where one went missing by hand.
insert into stock_levels (pantry_id, product_id, organization_id, on_hand, minimum, updated_at)
select distinct m.pantry_id, m.product_id, m.organization_id, 0, 0, 0 from movements m
where not exists (select 1 from stock_levels s where s.pantry_id = m.pantry_id and s.product_id = m.product_id)
on conflict do nothing;
alter table movements
    drop constraint movements_organization_id_fkey,
    drop constraint movements_pantry_id_fkey,
    drop constraint movements_product_id_fkey,
    add constraint movements_stock_fkey foreign key (pantry_id, product_id, organization_id)
        references stock_levels (pantry_id, product_id, organization_id);
