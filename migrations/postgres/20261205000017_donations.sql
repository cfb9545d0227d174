-- A donation of several products received in one form, with one receipt:
-- the donation and which movements (one `received` line per product) it
-- posted. Movements stay the ledger; this groups them.
create table donations (
    id text primary key,
    organization_id text not null references organizations (id),
    pantry_id text not null references pantries (id),
    donor text,
    note text,
    received_at bigint not null,
    recorded_by text not null references users (id)
);
create index donations_pantry on donations (pantry_id, received_at);

create table donation_lines (
    donation_id text not null references donations (id),
    -- Written in the transaction that posts the movement.
    movement_id text not null references movements (id) deferrable initially deferred,
    position bigint not null,
    primary key (donation_id, movement_id)
);
create index donation_lines_movement on donation_lines (movement_id);
