//! Command output (a readable table or JSON) and command errors (which
//! argument was wrong, and the exit code).

use serde_json::{Map, Value};
use std::fmt;

/// Exit code: success (and "verified").
pub const EXIT_OK: u8 = 0;
/// Exit code: a verification failed, or conformance cases failed.
pub const EXIT_FAILED: u8 = 1;
/// Exit code: the command line was wrong (an argument, a file).
pub const EXIT_USAGE: u8 = 2;
/// Exit code: the operation was refused or could not run.
pub const EXIT_ERROR: u8 = 3;

/// A command's error: a message naming the argument at fault, and an exit code.
#[derive(Debug)]
pub struct CliError {
    /// The exit code.
    pub code: u8,
    /// What was wrong (never contains a secret value).
    pub message: String,
}

impl CliError {
    /// An argument error naming `arg` (e.g. `--pan`).
    pub fn arg(arg: &str, reason: impl fmt::Display) -> Self {
        Self {
            code: EXIT_USAGE,
            message: format!("invalid argument {arg}: {reason}"),
        }
    }

    /// A usage error (a combination of arguments, a file).
    pub fn usage(message: impl Into<String>) -> Self {
        Self {
            code: EXIT_USAGE,
            message: message.into(),
        }
    }

    /// An operation error (the backend refused, a computation failed).
    pub fn op(message: impl fmt::Display) -> Self {
        Self {
            code: EXIT_ERROR,
            message: message.to_string(),
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<crate::Error> for CliError {
    fn from(e: crate::Error) -> Self {
        Self::op(e)
    }
}

/// A command's result: ordered fields, shown as a table or as JSON.
#[derive(Debug, Default)]
pub struct Output {
    fields: Vec<(String, Value)>,
    /// The exit code (1 when a verification failed).
    pub code: u8,
    /// Pre-rendered text (used by `conformance`), printed instead of the
    /// table or the JSON object.
    pub text: Option<String>,
}

impl Output {
    /// An empty output.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a field.
    pub fn field(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.fields.push((name.to_string(), value.into()));
        self
    }

    /// Adds a field in place.
    pub fn push(&mut self, name: &str, value: impl Into<Value>) {
        self.fields.push((name.to_string(), value.into()));
    }

    /// Adds a secret field: its value when `show`, else a note that it is hidden.
    pub fn secret(self, name: &str, value: impl FnOnce() -> String, show: bool) -> Self {
        if show {
            self.field(name, value())
        } else {
            self.field(name, Value::Null)
        }
    }

    /// JSON: an object with the fields (hidden secrets are `null`).
    pub fn to_json(&self) -> String {
        let mut m = Map::new();
        for (n, v) in &self.fields {
            m.insert(n.clone(), v.clone());
        }
        serde_json::to_string_pretty(&Value::Object(m)).unwrap_or_default()
    }

    /// A readable two-column table. Hidden secrets are left out, with one
    /// line saying how many were hidden.
    pub fn to_table(&self) -> String {
        let w = self.fields.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
        let mut s = String::new();
        let mut hidden = 0;
        for (n, v) in &self.fields {
            let shown = match v {
                Value::String(x) => x.clone(),
                Value::Null => {
                    hidden += 1;
                    continue;
                }
                other => other.to_string(),
            };
            s.push_str(&format!("{n:<w$}  {shown}\n"));
        }
        if hidden > 0 {
            s.push_str(&format!(
                "({hidden} secret value{} hidden; --show-secrets prints {})\n",
                if hidden == 1 { "" } else { "s" },
                if hidden == 1 { "it" } else { "them" }
            ));
        }
        s
    }
}
