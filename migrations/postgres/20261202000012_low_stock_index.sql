-- SQLite's migration of this number narrows its low-stock index to the
-- rows below their minimum. PostgreSQL keeps `stock_levels_low`: an index
-- naming `on_hand`, even only in its predicate, would stop the stock
-- updates every movement makes from being heap-only.
comment on index stock_levels_low is
    'rows with a minimum; on_hand stays out of every index so stock updates stay heap-only';
