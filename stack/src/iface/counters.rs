//! `netstat -s`-style counters: what went in and out at each layer, and a named reason for
//! every packet the host dropped.

use core::fmt;

macro_rules! drop_reasons {
    ($( $(#[$doc:meta])* $variant:ident => $name:literal, )*) => {
        /// Why the host dropped a frame, a packet or a datagram. Every drop has one.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum DropReason {
            $( $(#[$doc])* $variant, )*
        }

        impl DropReason {
            /// Every reason, in counter order.
            pub const ALL: &'static [DropReason] = &[ $( DropReason::$variant, )* ];

            /// A snake_case name for counters and traces.
            pub fn as_str(self) -> &'static str {
                match self {
                    $( DropReason::$variant => $name, )*
                }
            }
        }
    };
}

drop_reasons! {
    /// A frame on a NIC index the configuration does not have.
    UnknownNic => "unknown_nic",
    /// Shorter than an Ethernet header, or an unsupported tag (Q-in-Q).
    EthernetMalformed => "ethernet_malformed",
    /// Addressed to another MAC (not ours, not broadcast).
    EthernetNotForUs => "ethernet_not_for_us",
    /// An EtherType other than IPv4 and ARP.
    EthernetUnknownType => "ethernet_unknown_type",
    /// An 802.1Q-tagged frame: the host has no VLAN interfaces.
    EthernetVlanTagged => "ethernet_vlan_tagged",
    /// ARP that does not parse, or not Ethernet/IPv4.
    ArpMalformed => "arp_malformed",
    /// A packet waiting for ARP found the per-address queue full.
    ArpPendingFull => "arp_pending_full",
    /// Too many addresses waiting for resolution at once.
    ArpPendingTableFull => "arp_pending_table_full",
    /// Resolution failed after the retries; the waiting packets are dropped.
    ArpResolutionFailed => "arp_resolution_failed",
    /// An IPv4 header shorter than its fields say, or an impossible length.
    IpMalformed => "ip_malformed",
    /// A version other than 4.
    IpBadVersion => "ip_bad_version",
    /// The header checksum does not verify.
    IpBadChecksum => "ip_bad_checksum",
    /// A source address no host may use (broadcast, multicast, loopback from a wire, ours).
    IpMartianSource => "ip_martian_source",
    /// Not addressed to this host, which does not forward.
    IpNotForUs => "ip_not_for_us",
    /// TTL ran out while forwarding (ICMP time exceeded sent).
    IpTtlExpired => "ip_ttl_expired",
    /// No route to the destination.
    IpNoRoute => "ip_no_route",
    /// Larger than the next hop's MTU with DF set (ICMP fragmentation needed sent).
    IpFragNeeded => "ip_frag_needed",
    /// A protocol the host does not speak (ICMP protocol unreachable sent).
    IpUnknownProtocol => "ip_unknown_protocol",
    /// The loopback queue was full.
    LoopbackQueueFull => "loopback_queue_full",
    /// The transmit queue was full.
    TxQueueFull => "tx_queue_full",
    /// The caller's buffer in `poll_transmit` was too small for the frame.
    TxBufferTooSmall => "tx_buffer_too_small",
    /// A fragment overlapping another (not an exact duplicate): the whole datagram goes.
    FragOverlap => "frag_overlap",
    /// An exact duplicate of a fragment already held.
    FragDuplicate => "frag_duplicate",
    /// A fragment whose length is not a multiple of 8, or past the datagram's end.
    FragMalformed => "frag_malformed",
    /// The reassembly memory (or datagram count) bound was reached.
    FragMemoryFull => "frag_memory_full",
    /// Reassembly did not complete in time.
    FragTimeout => "frag_timeout",
    /// ICMP that does not parse, or of an unsupported type.
    IcmpMalformed => "icmp_malformed",
    /// The ICMP checksum does not verify.
    IcmpBadChecksum => "icmp_bad_checksum",
    /// An echo request to a broadcast address (RFC 1122 section 3.2.2.6 lets hosts ignore
    /// them).
    IcmpBroadcastEcho => "icmp_broadcast_echo",
    /// Source quench, ignored (RFC 6633, RFC 9293 MUST-55).
    IcmpSourceQuench => "icmp_source_quench",
    /// An ICMP error quoting a datagram no socket sent.
    IcmpErrorNoMatch => "icmp_error_no_match",
    /// An ICMP error whose quoted TCP sequence number is outside the send window (RFC
    /// 5927 section 4.1).
    IcmpErrorBadSeq => "icmp_error_bad_seq",
    /// An echo reply nobody asked for, or another informational message.
    IcmpIgnored => "icmp_ignored",
    /// An ICMP error not sent: the rate limit was reached.
    IcmpRateLimited => "icmp_rate_limited",
    /// UDP that does not parse.
    UdpMalformed => "udp_malformed",
    /// The UDP checksum does not verify.
    UdpBadChecksum => "udp_bad_checksum",
    /// No socket on the port (ICMP port unreachable sent, unless broadcast).
    UdpNoSocket => "udp_no_socket",
    /// The socket's datagram queue was full.
    UdpQueueFull => "udp_queue_full",
    /// TCP that does not parse (lengths or options).
    TcpMalformed => "tcp_malformed",
    /// The TCP checksum does not verify.
    TcpBadChecksum => "tcp_bad_checksum",
    /// TCP to a broadcast address.
    TcpBroadcast => "tcp_broadcast",
    /// No connection and no listener (RST sent unless it was a RST).
    TcpNoSocket => "tcp_no_socket",
    /// A segment to a listener that is not a SYN (answered per RFC 9293 LISTEN rules).
    TcpListenNotSyn => "tcp_listen_not_syn",
    /// A SYN found the SYN queue full and SYN cookies off.
    TcpSynQueueFull => "tcp_syn_queue_full",
    /// A SYN (or a cookie ACK) found the accept queue full.
    TcpAcceptQueueFull => "tcp_accept_queue_full",
    /// The connection table is at its bound.
    TcpConnTableFull => "tcp_conn_table_full",
    /// An ACK to a listener that is not a valid SYN cookie.
    TcpBadCookie => "tcp_bad_cookie",
    // Inside a connection: the engine's own drops (`tcp::DropReason`), summed over the
    // host's connections, so that a drop the engine counts in one connection's `Stats` is
    // also seen here.
    /// Not acceptable by RFC 9293 section 3.10.7.4's sequence test.
    TcpOutOfWindow => "tcp_out_of_window",
    /// Rejected by PAWS (RFC 7323 section 5).
    TcpPaws => "tcp_paws",
    /// Timestamps were agreed and the segment carried none (RFC 7323 section 3.2).
    TcpMissingTimestamp => "tcp_missing_timestamp",
    /// In SYN-SENT or SYN-RECEIVED, an ACK of something never sent (answered with RST).
    TcpUnacceptableAck => "tcp_unacceptable_ack",
    /// An ACK outside what RFC 5961 section 5 accepts.
    TcpAckOutOfRange => "tcp_ack_out_of_range",
    /// A segment without ACK where one is required.
    TcpNoAck => "tcp_no_ack",
    /// SYN and FIN together.
    TcpSynFin => "tcp_syn_fin",
    /// A RST that was not exact (ignored or challenged, RFC 5961 section 3).
    TcpRstNotExact => "tcp_rst_not_exact",
    /// A RST in TIME-WAIT (RFC 1337).
    TcpRstInTimeWait => "tcp_rst_in_time_wait",
    /// A challenge ACK not sent: its rate limit was reached (RFC 5961 section 7).
    TcpChallengeAckLimited => "tcp_challenge_ack_limited",
    /// Out-of-order data with the reassembly range table full.
    TcpReassemblyFull => "tcp_reassembly_full",
    /// Data beyond what the receive buffer can hold.
    TcpBufferFull => "tcp_buffer_full",
    /// A RST not sent: the connection's control queue was full.
    TcpControlQueueFull => "tcp_control_queue_full",
    /// A segment to a connection in CLOSED.
    TcpConnClosed => "tcp_conn_closed",
    /// Not a SYN where one is needed (SYN-SENT), or a SYN where none may come (the
    /// synchronized states).
    TcpNotSyn => "tcp_not_syn",
    /// Data after the application closed its receive side (answered with RST).
    TcpDataAfterClose => "tcp_data_after_close",
    /// Data or FIN after the peer's FIN.
    TcpAfterFin => "tcp_after_fin",
}

impl From<crate::tcp::DropReason> for DropReason {
    /// Where a connection's drop is counted in its host's table.
    fn from(reason: crate::tcp::DropReason) -> DropReason {
        use crate::tcp::DropReason as Engine;
        match reason {
            Engine::OutOfWindow => DropReason::TcpOutOfWindow,
            Engine::Paws => DropReason::TcpPaws,
            Engine::MissingTimestamp => DropReason::TcpMissingTimestamp,
            Engine::UnacceptableAck => DropReason::TcpUnacceptableAck,
            Engine::AckOutOfRange => DropReason::TcpAckOutOfRange,
            Engine::NoAck => DropReason::TcpNoAck,
            Engine::SynFin => DropReason::TcpSynFin,
            Engine::RstNotExact => DropReason::TcpRstNotExact,
            Engine::RstInTimeWait => DropReason::TcpRstInTimeWait,
            Engine::ChallengeAckLimited => DropReason::TcpChallengeAckLimited,
            Engine::ReassemblyFull => DropReason::TcpReassemblyFull,
            Engine::BufferFull => DropReason::TcpBufferFull,
            Engine::ControlQueueFull => DropReason::TcpControlQueueFull,
            Engine::Closed => DropReason::TcpConnClosed,
            Engine::NotSyn => DropReason::TcpNotSyn,
            Engine::DataAfterClose => DropReason::TcpDataAfterClose,
            Engine::AfterFin => DropReason::TcpAfterFin,
        }
    }
}

impl fmt::Display for DropReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Link layer counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LinkCounters {
    /// Frames handed to `handle_frame`.
    pub frames_in: u64,
    /// Frames returned by `poll_transmit`.
    pub frames_out: u64,
}

/// ARP counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ArpCounters {
    /// Requests received.
    pub requests_in: u64,
    /// Replies received.
    pub replies_in: u64,
    /// Requests sent (retries included).
    pub requests_out: u64,
    /// Replies sent.
    pub replies_out: u64,
    /// Addresses that did not resolve after the retries.
    pub resolution_failures: u64,
    /// Cache entries evicted to make room.
    pub cache_evictions: u64,
    /// Broadcast requests sent on TCP's negative advice (counted in `requests_out` too).
    pub advice_requests: u64,
    /// Live entries given another address (TCP connections through the neighbour that
    /// wait on a backed-off timeout resend at once).
    pub address_changes: u64,
}

/// IPv4 counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IpCounters {
    /// Packets received (from NICs and loopback).
    pub packets_in: u64,
    /// Packets delivered to ICMP, UDP or TCP.
    pub delivered: u64,
    /// Packets forwarded (routers).
    pub forwarded: u64,
    /// Packets sent (before fragmentation).
    pub packets_out: u64,
    /// Fragments received.
    pub fragments_in: u64,
    /// Datagrams reassembled.
    pub reassembled: u64,
    /// Datagrams fragmented on output.
    pub fragmented: u64,
    /// Fragments created on output.
    pub fragments_out: u64,
}

/// ICMP counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IcmpCounters {
    /// Messages received.
    pub messages_in: u64,
    /// Messages sent.
    pub messages_out: u64,
    /// Echo requests received.
    pub echo_requests_in: u64,
    /// Echo replies sent.
    pub echo_replies_out: u64,
    /// Error messages received.
    pub errors_in: u64,
    /// Error messages sent.
    pub errors_out: u64,
    /// Fragmentation-needed messages that lowered a path MTU (RFC 1191).
    pub pmtu_updates: u64,
}

/// UDP counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UdpCounters {
    /// Datagrams delivered to a socket.
    pub datagrams_in: u64,
    /// Datagrams sent.
    pub datagrams_out: u64,
}

/// TCP counters (host level; each connection also has its own `tcp::Stats`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TcpCounters {
    /// Segments received and handed to a connection or a listener.
    pub segments_in: u64,
    /// Segments sent.
    pub segments_out: u64,
    /// RSTs sent by the host for segments that matched nothing.
    pub rsts_out: u64,
    /// Connections opened with `connect`.
    pub active_opens: u64,
    /// Connections created by a SYN to a listener.
    pub passive_opens: u64,
    /// Connections that reached ESTABLISHED and were queued for `accept`.
    pub established_queued: u64,
    /// SYN-ACKs sent with a SYN cookie (RFC 4987).
    pub syn_cookies_sent: u64,
    /// Connections rebuilt from a valid cookie.
    pub syn_cookies_accepted: u64,
    /// SYN-RECEIVED connections replaced by a cookie's (a retransmitted SYN answered both
    /// statelessly and with state; the client completed the cookie handshake).
    pub syn_recv_replaced_by_cookie: u64,
    /// Handshake-completing ACKs dropped because the accept queue was full (the connection
    /// stays in SYN-RECEIVED, as on Linux), plus the rare connections aborted because it was
    /// full when they completed anyway.
    pub accept_queue_overflows: u64,
    /// Connections aborted by an ICMP hard error or an ARP failure.
    pub aborted_by_network: u64,
    /// Closed connections whose FIN-WAIT-2 outlived the orphan timeout.
    pub orphans_timed_out: u64,
}

/// Every counter of a host, by layer, and the drops by reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counters {
    /// Ethernet.
    pub link: LinkCounters,
    /// ARP.
    pub arp: ArpCounters,
    /// IPv4.
    pub ip: IpCounters,
    /// ICMP.
    pub icmp: IcmpCounters,
    /// UDP.
    pub udp: UdpCounters,
    /// TCP.
    pub tcp: TcpCounters,
    drops: [u64; DropReason::ALL.len()],
}

impl Default for Counters {
    fn default() -> Counters {
        Counters {
            link: LinkCounters::default(),
            arp: ArpCounters::default(),
            ip: IpCounters::default(),
            icmp: IcmpCounters::default(),
            udp: UdpCounters::default(),
            tcp: TcpCounters::default(),
            drops: [0; DropReason::ALL.len()],
        }
    }
}

impl Counters {
    /// Counts one drop.
    pub fn count_drop(&mut self, reason: DropReason) {
        self.drops[reason as usize] += 1;
    }

    /// Counts `n` drops at once.
    pub(crate) fn count_drops(&mut self, reason: DropReason, n: u64) {
        self.drops[reason as usize] += n;
    }

    /// Drops counted for `reason`.
    pub fn drops(&self, reason: DropReason) -> u64 {
        self.drops[reason as usize]
    }

    /// Every drop, all reasons together.
    pub fn total_drops(&self) -> u64 {
        self.drops.iter().sum()
    }

    /// The non-zero drop counters, in a fixed order.
    pub fn drop_counts(&self) -> impl Iterator<Item = (DropReason, u64)> + '_ {
        DropReason::ALL
            .iter()
            .map(|&r| (r, self.drops[r as usize]))
            .filter(|&(_, n)| n > 0)
    }
}

impl core::fmt::Display for Counters {
    /// `netstat -s` in brief: one line per layer, then every non-zero drop by reason.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        writeln!(f, "link: {:?}", self.link)?;
        writeln!(f, "arp:  {:?}", self.arp)?;
        writeln!(f, "ip:   {:?}", self.ip)?;
        writeln!(f, "icmp: {:?}", self.icmp)?;
        writeln!(f, "udp:  {:?}", self.udp)?;
        writeln!(f, "tcp:  {:?}", self.tcp)?;
        write!(f, "drops:")?;
        for (reason, n) in self.drop_counts() {
            write!(f, " {}={n}", reason.as_str())?;
        }
        Ok(())
    }
}
