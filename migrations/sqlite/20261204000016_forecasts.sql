-- Forecasting (app/src/forecasts): each pantry's replenishment settings,
-- the runs that make forecasts (a run's row is its job and its progress),
-- and the latest forecast per pantry and product.

create table forecast_settings (
    pantry_id text primary key references pantries (id),
    horizon_days integer not null check (horizon_days between 7 and 182),
    lead_time_days integer not null check (lead_time_days between 0 and 90),
    review_days integer not null check (review_days between 1 and 90),
    -- Per mille: 950 is a 95% chance of not running out in a lead time.
    service_per_mille integer not null check (service_per_mille between 500 and 999),
    updated_at integer not null
);

-- queued → running → done | failed. At most one queued run per pantry, so
-- asking twice does not do the work twice; one asked for while another
-- runs waits for it (it may read history the running one did not).
create table forecast_runs (
    id text primary key,
    organization_id text not null references organizations (id),
    pantry_id text not null references pantries (id),
    reason text not null check (reason in ('requested', 'scheduled', 'import')),
    status text not null check (status in ('queued', 'running', 'done', 'failed')),
    products_total integer not null default 0,
    products_done integer not null default 0,
    requested_by text references users (id),
    created_at integer not null,
    started_at integer,
    -- A running run whose worker has not said anything for a while
    -- belongs to a process that stopped; another takes it over.
    heartbeat_at integer,
    finished_at integer,
    message text
);
create unique index forecast_runs_queued on forecast_runs (pantry_id) where status = 'queued';
create index forecast_runs_pantry on forecast_runs (pantry_id, created_at);
create index forecast_runs_waiting on forecast_runs (status, created_at) where status in ('queued', 'running');

-- The latest forecast of each product a pantry has handed out. A product
-- without enough history has a row saying so (status, needs_days).
create table forecasts (
    pantry_id text not null references pantries (id),
    product_id text not null references products (id),
    organization_id text not null references organizations (id),
    run_id text not null references forecast_runs (id),
    generated_at integer not null,
    -- The local day of the first forecast point (ISO), the day it was made.
    first_day text not null,
    horizon_days integer not null,
    history_days integer not null,
    censored_days integer not null,
    status text not null check (status in ('ok', 'not_enough_history')),
    needs_days integer,
    model text,
    mae real,
    rmse real,
    mase real,
    bias real,
    coverage80 real,
    coverage95 real,
    backtest_windows integer,
    -- JSON: the points [{mean, lo80, hi80, lo95, hi95}] and every model
    -- tried with its backtest accuracy.
    points text not null,
    candidates text not null,
    primary key (pantry_id, product_id)
);
create index forecasts_organization on forecasts (organization_id, product_id);
