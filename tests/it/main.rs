//! Integration tests: a real PostgreSQL cluster (started by the harness), a real server on
//! loopback, real HTTP.

mod common;

mod approvals;
mod bad_input;
mod billing;
mod bookings;
mod browser;
mod cli;
mod commerce;
mod confirmation;
mod content;
mod customers;
mod embedded;
mod errors;
mod every_weekday;
mod exports;
mod fake_providers;
mod fake_stripe;
mod health;
mod idempotency;
mod imports;
mod isolation;
mod keys;
mod layout;
mod loyalty;
mod mail;
mod mcp;
mod mcp_client;
mod messaging;
mod migrations;
mod oauth;
mod openapi;
mod person;
mod policies;
mod processes;
mod ratelimit;
mod readme;
mod reports;
mod sdk;
mod signup;
mod stripe;
mod subscriptions;
mod team;
mod webhooks;
