//! swap-green: a hot-swap test version (see ../../swap-common.rs).

const COLOUR: &str = "green";
const FAULT: &str = "ok";

include!("../../swap-common.rs");
