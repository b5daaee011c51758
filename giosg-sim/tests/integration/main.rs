//! Integration tests of the Giosg simulator over real HTTP on loopback.

mod auth;
mod contrary;
mod control;
mod faults;
mod org_api;
mod settings_extra;
mod support;
mod visitor_api;
mod webhook_changes;
mod webhook_delivery;
mod webhook_events;
