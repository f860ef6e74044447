//! Command-line operations beyond import and serve: the register's execution work
//! (`register`) and the exchanges, jobs and signing (`exchange`).

pub mod audit;
pub mod config;
pub mod exchange;
pub mod kit;
pub mod ops;
pub mod register;

pub use register::*;

use anyhow::Result;
use serde::Serialize;

fn print_json<T: Serialize>(value: &T) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}
