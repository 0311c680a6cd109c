//! yiqi (仪器): a booking service for shared research instruments.
//!
//! `app::Application::build` wires settings, the database and the route table (`app::routes`,
//! the one place all routes are listed); `main.rs` only parses the command line.
// Grouped boxed queries over joins nest deeply in diesel's types.
#![recursion_limit = "256"]

pub mod app;
pub mod audit;
pub mod auth;
pub mod cache;
pub mod cli;
pub mod clock;
pub mod config;
pub mod db;
pub mod error;
pub mod evaluation;
pub mod http;
pub mod jobs;
pub mod mail;
pub mod metrics;
pub mod navigation;
pub mod openapi;
pub mod params;
pub mod publishing;
pub mod reservations;
pub mod search;
pub mod seed;
pub mod state;
pub mod telemetry;
pub mod types;
pub mod usage;
pub mod users;
pub mod validate;
pub mod vouchers;
pub mod web;
pub mod words;

pub use app::{routes, Application};
pub use state::AppState;
