//! (being built)

use crate::app::App;
use axum::Router;

pub fn routes() -> Router<App> {
    Router::new()
}
