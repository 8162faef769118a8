//! flightdeck: a terminal cockpit for data migrations.
//!
//! The binary in `main.rs` only parses arguments and calls in here.

pub mod cli;
pub mod cockpit;
pub mod db;
pub mod decisions;
pub mod eventlog;
pub mod evolve;
pub mod headless;
pub mod logging;
pub mod output;
pub mod paths;
pub mod pipeline;
pub mod profile;
pub mod project;
pub mod recommend;
pub mod report;
pub mod sample;
pub mod schema;
pub mod timeline;
pub mod transform;
pub mod tui;
pub mod validate;
pub mod value;
pub mod versions;
