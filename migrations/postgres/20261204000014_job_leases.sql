-- Periodic jobs (app/src/tasks.rs): one row per job. A process runs a
-- due job only after taking its lease in one update, so a job runs once
-- across every process sharing the database; a lease that expires (its
-- holder died mid-run) can be taken over.
create table job_leases (
    name text primary key,
    holder text,
    expires_at bigint not null default 0,
    last_run_at bigint,
    last_finished_at bigint
);
