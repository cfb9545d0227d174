-- API keys: a script's access to one organization or pantry, read-only or
-- read-write. The key is shown once; the table keeps its SHA-256 and the
-- first characters, so a list can tell keys apart.
create table api_keys (
    id text primary key,
    organization_id text not null references organizations (id),
    scope_kind text not null check (scope_kind in ('organization', 'pantry')),
    scope_id text not null,
    name text not null,
    access text not null check (access in ('read', 'read_write')),
    prefix text not null,
    token_hash text not null unique,
    created_by text not null references users (id),
    created_at integer not null,
    last_used_at integer,
    revoked_at integer
);
create index api_keys_organization on api_keys (organization_id, created_at);
