-- Each pantry counts its days in a time zone (an IANA name): its own when
-- chosen, else its organization's, which starts as UTC.
alter table organizations add column time_zone text not null default 'UTC';
alter table pantries add column time_zone text;
