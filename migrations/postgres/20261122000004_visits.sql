-- Usage: visits at the counter and the lines taken. Saving a visit posts
-- one `distributed` movement per line (movements.visit_id points back);
-- a correction or a void posts compensating movements, never deletes.
create table visits (
    id text primary key,
    organization_id text not null references organizations (id),
    pantry_id text not null references pantries (id),
    occurred_at bigint not null,
    -- Household composition; all optional, no names anywhere.
    adults bigint check (adults is null or adults between 0 and 99),
    children bigint check (children is null or children between 0 and 99),
    seniors bigint check (seniors is null or seniors between 0 and 99),
    -- A pseudonymous client reference (card number or code), normalized;
    -- used to unduplicate households and for visit rules, never reported.
    client_ref text,
    -- What the pantry's visit rule said when the visit was saved.
    rule_warning text,
    note text,
    status text not null default 'recorded' check (status in ('recorded', 'voided')),
    -- Bumped by every correction, so two editors cannot both win.
    version bigint not null default 1,
    actor_id text not null references users (id),
    created_at bigint not null,
    corrected_at bigint,
    voided_at bigint,
    void_reason text
);
create index visits_pantry on visits (pantry_id, occurred_at);
create index visits_organization on visits (organization_id, occurred_at);
create index visits_client on visits (pantry_id, client_ref, occurred_at) where client_ref is not null;

-- The visit's lines as they stand now (after corrections).
create table visit_lines (
    visit_id text not null references visits (id),
    product_id text not null references products (id),
    quantity bigint not null check (quantity > 0),
    primary key (visit_id, product_id)
);

alter table movements add column visit_id text references visits (id);
create index movements_visit on movements (visit_id) where visit_id is not null;
-- Reports read a scope's movements of one kind over a period.
create index movements_report on movements (organization_id, kind, occurred_at);

-- Optional visit rule: warn when a client comes back within this many days.
alter table pantries add column visit_rule_days bigint check (visit_rule_days is null or visit_rule_days between 1 and 365);
