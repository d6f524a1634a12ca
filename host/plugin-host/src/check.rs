//! `smo plugin check FILE`: load one plugin in this (short-lived) process and print its
//! metadata as JSON, or one error line. The daemon runs it as a child before loading a file.

use super::error::PluginHostError;
use super::loader::{self, PluginInfo};
use std::path::Path;

/// Loads `file` and returns its metadata. Loading runs the file's code: call it in a child.
pub fn check(file: &Path) -> Result<PluginInfo, PluginHostError> {
    if !file.is_file() {
        return Err(PluginHostError::Load {
            file: file.to_path_buf(),
            message: "no such file".into(),
        });
    }
    let (_module, info) = loader::load(file)?;
    Ok(info)
}
