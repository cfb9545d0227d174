-- A history row is checked against its import, its product and its pantry,
-- each together with the row's organization: three lookups per row
-- instead of four (organization, import, pantry, product apart), and
-- stricter, since a row can no longer name another organization's product
-- or pantry. The organization itself is the import's, which references it.
-- (The checks were about half of what PostgreSQL spent on an import.)
alter table products add constraint products_organization_key unique (id, organization_id);
alter table pantries add constraint pantries_organization_key unique (id, organization_id);
alter table usage_imports add constraint usage_imports_organization_key unique (id, organization_id);
alter table usage_history
    drop constraint usage_history_organization_id_fkey,
    drop constraint usage_history_import_id_fkey,
    drop constraint usage_history_pantry_id_fkey,
    drop constraint usage_history_product_id_fkey,
    add constraint usage_history_import_fkey foreign key (import_id, organization_id)
        references usage_imports (id, organization_id),
    add constraint usage_history_product_fkey foreign key (product_id, organization_id)
        references products (id, organization_id),
    add constraint usage_history_pantry_fkey foreign key (pantry_id, organization_id)
        references pantries (id, organization_id);
