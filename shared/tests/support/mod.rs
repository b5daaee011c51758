//! Helpers shared by the integration tests (each test binary uses what it needs).
#![allow(dead_code)]

pub mod convergence;
pub mod emf;
pub mod harness;
pub mod inventory;
pub mod logs;
pub mod management;
pub mod moto;
pub mod openapi;
pub mod stream;
