//! The migration project file: model, loading, checks with `file:line:col` errors.

pub mod error;
pub mod model;
