//! The part of a header view that is the same for every header.
//!
//! Every view (`ethernet::Frame<T>`, `udp::Packet<T>`, ...) is a struct with one field,
//! `buffer: T`, built by `new_unchecked` or `new_checked` and taken apart by `into_inner`.
//! Those four items differ only by the type's name and their doc comments, so
//! [`define_view!`] writes them. What knows the header stays written out in its module:
//! `check_len` (each header checks different lengths) and the field accessors.

/// Defines a view over `T: AsRef<[u8]>`: `pub struct Name<T: AsRef<[u8]>> { buffer: T }`, and
/// in an `impl<T: AsRef<[u8]>> Name<T>` block:
///
/// - `pub const fn new_unchecked(buffer: T) -> Name<T>`: wraps the buffer;
/// - `pub fn new_checked(buffer: T) -> wire::Result<Name<T>>`: wraps the buffer, then returns
///   the error of the module's own `check_len(&self) -> wire::Result<()>`, if any (every view
///   must define `check_len`);
/// - `pub fn into_inner(self) -> T`: unwraps the buffer (documented "Unwraps the buffer.").
///
/// The doc comments and attributes written before each line go on that item, so that every
/// view keeps its own docs and derives:
///
/// ```text
/// define_view! {
///     /// A read/write view of a UDP datagram.
///     #[derive(Debug, Clone)]
///     pub struct Packet<T: AsRef<[u8]>>;
///
///     /// Wraps a buffer without checking it. ...
///     pub const fn new_unchecked;
///
///     /// Wraps a buffer after checking that ..., so that no accessor can panic.
///     pub fn new_checked;
/// }
/// ```
///
/// `new_checked` names its error type `Result`, resolved where the macro is invoked: every
/// header module imports `wire::Result` (were it `core`'s, the expansion would not compile).
/// A `$crate::wire::Result` would show up in rustdoc under that name.
///
/// The functions are generic, so they are compiled, and can be inlined, in the calling crate,
/// exactly as when they were written out by hand.
macro_rules! define_view {
    (
        $(#[$struct_attr:meta])*
        pub struct $name:ident<T: AsRef<[u8]>>;

        $(#[$unchecked_attr:meta])*
        pub const fn new_unchecked;

        $(#[$checked_attr:meta])*
        pub fn new_checked;
    ) => {
        $(#[$struct_attr])*
        pub struct $name<T: AsRef<[u8]>> {
            buffer: T,
        }

        impl<T: AsRef<[u8]>> $name<T> {
            $(#[$unchecked_attr])*
            pub const fn new_unchecked(buffer: T) -> $name<T> {
                $name { buffer }
            }

            $(#[$checked_attr])*
            pub fn new_checked(buffer: T) -> Result<$name<T>> {
                let view = Self::new_unchecked(buffer);
                view.check_len()?;
                Ok(view)
            }

            /// Unwraps the buffer.
            pub fn into_inner(self) -> T {
                self.buffer
            }
        }
    };
}

pub(super) use define_view;
