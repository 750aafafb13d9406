//! Compiled-code cache on disk, so a restart or a second load of the same component does not
//! compile again (the Python and JavaScript components take seconds to compile).
//!
//! An entry is keyed by the component's SHA-256 and by the engine's compatibility hash (wasmtime
//! version and every setting that changes generated code), so a changed engine never loads code
//! compiled for another one.

use sha2::{Digest, Sha256};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use wasmtime::Engine;
use wasmtime::component::Component;

/// A directory of precompiled components, kept under a size cap by evicting the entries used
/// least recently (a Python plugin's entry is ~35 MB; every pushed version adds one).
#[derive(Debug, Clone)]
pub struct CodeCache {
    dir: PathBuf,
    max_bytes: u64,
}

/// The cache's default cap: room for dozens of interpreter-sized plugins.
pub const DEFAULT_CACHE_MAX_BYTES: u64 = 2 << 30;

/// The SHA-256 of a component's bytes, hex: the identity of a plugin version.
pub fn content_hash(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

impl CodeCache {
    /// A cache in `dir` (created on first write).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        CodeCache {
            dir: dir.into(),
            max_bytes: DEFAULT_CACHE_MAX_BYTES,
        }
    }

    /// The same cache, holding at most `max_bytes` of entries (the newest is always kept).
    pub fn with_max_bytes(mut self, max_bytes: u64) -> Self {
        self.max_bytes = max_bytes;
        self
    }

    /// `$CALLWASM_CACHE_DIR`, else `$XDG_CACHE_HOME/callwasm/code`, else `~/.cache/callwasm/code`.
    pub fn default_location() -> Option<Self> {
        if let Some(dir) = std::env::var_os("CALLWASM_CACHE_DIR") {
            return Some(Self::new(dir));
        }
        let base = std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
        Some(Self::new(base.join("callwasm").join("code")))
    }

    /// The cache's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn entry(&self, engine: &Engine, hash: &str) -> PathBuf {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut h);
        self.dir.join(format!("{hash}-{:016x}.cwasm", h.finish()))
    }

    /// The cached compilation of the component with this content hash, if there is a usable one.
    pub(crate) fn load(&self, engine: &Engine, hash: &str) -> Option<Component> {
        let path = self.entry(engine, hash);
        if !path.exists() {
            return None;
        }
        // SAFETY: the file is one this cache wrote with `Component::serialize` for an engine
        // with the same compatibility hash; wasmtime still checks its header and version.
        match unsafe { Component::deserialize_file(engine, &path) } {
            Ok(component) => {
                // Recently used: the last to be evicted.
                if let Ok(file) = std::fs::File::options().write(true).open(&path) {
                    let _ = file.set_modified(std::time::SystemTime::now());
                }
                Some(component)
            }
            Err(e) => {
                tracing::warn!(path = %path.display(), "unusable compiled-code cache entry, compiling again: {e}");
                None
            }
        }
    }

    /// Stores a compiled component; a cache that cannot be written only costs a compile later.
    pub(crate) fn store(&self, engine: &Engine, hash: &str, component: &Component) {
        let path = self.entry(engine, hash);
        let result = (|| -> Result<(), String> {
            let bytes = component.serialize().map_err(|e| e.to_string())?;
            std::fs::create_dir_all(&self.dir).map_err(|e| e.to_string())?;
            let tmp = path.with_extension(format!("tmp{}", std::process::id()));
            std::fs::write(&tmp, bytes).map_err(|e| e.to_string())?;
            std::fs::rename(&tmp, &path).map_err(|e| e.to_string())
        })();
        if let Err(e) = result {
            tracing::warn!(path = %path.display(), "cannot write compiled-code cache: {e}");
        }
        self.prune(&path);
    }

    /// Removes the least recently used entries until the cache fits its cap, never `keep`.
    fn prune(&self, keep: &Path) {
        let Ok(dir) = std::fs::read_dir(&self.dir) else {
            return;
        };
        let mut entries: Vec<(std::time::SystemTime, u64, PathBuf)> = dir
            .filter_map(|e| e.ok())
            .filter(|e| e.path().extension().is_some_and(|x| x == "cwasm"))
            .filter_map(|e| {
                let meta = e.metadata().ok()?;
                Some((meta.modified().ok()?, meta.len(), e.path()))
            })
            .collect();
        let mut total: u64 = entries.iter().map(|(_, len, _)| len).sum();
        entries.sort();
        for (_, len, path) in entries {
            if total <= self.max_bytes {
                break;
            }
            if path == keep {
                continue;
            }
            match std::fs::remove_file(&path) {
                Ok(()) => {
                    total = total.saturating_sub(len);
                    tracing::info!(path = %path.display(), "compiled-code cache over its cap: entry evicted");
                }
                Err(e) => tracing::warn!(path = %path.display(), "cannot evict cache entry: {e}"),
            }
        }
    }
}
