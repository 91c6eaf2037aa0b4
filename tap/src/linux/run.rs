//! One run: the lab, the host on it, the applications on both sides, the loop.

use std::net::SocketAddrV4;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sansnet_stack::hash::{siphash24, SecretKey};
use sansnet_stack::iface::{Host, HostConfig, InterfaceConfig};

use super::adapter::Adapter;
use super::apps::{App, MakeWork, Work};
use super::kernel::{KernelPeer, Outcome, Plan, Role};
use super::lab::Lab;
use crate::{
    Direction, Error, HostDrop, LabInfo, Loss, Mode, Pattern, Report, RunSpec, Source, StreamCheck,
    TcpObserver, WallClock,
};

/// The longest the loop sleeps between looks at the cancel flag and the kernel side.
const MAX_WAIT: Duration = Duration::from_millis(20);

fn secret(seed: u64) -> SecretKey {
    let key = SecretKey(*b"sansnet-tap-seed");
    let a = siphash24(&key, &seed.to_le_bytes());
    let b = siphash24(&key, &(!seed).to_le_bytes());
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&a.to_le_bytes());
    bytes[8..].copy_from_slice(&b.to_le_bytes());
    SecretKey(bytes)
}

fn host_config(spec: &RunSpec) -> HostConfig {
    HostConfig {
        name: "sansnet-tap".into(),
        interfaces: vec![InterfaceConfig {
            mac: spec.lab.sansnet_mac,
            addr: spec.lab.sansnet_addr,
            prefix_len: spec.lab.prefix_len,
            mtu: spec.lab.mtu,
        }],
        secret: secret(spec.seed),
        ..HostConfig::default()
    }
}

/// The pattern of one direction of a seed's streams.
fn pattern(seed: u64, direction: Direction) -> Pattern {
    let salt = match direction {
        Direction::ToKernel => 0x746f_2d6b_6572_6e65,
        Direction::ToSansnet => 0x746f_2d73_616e_736e,
    };
    Pattern::new(seed ^ salt)
}

pub(crate) fn run(
    spec: &RunSpec,
    cancel: Option<Arc<AtomicBool>>,
    on_ready: &mut dyn FnMut(&LabInfo),
) -> Result<Report, Error> {
    let lab = Lab::create(&spec.lab)?;
    let clock = WallClock::start();
    let loss_in = Loss::new(spec.loss_in_percent, spec.seed, 1)?;
    let loss_out = Loss::new(spec.loss_out_percent, spec.seed, 2)?;
    let mut adapter = Adapter::new(
        Host::new(host_config(spec)),
        &lab.tap,
        clock,
        loss_in,
        loss_out,
        TcpObserver::new(spec.lab.sansnet_addr),
    );
    let serves = spec.mode.sansnet_serves();
    let server = SocketAddrV4::new(
        if serves {
            spec.lab.sansnet_addr
        } else {
            spec.lab.kernel_addr
        },
        spec.port,
    );
    on_ready(&LabInfo {
        netns: lab.netns.name().to_string(),
        device: lab.device.clone(),
        kernel_addr: spec.lab.kernel_addr,
        sansnet_addr: spec.lab.sansnet_addr,
        server,
    });

    let to_kernel = pattern(spec.seed, Direction::ToKernel);
    // An echo sends back the kernel's own stream.
    let to_sansnet = match spec.mode {
        Mode::Echo => to_kernel,
        Mode::Sink | Mode::Client => pattern(spec.seed, Direction::ToSansnet),
    };
    let (sends, receives) = (spec.sansnet_sends, spec.sansnet_receives);
    let transfer = move || Work::Transfer {
        source: Box::new(Source::new(to_kernel, sends)),
        check: Box::new(StreamCheck::new(to_sansnet, receives, Direction::ToSansnet)),
    };
    let kernel_plan = |role| Plan {
        role,
        send: (to_sansnet, receives),
        recv: (to_kernel, sends),
        timeout: spec.timeout,
        device: lab.device.clone(),
        clock,
    };

    let start = clock.now();
    let elapsed = || clock.now().saturating_duration_since(start);
    let (mut app, mut peer) = if serves {
        let make: MakeWork = match (spec.mode, spec.external_peer) {
            (Mode::Echo, true) => Box::new(|| Work::EchoUnchecked),
            (_, true) => Box::new(|| Work::Discard),
            (Mode::Echo, false) => Box::new(move || Work::Echo {
                check: Box::new(StreamCheck::new(to_sansnet, receives, Direction::ToSansnet)),
            }),
            (_, false) => Box::new(transfer),
        };
        let limit = (!spec.external_peer).then_some(1);
        let app = App::server(&mut adapter.host, server, make, limit)?;
        let peer = if spec.external_peer {
            None
        } else {
            Some(KernelPeer::spawn(
                &lab.netns,
                kernel_plan(Role::Client { server }),
            )?)
        };
        (app, peer)
    } else {
        let peer = KernelPeer::spawn(&lab.netns, kernel_plan(Role::Server { bind: server }))?;
        let now = adapter.now();
        let app = App::client(now, &mut adapter.host, server, transfer())?;
        (app, Some(peer))
    };
    let shared = peer.as_ref().map(|p| Arc::clone(&p.shared));
    let mut outcome: Option<Outcome> = None;
    let mut buf = vec![0u8; 64 * 1024];

    loop {
        let cancelled = cancel.as_ref().is_some_and(|c| c.load(Ordering::SeqCst));
        if spec.external_peer {
            if cancelled || spec.serve_for.is_some_and(|d| elapsed() >= d) {
                break;
            }
        } else {
            if cancelled {
                return Err(Error::Interrupted);
            }
            if elapsed() >= spec.timeout {
                let kernel = shared.as_ref().map_or(String::new(), |s| {
                    format!(
                        "; the kernel sent {} and received {} bytes",
                        s.sent.load(Ordering::Relaxed),
                        s.received.load(Ordering::Relaxed)
                    )
                });
                return Err(Error::Timeout {
                    after: spec.timeout,
                    progress: format!("{}{kernel}", app.progress()),
                });
            }
        }
        let mut busy = adapter.receive()? > 0;
        let now = adapter.now();
        busy |= app.step(now, &mut adapter.host, &mut buf)?;
        busy |= adapter.timers();
        busy |= adapter.transmit()? > 0;
        if peer.as_ref().is_some_and(KernelPeer::is_finished) {
            if let Some(p) = peer.take() {
                outcome = Some(p.join()?);
            }
        }
        if !spec.external_peer && app.is_done() && outcome.is_some() {
            break;
        }
        if !busy {
            adapter.wait(MAX_WAIT)?;
        }
    }
    let wall = elapsed();

    let (sansnet_sent, sansnet_received, connections) = app.totals();
    let zero = crate::StreamSummary { bytes: 0, xxh3: 0 };
    let (kernel_sent, kernel_received, mut kernel) = match outcome {
        Some(o) => (o.sent, o.received, o.counters),
        None => (zero, zero, crate::KernelCounters::default()),
    };
    kernel.tap_rx_dropped += adapter.tap_write_drops;
    let report = Report {
        mode: spec.mode,
        netns: lab.netns.name().to_string(),
        device: lab.device.clone(),
        server,
        checked: !spec.external_peer,
        sansnet_sent,
        kernel_received,
        kernel_sent,
        sansnet_received,
        connections,
        wall,
        observed: adapter.observer.counts(),
        kernel,
        loss: adapter.loss_counts(),
        host_drops: adapter
            .host
            .counters()
            .drop_counts()
            .map(|(reason, count)| HostDrop { reason, count })
            .collect(),
    };
    drop(adapter);
    drop(lab);
    Ok(report)
}
