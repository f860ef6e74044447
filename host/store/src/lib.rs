//! `ipra-store`: the region's register and everything that keeps it — the only crate of the
//! server that speaks SQL. Schema and migrations (`db`), the register of IPRAs, measures,
//! executions and reports (`register`), users, sessions and tokens (`auth`), the tamper-evident
//! audit log (`audit`), the exchange's messages and folders (`exchange`), the scheduler with its
//! leader election (`scheduler`) and the signing queue (`signing`). The web layer and the command
//! line call these functions and never hold a query of their own.

pub mod app;
pub mod audit;
pub mod auth;
pub mod backup;
pub mod clock;
pub mod config;
/// Named points where crash tests kill the process (kept in the runtime, which installs plugins too).
pub use ipra_runtime::crashpoint;
pub mod db;
pub mod exchange;
pub mod metrics;
pub mod paging;
pub mod plans;
pub mod refusal;
pub mod register;
pub mod scheduler;
pub mod signing;
pub mod synthetic;

/// The plugin runtime (crate `ipra-runtime`), under the name the register has always used for it.
pub use ipra_runtime as plugins;
