//! Content in and out: every setting, channel, source, tag, page and article written to JSON
//! Lines ([`export()`]) and read back ([`import()`]), on either database. The format is in
//! [`format`]; a file written from SQLite and imported into PostgreSQL exports to the same bytes.
//!
//! What is carried is the content a newsroom moving to another installation needs: everything an
//! editor wrote, in every status, with its times, view count and version. What is not: users and
//! their tokens (accounts belong to an installation, and a password hash should not travel in a
//! content file), revision history (each revision names the user who saved it; an imported
//! article starts its history with one revision at its imported version), view buckets behind
//! the day, week and month rankings, takedown requests, webhooks, and where each source's feed
//! stands.

mod export;
pub mod format;
mod import;

use std::fmt;

pub use export::export;
pub use import::{ImportReport, import};

use crate::error::Error;

/// How many records of each type.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Site settings.
    pub settings: u64,
    /// Channels.
    pub channels: u64,
    /// Sources.
    pub sources: u64,
    /// Tags.
    pub tags: u64,
    /// Pages.
    pub pages: u64,
    /// Articles.
    pub articles: u64,
}

impl Counts {
    fn add(&mut self, kind: &str) {
        match kind {
            "setting" => self.settings += 1,
            "channel" => self.channels += 1,
            "source" => self.sources += 1,
            "tag" => self.tags += 1,
            "page" => self.pages += 1,
            _ => self.articles += 1,
        }
    }

    /// All records.
    pub fn total(&self) -> u64 {
        self.settings + self.channels + self.sources + self.tags + self.pages + self.articles
    }
}

impl fmt::Display for Counts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} settings, {} channels, {} sources, {} tags, {} pages, {} articles",
            self.settings, self.channels, self.sources, self.tags, self.pages, self.articles
        )
    }
}

/// Why an export stopped.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// Reading the database failed.
    #[error(transparent)]
    Domain(#[from] Error),
    /// Writing the output failed.
    #[error("writing the export failed: {0}")]
    Write(#[from] std::io::Error),
    /// A record could not be written as JSON.
    #[error("writing a record as JSON failed: {0}")]
    Json(#[from] serde_json::Error),
}

/// Why an import wrote nothing.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// A line is not a record this build reads, breaks a rule, or conflicts with what is there.
    #[error("line {line}{}: {}", field.as_ref().map(|f| format!(", field `{f}`")).unwrap_or_default(), message(error))]
    Record {
        /// The line, counting from 1 (the header).
        line: u64,
        /// The field at fault, as the file names it, when one is.
        field: Option<String>,
        /// What is wrong.
        error: Error,
    },
    /// A line could not be read.
    #[error("line {line}: reading failed: {source}")]
    Read {
        /// The line, counting from 1.
        line: u64,
        /// The cause.
        source: std::io::Error,
    },
}

/// The error's words without the field it already names.
fn message(error: &Error) -> String {
    match error {
        Error::Validation { message, .. } => message.clone(),
        other => other.to_string(),
    }
}
