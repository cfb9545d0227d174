-- A pantry's managers review reported posts: dismissing a post's reports
-- (it stays) closes them; a new report by the same person opens it again.
alter table post_reports add column dismissed_at integer;
