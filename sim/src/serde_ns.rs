//! Serde adapters that write durations and instants as integer nanoseconds, so a fault plan
//! reads as `"latency_ns": 5000000` and round-trips exactly.

use sansnet_stack::time::{Duration, Instant};
use serde::{Deserialize, Deserializer, Serializer};

fn duration_to_ns(d: &Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

pub(crate) mod duration {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(duration_to_ns(d))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_nanos(u64::deserialize(d)?))
    }
}

pub(crate) mod instant {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(t: &Instant, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(t.as_nanos())
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Instant, D::Error> {
        Ok(Instant::from_nanos(u64::deserialize(d)?))
    }
}
