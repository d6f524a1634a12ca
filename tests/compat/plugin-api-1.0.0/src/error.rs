//! The error value every strategy call may return instead of a decision.
//! Small and FFI-safe: a kind code and a human-readable message.

use abi_stable::std_types::RString;
use abi_stable::StableAbi;
use std::fmt;

/// What went wrong, as an integer newtype so that later versions can add kinds.
#[repr(transparent)]
#[derive(StableAbi, Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct ErrorKind(pub u32);

impl ErrorKind {
    /// The input was malformed or violated the strategy's assumptions.
    pub const INVALID_INPUT: ErrorKind = ErrorKind(1);
    /// The problem has no solution under the constraints (e.g. not enough capacity).
    pub const INFEASIBLE: ErrorKind = ErrorKind(2);
    /// The strategy panicked; the SDK caught it.
    pub const PANIC: ErrorKind = ErrorKind(3);
    /// A solver or internal failure.
    pub const INTERNAL: ErrorKind = ErrorKind(4);
    /// The strategy name or parameters given to a constructor are not known or invalid.
    pub const BAD_PARAMETERS: ErrorKind = ErrorKind(5);
    /// The strategy gave up because its own time limit ran out.
    pub const TIME_LIMIT: ErrorKind = ErrorKind(6);

    /// A short lowercase name for logs and the API.
    pub fn name(self) -> &'static str {
        match self {
            Self::INVALID_INPUT => "invalid_input",
            Self::INFEASIBLE => "infeasible",
            Self::PANIC => "panic",
            Self::INTERNAL => "internal",
            Self::BAD_PARAMETERS => "bad_parameters",
            Self::TIME_LIMIT => "time_limit",
            _ => "other",
        }
    }
}

/// An error returned by a plugin across the ABI.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq)]
pub struct PluginError {
    pub kind: ErrorKind,
    pub message: RString,
}

impl PluginError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: RString::from(message.into()),
        }
    }
    pub fn invalid_input(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::INVALID_INPUT, message)
    }
    pub fn infeasible(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::INFEASIBLE, message)
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::INTERNAL, message)
    }
    pub fn bad_parameters(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::BAD_PARAMETERS, message)
    }
}

impl fmt::Display for PluginError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.name(), self.message)
    }
}

impl std::error::Error for PluginError {}
