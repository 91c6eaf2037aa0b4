//! [`StackUnderTest`](crate::runner::StackUnderTest) over a whole sansnet host, driven
//! through Ethernet frames. (Coming with the host's socket API.)
