//! favcrm: an agentic headless backend for service businesses.
//!
//! PostgreSQL holds every rule (RLS policies and `api.*` functions); this crate is a thin
//! authenticated proxy in front of it, generated from one operation catalog.
#![forbid(unsafe_code)]
// ApiError carries a problem body; it travels only on the error path, where its size is no cost.
#![allow(clippy::result_large_err)]

pub mod auth;
pub mod call;
pub mod catalog;
pub mod cli;
pub mod client;
pub mod db;
pub mod effects;
pub mod error;
pub mod limits;
pub mod openapi;
pub mod render;
pub mod scheduler;
pub mod skills;
pub mod telemetry;
pub mod web;
