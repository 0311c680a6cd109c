//! The integration suite: one binary, so the application is linked once. Each module is one
//! area, tested end to end against the real server on both backends (`on_both_backends!`).

#[macro_use]
mod common;

mod accounts;
mod browser;
mod catalogue;
mod cli;
mod complaints;
mod editing;
mod evaluation;
mod instances;
mod mail;
mod migrations;
mod national;
mod openapi;
mod operations;
mod permissions;
mod publishing;
mod reservations;
mod resilience;
mod search;
mod security;
mod storage;
mod usage;
mod vouchers;
mod web;
