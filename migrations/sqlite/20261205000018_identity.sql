-- Identity: API keys, where sessions come from, sign-in records and
-- password reset links.

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

-- Where a session was opened, for the account page's session list and the
-- audit log.
alter table sessions add column client_ip text;
alter table sessions add column user_agent text;

-- Every sign-in attempt, kept for the audit log: who (when known), how,
-- from where, and whether it worked.
create table sign_ins (
    id text primary key,
    user_id text references users (id),
    email text not null,
    method text not null check (method in ('password', 'oidc', 'reset_link')),
    succeeded integer not null,
    client_ip text,
    user_agent text,
    at integer not null
);
create index sign_ins_user on sign_ins (user_id, at);
create index sign_ins_at on sign_ins (at);

-- One-time links an admin makes for a member who forgot their password.
-- The table keeps the link's SHA-256.
create table password_resets (
    token_hash text primary key,
    user_id text not null references users (id),
    created_by text not null references users (id),
    created_at integer not null,
    expires_at integer not null,
    used_at integer
);
create index password_resets_user on password_resets (user_id);

-- Single sign-on (OpenID Connect through a Cognito user pool). A sign-in
-- under way: its state (hashed; the browser holds it in a cookie too), the
-- nonce the ID token must carry and the PKCE verifier. Used once.
create table oidc_logins (
    state_hash text primary key,
    nonce text not null,
    verifier text not null,
    next text,
    created_at integer not null
);
-- Which account an identity provider's subject signs in to.
create table oidc_identities (
    issuer text not null,
    subject text not null,
    user_id text not null references users (id),
    email text not null,
    created_at integer not null,
    primary key (issuer, subject)
);
create index oidc_identities_user on oidc_identities (user_id);
-- How a session was opened: 'password' or 'oidc' (signing out of an SSO
-- session also ends the identity provider's).
alter table sessions add column method text;
