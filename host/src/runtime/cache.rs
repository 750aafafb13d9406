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

/// A directory of precompiled components.
#[derive(Debug, Clone)]
pub struct CodeCache {
    dir: PathBuf,
}

/// The SHA-256 of a component's bytes, hex: the identity of a plugin version.
pub fn content_hash(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

impl CodeCache {
    /// A cache in `dir` (created on first write).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        CodeCache { dir: dir.into() }
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
            Ok(component) => Some(component),
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
    }
}
