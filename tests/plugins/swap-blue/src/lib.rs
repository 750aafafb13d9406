//! swap-blue: a hot-swap test version (see ../../swap-common.rs).

const COLOUR: &str = "blue";
const FAULT: &str = "ok";

include!("../../swap-common.rs");
