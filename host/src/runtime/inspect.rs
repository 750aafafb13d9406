//! What a component is: its header, imports and exports, and whether it is a router plugin.

use super::CALL_HANDLER_INTERFACE;
use super::error::LoadError;
use wasmtime::Engine;
use wasmtime::component::Component;

/// A component's identity and interface, as `callwasm plugin check` prints it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ComponentInfo {
    pub name: String,
    pub size: usize,
    /// SHA-256 of the component's bytes.
    pub hash: String,
    pub imports: Vec<String>,
    pub exports: Vec<String>,
}

/// Tells a component from a core module and from a file that is not wasm at all, before
/// wasmtime's less specific parse errors.
pub(crate) fn check_header(bytes: &[u8]) -> Result<(), LoadError> {
    if bytes.len() < 8 || &bytes[..4] != b"\0asm" {
        return Err(LoadError::NotWasm);
    }
    // Bytes 4..8: version and layer. Layer 0 is a core module, layer 1 a component.
    if bytes[6..8] == [0, 0] {
        return Err(LoadError::CoreModule);
    }
    Ok(())
}

impl ComponentInfo {
    pub(crate) fn of(
        name: &str,
        size: usize,
        hash: &str,
        engine: &Engine,
        component: &Component,
    ) -> Self {
        let ty = component.component_type();
        ComponentInfo {
            name: name.to_string(),
            size,
            hash: hash.to_string(),
            imports: ty.imports(engine).map(|(n, _)| n.to_string()).collect(),
            exports: ty.exports(engine).map(|(n, _)| n.to_string()).collect(),
        }
    }

    /// The component exports the call handler and imports only what the host provides
    /// (its own `host` interface and WASI).
    pub(crate) fn check_world(&self) -> Result<(), LoadError> {
        if !self.exports.iter().any(|e| e == CALL_HANDLER_INTERFACE) {
            return Err(LoadError::WrongWorld {
                expected: CALL_HANDLER_INTERFACE.into(),
                found: if self.exports.is_empty() {
                    "nothing".into()
                } else {
                    self.exports.join(", ")
                },
            });
        }
        if let Some(unknown) = self
            .imports
            .iter()
            .find(|i| !i.starts_with("wasi:") && !i.starts_with("callwasm:router/"))
        {
            return Err(LoadError::UnknownImport(unknown.clone()));
        }
        Ok(())
    }
}
