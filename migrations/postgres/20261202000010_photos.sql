-- Photos: an intake is a box of donations being photographed; each photo is
-- checked and stored on upload (files in the object store, keys here), read
-- in the background, and its findings become suggested lines that staff
-- confirm as `received` movements (intake_lines records what was posted).
create table intakes (
    id text primary key,
    organization_id text not null references organizations (id),
    pantry_id text not null references pantries (id),
    donor text,
    status text not null default 'open' check (status in ('open', 'confirmed')),
    created_by text not null references users (id),
    created_at bigint not null,
    confirmed_by text references users (id),
    confirmed_at bigint
);
create index intakes_pantry on intakes (pantry_id, created_at);

create table photos (
    id text primary key,
    intake_id text not null references intakes (id),
    organization_id text not null,
    pantry_id text not null,
    number bigint not null,
    media_type text not null check (media_type in ('image/jpeg', 'image/png')),
    width bigint not null check (width > 0),
    height bigint not null check (height > 0),
    bytes bigint not null check (bytes > 0),
    sha256 text not null,
    original_key text not null,
    thumbnail_key text not null,
    status text not null default 'waiting' check (status in ('waiting', 'running', 'done', 'failed')),
    stage text,
    error text,
    -- When a worker took it; a claim older than a few minutes is taken
    -- over (its worker stopped).
    claimed_at bigint,
    uploaded_by text not null references users (id),
    uploaded_at bigint not null,
    analyzed_at bigint,
    unique (intake_id, number)
);
create index photos_waiting on photos (uploaded_at) where status in ('waiting', 'running');

-- What the readers found: barcodes now; printed dates and matches later.
create table photo_findings (
    photo_id text not null references photos (id),
    ordinal bigint not null,
    kind text not null,
    format text not null,
    value text not null,
    gtin text,
    best_before text,
    confidence bigint not null check (confidence between 0 and 100),
    primary key (photo_id, ordinal)
);

create table intake_lines (
    intake_id text not null references intakes (id),
    product_id text not null references products (id),
    quantity bigint not null check (quantity > 0),
    best_before text,
    -- Checked at commit: the confirmation is written before its movements.
    movement_id text not null references movements (id) deferrable initially deferred,
    primary key (intake_id, product_id, movement_id)
);
