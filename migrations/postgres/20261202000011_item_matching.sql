-- Item matching: each analysed photo's feature vector from the image model
-- (1280 little-endian floats, with the model's name so vectors of another
-- model are never compared), and each pantry's matching set: photos that
-- staff confirmed as showing one product. New photos are compared with the
-- set, so recognition improves as intakes are confirmed.
create table photo_features (
    photo_id text primary key references photos (id),
    model text not null,
    features bytea not null
);

create table product_photos (
    pantry_id text not null references pantries (id),
    product_id text not null references products (id),
    photo_id text not null references photos (id),
    intake_id text not null references intakes (id),
    confirmed_at bigint not null,
    primary key (pantry_id, product_id, photo_id)
);
create index product_photos_recent on product_photos (pantry_id, confirmed_at);

-- How many of an item the vision model counted (its findings, kind 'llm').
alter table photo_findings add column quantity bigint check (quantity > 0);
