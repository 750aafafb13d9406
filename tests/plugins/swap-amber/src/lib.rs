//! swap-amber: a hot-swap test version (see ../../swap-common.rs).

const COLOUR: &str = "amber";
const FAULT: &str = "trap-later";

include!("../../swap-common.rs");
