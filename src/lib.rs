//! favcrm: an agentic headless backend for service businesses.
//!
//! PostgreSQL holds every rule (RLS policies and `api.*` functions); this crate is a thin
//! authenticated proxy in front of it, generated from one operation catalog.
#![forbid(unsafe_code)]

pub mod catalog;
pub mod cli;
pub mod db;
pub mod error;
pub mod mcp;
pub mod policies;
pub mod rest;
pub mod startup;
pub mod telemetry;
