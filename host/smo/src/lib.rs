//! The `smo` daemon and CLI as a library: the binary in `main.rs` is a thin layer over it.
//! One module a concern; data flows api -> graphs -> store, engine -> plugins -> backend.

pub mod api;
pub mod cli;
pub mod cluster_table;
pub mod config;
pub mod daemon;
pub mod engine;
pub mod logging;
pub mod metrics;
pub mod plugin_list;
pub mod reload;
pub mod render;
pub mod server;
pub mod simulate;
pub mod store;
pub mod strategy_names;
pub mod systemd;
pub mod tls;
