//! Targets without interposition: the crate compiles, scopes only track state.

/// Whether this build defines the interposed functions.
pub(crate) const INTERPOSES: bool = false;

/// The getrandom crate's look-up cannot find what is not defined.
pub(crate) fn getrandom_found_by_dlsym() -> bool {
    false
}
