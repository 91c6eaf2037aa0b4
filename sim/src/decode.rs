//! A one-line, tcpdump-like decoder for frames, built on `stack::wire`: what `sansnet decode`
//! prints and what a determinism failure shows for the two differing frames.
//!
//! Every layer is parsed with checksum verification; a layer that fails says why
//! (`ipv4: checksum does not verify`) instead of guessing.

use std::fmt::Write as _;

use sansnet_stack::wire::{
    arp, ethernet, icmpv4, ipv4, tcp, udp, ChecksumMode, Error as WireError, EtherType,
};

/// One line describing an Ethernet frame, layer by layer.
pub fn describe_frame(frame: &[u8]) -> String {
    let mut out = String::new();
    let eth = match ethernet::Frame::new_checked(frame)
        .and_then(|f| ethernet::Repr::parse(&f).map(|r| (f, r)))
    {
        Ok(x) => x,
        Err(e) => return format!("ethernet: {e} ({} bytes)", frame.len()),
    };
    let (view, repr) = eth;
    let _ = write!(out, "{} > {}", repr.src_addr, repr.dst_addr);
    if let Some(tag) = repr.vlan {
        let _ = write!(out, " vlan {}", tag.vid);
    }
    let payload = view.payload();
    match repr.ethertype {
        EtherType::ARP => out.push_str(&describe_arp(payload)),
        EtherType::IPV4 => out.push_str(&describe_ipv4(payload)),
        other => {
            let _ = write!(out, ", ethertype {other:?}, {} bytes", payload.len());
        }
    }
    out
}

fn layer_error(layer: &str, e: WireError) -> String {
    format!(", {layer}: {e}")
}

fn describe_arp(bytes: &[u8]) -> String {
    let parsed = arp::Packet::new_checked(bytes).and_then(|p| arp::Repr::parse(&p));
    match parsed {
        Ok(r) if r.operation == arp::Operation::REQUEST => format!(
            ", ARP who-has {} tell {}",
            r.target_protocol_addr, r.source_protocol_addr
        ),
        Ok(r) => format!(
            ", ARP {} is-at {}",
            r.source_protocol_addr, r.source_hardware_addr
        ),
        Err(e) => layer_error("arp", e),
    }
}

fn describe_ipv4(bytes: &[u8]) -> String {
    let packet = match ipv4::Packet::new_checked(bytes) {
        Ok(p) => p,
        Err(e) => return layer_error("ipv4", e),
    };
    let ip = match ipv4::Repr::parse(&packet, ChecksumMode::Verify) {
        Ok(r) => r,
        Err(e) => return layer_error("ipv4", e),
    };
    let mut out = format!(", {} > {} ttl {}", ip.src_addr, ip.dst_addr, ip.ttl);
    if ip.more_frags || ip.frag_offset != 0 {
        let _ = write!(
            out,
            " frag off {}{}",
            ip.frag_offset,
            if ip.more_frags { "+" } else { "" }
        );
        return out;
    }
    let payload = packet.payload();
    let (src, dst) = (ip.src_addr, ip.dst_addr);
    match ip.protocol {
        ipv4::IpProtocol::TCP => {
            let parsed = tcp::Packet::new_checked(payload).and_then(|p| {
                tcp::Repr::parse(&p, src, dst, ChecksumMode::Verify).map(|r| describe_tcp(&r))
            });
            out.push_str(&parsed.unwrap_or_else(|e| layer_error("tcp", e)));
        }
        ipv4::IpProtocol::UDP => {
            let parsed = udp::Packet::new_checked(payload)
                .and_then(|p| udp::Repr::parse(&p, src, dst, ChecksumMode::Verify))
                .map(|r| {
                    format!(
                        ", UDP {} > {} len {}",
                        r.src_port,
                        r.dst_port,
                        r.payload.len()
                    )
                });
            out.push_str(&parsed.unwrap_or_else(|e| layer_error("udp", e)));
        }
        ipv4::IpProtocol::ICMP => {
            let parsed = icmpv4::Packet::new_checked(payload).and_then(|p| {
                icmpv4::Repr::parse(&p, ChecksumMode::Verify)
                    .map(|r| format!(", ICMP {}", describe_icmp(&r)))
            });
            out.push_str(&parsed.unwrap_or_else(|e| layer_error("icmp", e)));
        }
        other => {
            let _ = write!(out, ", proto {other:?} len {}", payload.len());
        }
    }
    out
}

/// A TCP segment as tcpdump prints it: ports, flags, seq, ack, window, options, length.
pub fn describe_tcp(r: &tcp::Repr<'_>) -> String {
    let mut out = format!(
        ", TCP {} > {} [{}] seq {}",
        r.src_port, r.dst_port, r.flags, r.seq_number
    );
    if r.flags.contains(tcp::TcpFlags::ACK) {
        let _ = write!(out, " ack {}", r.ack_number);
    }
    let _ = write!(out, " win {}", r.window_len);
    let mut opts = Vec::new();
    if let Some(m) = r.max_seg_size {
        opts.push(format!("mss {m}"));
    }
    if r.sack_permitted {
        opts.push("sackOK".to_string());
    }
    if let Some(t) = r.timestamp {
        opts.push(format!("TS val {} ecr {}", t.tsval, t.tsecr));
    }
    if let Some(w) = r.window_scale {
        opts.push(format!("wscale {w}"));
    }
    for (l, rr) in r.sack_ranges.as_slice() {
        opts.push(format!("sack {l}:{rr}"));
    }
    if !opts.is_empty() {
        let _ = write!(out, " options [{}]", opts.join(","));
    }
    let _ = write!(out, " length {}", r.payload.len());
    out
}

fn describe_icmp(r: &icmpv4::Repr<'_>) -> String {
    match r {
        icmpv4::Repr::EchoRequest { ident, seq_no, .. } => {
            format!("echo request id {ident} seq {seq_no}")
        }
        icmpv4::Repr::EchoReply { ident, seq_no, .. } => {
            format!("echo reply id {ident} seq {seq_no}")
        }
        icmpv4::Repr::DstUnreachable {
            reason,
            next_hop_mtu,
            header,
            ..
        } => format!(
            "destination unreachable code {} (mtu {next_hop_mtu}) for {} > {}",
            reason.0, header.src_addr, header.dst_addr
        ),
        icmpv4::Repr::TimeExceeded { reason, header, .. } => format!(
            "time exceeded code {} for {} > {}",
            reason.0, header.src_addr, header.dst_addr
        ),
        other => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    /// A SYN from 10.0.0.1:49152 to 10.0.0.2:80 with MSS 1460 (the README's example).
    const SYN: &str = concat!(
        "525400123456525400abcdef08004500002c00004000400626ca0a000001",
        "0a000002c0000050000003e8000000006002faf0c4fa0000020405b4"
    );

    fn hex(text: &str) -> Vec<u8> {
        let digits: Vec<u8> = text
            .trim()
            .bytes()
            .map(|b| (b as char).to_digit(16).unwrap_or(0) as u8)
            .collect();
        digits.chunks(2).map(|p| (p[0] << 4) | p[1]).collect()
    }

    #[test]
    fn truncated_frame_says_which_layer() {
        let bytes = hex(SYN);
        assert_eq!(
            describe_frame(&bytes[..10]),
            "ethernet: truncated packet (10 bytes)"
        );
        assert!(describe_frame(&bytes[..30]).ends_with("ipv4: truncated packet"));
    }
}
