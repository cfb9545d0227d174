-- One history import at a time per organization, enforced by the database:
-- a check-then-insert let four of six simultaneous imports start.
create unique index usage_imports_one_running on usage_imports (organization_id) where status = 'running';
