-- Low stock is the rows below their minimum: in a large organization a few
-- thousand of its stock rows, where the rows with a minimum at all are
-- tens of thousands. The overview counts and lists them for a whole
-- organization, so the index holds exactly those rows, with what the count
-- and the list read, and neither touches the table. A movement updates an
-- entry only for a row that is, or becomes, short. (PostgreSQL keeps the
-- narrower index: an index naming `on_hand` would stop its stock updates
-- from being heap-only, and every movement writes `on_hand`.)
drop index stock_levels_low;
create index stock_levels_short on stock_levels (organization_id, pantry_id, product_id, on_hand, minimum)
    where minimum > 0 and on_hand < minimum;
