-- Lots with stock, named by a column that changes only when a lot empties
-- or fills again (PostgreSQL's copy of this migration says why it
-- matters there); queries read the same column on both databases.
alter table lots add column in_stock integer generated always as (quantity > 0) virtual;
drop index lots_expiring;
create index lots_expiring on lots (best_before) where in_stock;
