//! Integration tests: the real server over HTTP, on SQLite and PostgreSQL.
//! One test binary (not one per file) keeps linking time down.

mod helpers;

mod accounts;
mod binary;
mod community;
mod copy_data;
mod crash;
mod essentials;
mod events_rabbitmq;
mod forecasts;
mod hostile;
mod identity;
mod inventory;
mod llm;
mod matching;
mod notifications;
mod operations;
mod parked_events;
mod pg_pair;
mod photos;
mod photos_s3;
mod places;
mod properties;
mod purchasing;
mod push;
mod read_replica;
mod redis_shared;
mod schema;
mod stock_issues;
mod supplier_feeds;
mod tasks;
mod traces;
mod usage;
mod zones;
