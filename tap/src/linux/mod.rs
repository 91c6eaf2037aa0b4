//! The Linux half: the lab (namespace and TAP device), the adapter between the device and
//! the host, the applications on each side, and the run that ties them together.

pub(crate) mod adapter;
pub(crate) mod apps;
pub(crate) mod kernel;
pub(crate) mod lab;
pub(crate) mod raw;
pub(crate) mod run;
