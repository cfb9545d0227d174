-- Foundation: people, places and who may do what where.
-- Times are UTC milliseconds since the Unix epoch. Ids are UUIDv7 text.
-- Rows others refer to are archived (archived_at), never deleted.

create table users (
    id text primary key,
    email text not null,
    email_key text not null unique,
    display_name text not null,
    password_hash text not null,
    is_site_admin integer not null default 0,
    created_at integer not null,
    disabled_at integer
);
-- One site admin: the account created at setup.
create unique index users_one_site_admin on users (is_site_admin) where is_site_admin = 1;

create table organizations (
    id text primary key,
    name text not null,
    name_key text not null,
    created_at integer not null,
    archived_at integer
);
create unique index organizations_active_name on organizations (name_key) where archived_at is null;

create table campuses (
    id text primary key,
    organization_id text not null references organizations (id),
    name text not null,
    name_key text not null,
    created_at integer not null,
    archived_at integer
);
create unique index campuses_active_name on campuses (organization_id, name_key) where archived_at is null;
create index campuses_organization on campuses (organization_id);

create table pantries (
    id text primary key,
    organization_id text not null references organizations (id),
    campus_id text not null references campuses (id),
    name text not null,
    name_key text not null,
    created_at integer not null,
    archived_at integer
);
create unique index pantries_active_name on pantries (campus_id, name_key) where archived_at is null;
create index pantries_organization on pantries (organization_id);

create table memberships (
    id text primary key,
    user_id text not null references users (id),
    organization_id text not null references organizations (id),
    scope_kind text not null check (scope_kind in ('organization', 'campus', 'pantry')),
    scope_id text not null,
    role text not null check (role in ('admin', 'manager', 'staff', 'viewer')),
    granted_by text references users (id),
    created_at integer not null
);
create unique index memberships_one_per_place on memberships (user_id, scope_kind, scope_id);
create index memberships_organization on memberships (organization_id);

create table sessions (
    token_hash text primary key,
    user_id text not null references users (id),
    created_at integer not null,
    expires_at integer not null,
    last_seen_at integer not null
);
create index sessions_user on sessions (user_id);

create table invitations (
    id text primary key,
    token_hash text not null unique,
    organization_id text not null references organizations (id),
    scope_kind text not null check (scope_kind in ('organization', 'campus', 'pantry')),
    scope_id text not null,
    role text not null check (role in ('admin', 'manager', 'staff', 'viewer')),
    email text not null,
    email_key text not null,
    created_by text not null references users (id),
    created_at integer not null,
    expires_at integer not null,
    accepted_at integer,
    accepted_by text references users (id),
    revoked_at integer
);
create index invitations_organization on invitations (organization_id);
