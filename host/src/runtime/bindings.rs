//! Host-side bindings generated from wit/: the types plugins and the router exchange.

wasmtime::component::bindgen!({
    world: "router-plugin",
    path: "../wit",
    additional_derives: [serde::Serialize, serde::Deserialize, PartialEq],
});
