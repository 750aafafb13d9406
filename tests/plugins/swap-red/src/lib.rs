//! swap-red: a hot-swap test version (see ../../swap-common.rs).

const COLOUR: &str = "red";
const FAULT: &str = "trap-on-start";

include!("../../swap-common.rs");
