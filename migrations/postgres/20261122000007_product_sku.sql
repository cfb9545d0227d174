-- A product's stock-keeping unit code, as a shop or a supplier numbers its
-- items: optional, unique among an organization's active products, matched
-- without regard to case (`sku_key` is its lowercase form). History imports
-- and catalog search find products by it.
alter table products add column sku text;
alter table products add column sku_key text;
create unique index products_active_sku on products (organization_id, sku_key)
    where sku_key is not null and archived_at is null;
