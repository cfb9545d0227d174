-- The W3C trace context (traceparent) of the request that appended the
-- event, when traces are exported: a consumer's work joins that trace.
alter table events add column trace_parent text;
