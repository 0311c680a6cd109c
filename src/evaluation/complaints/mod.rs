//! 投诉: complaints about services, bookings, instruments and units, with deadlines the
//! host unit must meet.

pub mod handlers;
pub mod model;
pub mod service;
pub mod store;
