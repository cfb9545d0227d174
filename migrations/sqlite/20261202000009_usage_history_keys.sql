-- PostgreSQL's copy of this migration trades four foreign keys of
-- usage_history for three composite ones. SQLite cannot change a table's
-- foreign keys without rebuilding it, and its import is not held back by
-- them, so its schema stays as it was.
select 1;
