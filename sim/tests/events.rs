//! The clock, the event queue and the run controls.

mod common;

use common::{pair, received};
use pretty_assertions::assert_eq;
use sansnet_sim::scripted::{test_frame, Scripted};
use sansnet_sim::{Duration, Endpoint, Instant, Limits, LinkFaults, RunError, Seed, Sim};

#[test]
fn clock_jumps_to_each_arrival_and_frames_keep_send_order() {
    let latency = Duration::from_millis(5);
    let mut p = pair(
        1,
        LinkFaults::with_latency(latency),
        3,
        Duration::from_millis(1),
        32,
    );
    p.sim.run_until_idle().unwrap();
    let got = received(&mut p.sim, p.rx);
    assert_eq!(
        got,
        vec![
            (Instant::from_millis(6), 0),
            (Instant::from_millis(7), 1),
            (Instant::from_millis(8), 2)
        ]
    );
    // The clock stopped at the last event, not beyond.
    assert_eq!(p.sim.now(), Instant::from_millis(8));
}

#[test]
fn frames_due_at_the_same_instant_arrive_in_insertion_order() {
    let mut sim = Sim::new(Seed(1));
    let (a, b) = (
        sansnet_sim::naming::mac_for("a", 0),
        sansnet_sim::naming::mac_for("b", 0),
    );
    let mut sender = Scripted::new();
    for tag in [7, 3, 9, 1] {
        sender.push_send(Instant::from_millis(1), 0, test_frame(a, b, tag, 16));
    }
    let tx = sim.add_node("a", 1, sender);
    let rx = sim.add_node("b", 1, Scripted::new());
    sim.connect(sim.nic(tx, 0), sim.nic(rx, 0), LinkFaults::default());
    sim.run_until_idle().unwrap();
    assert_eq!(common::tags(&mut sim, rx), vec![7, 3, 9, 1]);
}

#[test]
fn run_until_stops_at_the_deadline_and_leaves_later_events_queued() {
    let mut p = pair(
        1,
        LinkFaults::with_latency(Duration::from_millis(5)),
        3,
        Duration::from_millis(1),
        32,
    );
    p.sim.run_until(Instant::from_millis(6)).unwrap();
    assert_eq!(p.sim.now(), Instant::from_millis(6));
    assert_eq!(received(&mut p.sim, p.rx).len(), 1);
    p.sim.run_for(Duration::from_millis(10)).unwrap();
    assert_eq!(p.sim.now(), Instant::from_millis(16));
    assert_eq!(received(&mut p.sim, p.rx).len(), 3);
}

#[test]
fn run_until_condition_stops_as_soon_as_it_holds() {
    let mut p = pair(
        1,
        LinkFaults::with_latency(Duration::from_millis(5)),
        3,
        Duration::from_millis(1),
        32,
    );
    let rx = p.rx;
    p.sim
        .run_until_condition(|sim| sim.nic_counters(sim.nic(rx, 0)).rx_frames >= 2)
        .unwrap();
    assert_eq!(p.sim.now(), Instant::from_millis(7));
}

#[test]
fn a_condition_that_never_holds_ends_idle_with_the_replay_line() {
    let mut p = pair(0x2a, LinkFaults::default(), 1, Duration::from_millis(1), 32);
    let err = p.sim.run_until_condition(|_| false).unwrap_err();
    assert!(matches!(err, RunError::Idle { .. }), "{err}");
    let text = err.to_string();
    assert!(text.contains("SANSNET_SEED=0x2a"), "{text}");
    assert!(text.contains("a_condition_that_never_holds"), "{text}");
}

/// Wants a timeout at the same instant forever: a livelock.
struct Spinner;

impl Endpoint for Spinner {
    fn handle_frame(&mut self, _: Instant, _: usize, _: &[u8]) {}
    fn poll_transmit(&mut self, _: Instant, _: &mut [u8]) -> Option<(usize, usize)> {
        None
    }
    fn poll_timeout(&self) -> Option<Instant> {
        Some(Instant::from_millis(1))
    }
    fn handle_timeout(&mut self, _: Instant) {}
}

/// Ticks every second, forever.
struct Ticker {
    next: Instant,
}

impl Endpoint for Ticker {
    fn handle_frame(&mut self, _: Instant, _: usize, _: &[u8]) {}
    fn poll_transmit(&mut self, _: Instant, _: &mut [u8]) -> Option<(usize, usize)> {
        None
    }
    fn poll_timeout(&self) -> Option<Instant> {
        Some(self.next)
    }
    fn handle_timeout(&mut self, now: Instant) {
        if now >= self.next {
            self.next = now + Duration::from_secs(1);
        }
    }
}

#[test]
fn a_node_that_keeps_asking_for_a_past_deadline_is_a_livelock_the_step_limit_ends() {
    let mut sim = Sim::new(Seed(1));
    sim.add_node("spin", 0, Spinner);
    sim.set_limits(Limits {
        max_steps: 1_000,
        ..Limits::default()
    });
    let err = sim.run_until_idle().unwrap_err();
    assert!(
        matches!(err, RunError::StepLimit { steps: 1_000, .. }),
        "{err}"
    );
    // Time never moved past the deadline: the clock does not invent progress.
    assert_eq!(sim.now(), Instant::from_millis(1));
}

/// Moves its deadline on every call into it, as a real stack re-arming a timer does.
struct Rearmer {
    deadline: Instant,
    fired: Vec<Instant>,
}

impl Endpoint for Rearmer {
    fn handle_frame(&mut self, _: Instant, _: usize, _: &[u8]) {}
    fn poll_transmit(&mut self, _: Instant, _: &mut [u8]) -> Option<(usize, usize)> {
        None
    }
    fn poll_timeout(&self) -> Option<Instant> {
        Some(self.deadline)
    }
    fn handle_timeout(&mut self, now: Instant) {
        self.fired.push(now);
        self.deadline = Instant::MAX;
    }
}

#[test]
fn superseded_deadlines_never_fire() {
    let mut sim = Sim::new(Seed(1));
    let node = sim.add_node(
        "rearm",
        0,
        Rearmer {
            deadline: Instant::from_millis(10),
            fired: Vec::new(),
        },
    );
    // Moved later, then earlier, between steps: only the last deadline counts.
    sim.with_node::<Rearmer, _>(node, |r, _| r.deadline = Instant::from_millis(30));
    sim.with_node::<Rearmer, _>(node, |r, _| r.deadline = Instant::from_millis(20));
    sim.run_until(Instant::from_millis(100)).unwrap();
    let fired = sim
        .with_node::<Rearmer, _>(node, |r, _| r.fired.clone())
        .unwrap();
    assert_eq!(fired, vec![Instant::from_millis(20)]);
}

#[test]
fn a_run_that_never_goes_idle_hits_the_step_limit() {
    let mut sim = Sim::new(Seed(1));
    sim.add_node(
        "tick",
        0,
        Ticker {
            next: Instant::ZERO,
        },
    );
    sim.set_limits(Limits {
        max_steps: 100,
        max_time: Instant::from_secs(1_000_000),
    });
    let err = sim.run_until_idle().unwrap_err();
    assert!(
        matches!(err, RunError::StepLimit { steps: 100, .. }),
        "{err}"
    );
    assert_eq!(sim.now(), Instant::from_secs(99));
}

#[test]
fn a_run_past_the_time_limit_stops_there() {
    let mut sim = Sim::new(Seed(1));
    sim.add_node(
        "tick",
        0,
        Ticker {
            next: Instant::ZERO,
        },
    );
    sim.set_limits(Limits {
        max_steps: u64::MAX,
        max_time: Instant::from_secs(10),
    });
    let err = sim.run_until_idle().unwrap_err();
    assert!(matches!(err, RunError::TimeLimit { .. }), "{err}");
    assert_eq!(sim.now(), Instant::from_secs(10));
    let err = sim.run_until(Instant::from_secs(60)).unwrap_err();
    assert!(matches!(err, RunError::TimeLimit { .. }), "{err}");
}

#[test]
fn step_handles_one_event_at_a_time() {
    let mut p = pair(
        1,
        LinkFaults::with_latency(Duration::from_millis(5)),
        2,
        Duration::from_millis(1),
        32,
    );
    let mut steps = 0;
    while p.sim.step().unwrap() {
        steps += 1;
        assert!(steps < 100);
    }
    // Per frame: the sender's timer, and the arrival with the receive ring's drain (one
    // step: nothing else is due at that instant, so the drain is the arrival's next event).
    assert_eq!(steps, 4);
    assert_eq!(received(&mut p.sim, p.rx).len(), 2);
    assert!(!p.sim.step().unwrap());
}

/// Two frames reach two NICs of one node at one instant. The first NIC's drain cannot be
/// handled with its arrival: the second arrival is due at that instant and was queued
/// first, so the drain waits its turn behind it (six steps: two sends, two arrivals, two
/// drains). Frames at an instant of their own are delivered in their arrival's step.
#[test]
fn a_drain_waits_behind_what_is_already_due_at_its_instant() {
    let run = |b_sends_at: Instant| {
        let mut sim = Sim::new(Seed(1));
        let mac = |node, nic| sansnet_sim::naming::mac_for(node, nic);
        let mut a = Scripted::new();
        a.push_send(
            Instant::from_millis(1),
            0,
            test_frame(mac("a", 0), mac("r", 0), 1, 16),
        );
        let mut b = Scripted::new();
        b.push_send(b_sends_at, 0, test_frame(mac("b", 0), mac("r", 1), 2, 16));
        let (a, b) = (sim.add_node("a", 1, a), sim.add_node("b", 1, b));
        let r = sim.add_node("r", 2, Scripted::new());
        let link = LinkFaults::with_latency(Duration::from_millis(5));
        sim.connect(sim.nic(a, 0), sim.nic(r, 0), link.clone());
        sim.connect(sim.nic(b, 0), sim.nic(r, 1), link);
        let mut steps = 0;
        while sim.step().unwrap() {
            steps += 1;
        }
        (received(&mut sim, r), steps)
    };
    let six = Instant::from_millis(6);
    assert_eq!(run(Instant::from_millis(1)), (vec![(six, 1), (six, 2)], 6));
    let later = Instant::from_millis(7);
    assert_eq!(
        run(Instant::from_millis(2)),
        (vec![(six, 1), (later, 2)], 4)
    );
}

#[test]
fn log_lines_are_stamped_with_simulated_time() {
    use tracing_subscriber::fmt::format::Writer;
    use tracing_subscriber::fmt::time::FormatTime;
    sansnet_sim::log::init();
    let mut p = pair(
        1,
        LinkFaults::with_latency(Duration::from_millis(5)),
        1,
        Duration::from_millis(1),
        32,
    );
    p.sim.run_until_idle().unwrap();
    let mut line = String::new();
    sansnet_sim::log::SimTime
        .format_time(&mut Writer::new(&mut line))
        .unwrap();
    assert_eq!(line, "0.006000000s");
}
