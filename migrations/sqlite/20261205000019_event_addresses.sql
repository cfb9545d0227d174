-- The client address of the request that made each change, for the audit
-- log ("who did what, from which address"). Empty for older events and for
-- changes no request made (scheduled jobs).
alter table events add column client_ip text;
