//! Why a plugin could not be loaded, or why one call of it failed.

use std::time::Duration;

/// A component that cannot serve as a plugin. Each names the problem in one line.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("not a WebAssembly file: it does not start with the \\0asm header")]
    NotWasm,
    #[error(
        "a core WebAssembly module, not a component: build for wasm32-wasip2 or wrap it with `wasm-tools component new`"
    )]
    CoreModule,
    #[error("invalid component: {0}")]
    Invalid(String),
    #[error("not a callwasm router plugin: it does not export {expected} (it exports: {found})")]
    WrongWorld { expected: String, found: String },
    #[error("not a callwasm router plugin: it imports {0}, which callwasm does not provide")]
    UnknownImport(String),
    #[error("plugin cannot be prepared: {0}")]
    Prepare(String),
}

/// Why one `handle` call produced no usable reply. The plugin instance that failed is dropped;
/// the next call gets a fresh one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PluginError {
    #[error("trap: {message}")]
    Trap { message: String },
    #[error("deadline exceeded: still running after {0:?}")]
    DeadlineExceeded(Duration),
    #[error("memory limit: the plugin tried to grow its memory past {limit} bytes")]
    MemoryLimit { limit: usize },
    #[error("stack overflow: the plugin exhausted its call stack")]
    StackOverflow,
    #[error("too many commands: {count} in one reply, the limit is {limit}")]
    TooManyCommands { count: usize, limit: usize },
    #[error("reply too large: {bytes} bytes, the limit is {limit}")]
    ReplyTooLarge { bytes: usize, limit: usize },
    /// A reply so big that copying it out of the plugin exceeded the copy budget.
    #[error(
        "reply too large: more than {budget} bytes to copy out of the plugin, the reply limit is {limit}"
    )]
    ReplyTooLargeToCopy { budget: usize, limit: usize },
    #[error("state too large: {bytes} bytes, the limit is {limit}")]
    StateTooLarge { bytes: usize, limit: usize },
    #[error("plugin returned an error: {0}")]
    Returned(String),
    #[error("plugin could not be instantiated: {0}")]
    Instantiate(String),
}

impl PluginError {
    /// A short, stable name for counters and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            PluginError::Trap { .. } => "trap",
            PluginError::DeadlineExceeded(_) => "deadline",
            PluginError::MemoryLimit { .. } => "memory",
            PluginError::StackOverflow => "stack",
            PluginError::TooManyCommands { .. } => "too-many-commands",
            PluginError::ReplyTooLarge { .. } | PluginError::ReplyTooLargeToCopy { .. } => {
                "reply-too-large"
            }
            PluginError::StateTooLarge { .. } => "state-too-large",
            PluginError::Returned(_) => "returned-error",
            PluginError::Instantiate(_) => "instantiate",
        }
    }
}
