//! The regional register: persons, IPRA and their measures, source documents, import runs and
//! reference data. Owns its tables; the web layer and the CLI call these functions, never SQL.

pub mod clarification;
pub mod deadlines;
pub mod deaths;
pub mod directory;
pub mod egisso;
pub mod execution;
pub mod execution_register;
pub mod facts;
pub mod import;
pub mod intake;
pub mod ipra_reports;
pub mod mart;
pub mod preferences;
pub mod query;
pub mod recipients;
pub mod reference;
pub mod social_services;
pub mod stats;
pub mod store;
pub mod workload;
