-- Photos people add to their posts (up to four) and their avatars: checked
-- and stored like an intake's photos (metadata removed, a thumbnail made),
-- but owned by the person who uploaded them rather than by an intake. A
-- photo is used once: by one post (post_photos) or as one avatar
-- (profiles.avatar_photo_id); one never used is removed a day later.
create table community_photos (
    id text primary key,
    owner_id text not null references users (id),
    media_type text not null check (media_type in ('image/jpeg', 'image/png')),
    width bigint not null check (width > 0),
    height bigint not null check (height > 0),
    bytes bigint not null check (bytes > 0),
    sha256 text not null,
    original_key text not null,
    thumbnail_key text not null,
    uploaded_at bigint not null
);
create index community_photos_owner on community_photos (owner_id, uploaded_at);
create unique index post_photos_photo on post_photos (photo_id);
