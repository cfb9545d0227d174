-- Every write to a stock row or to its lots counts the row's revision up,
-- in the same transaction. A movement writer that remembers a row (its
-- stock and its lots, as of the revision it wrote) can then write against
-- it without reading it again: its update names the revision it
-- remembers, and a row someone else has changed since matches nothing,
-- which fails the batch before anything of it is kept.
alter table stock_levels add column revision bigint not null default 0;

-- Movements change `on_hand` (and `updated_at`, `revision`) of the same
-- few rows all day. With none of those in an index, PostgreSQL updates the
-- row in place (a heap-only tuple update: no new index entries, less to
-- vacuum). The organization overview sums `organization_stock`, not these
-- rows, and low stock is the few rows with a minimum, read from the table.
drop index stock_levels_organization;
create index stock_levels_organization on stock_levels (organization_id, product_id);
drop index stock_levels_low;
create index stock_levels_low on stock_levels (organization_id, pantry_id) where minimum > 0;
