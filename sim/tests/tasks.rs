//! Application tasks on the deterministic executor: simulated time only.

use std::cell::RefCell;
use std::rc::Rc;

use pretty_assertions::assert_eq;
use sansnet_sim::exec::{self, sleep, timeout, Elapsed};
use sansnet_sim::scripted::{frame_tag, test_frame, Scripted};
use sansnet_sim::{Duration, Instant, LinkFaults, RunError, Seed, Sim};

#[test]
fn tasks_sleep_in_simulated_time_and_interleave_deterministically() {
    let mut sim = Sim::new(Seed(60));
    let log = Rc::new(RefCell::new(Vec::new()));
    for (name, step_ms) in [("fast", 3u64), ("slow", 5)] {
        let log = log.clone();
        sim.spawn(async move {
            for _ in 0..3 {
                sleep(Duration::from_millis(step_ms)).await;
                log.borrow_mut().push((exec::now().as_millis(), name));
            }
        });
    }
    sim.run_until_idle().unwrap();
    assert_eq!(
        *log.borrow(),
        vec![
            (3, "fast"),
            (5, "slow"),
            (6, "fast"),
            (9, "fast"),
            (10, "slow"),
            (15, "slow")
        ]
    );
    assert_eq!(sim.now(), Instant::from_millis(15));
}

#[test]
fn timeout_expires_in_simulated_time_and_join_handles_return_values() {
    let mut sim = Sim::new(Seed(61));
    let h = sim.spawn(async {
        let slow = timeout(Duration::from_millis(10), sleep(Duration::from_secs(1))).await;
        let fast = timeout(Duration::from_millis(10), async { 7 }).await;
        let child = exec::spawn(async {
            sleep(Duration::from_millis(1)).await;
            exec::now()
        });
        (slow, fast, child.await)
    });
    sim.run_until_complete(&h).unwrap();
    assert_eq!(
        h.take(),
        Some((Err(Elapsed), Ok(7), Instant::from_millis(11)))
    );
}

#[test]
fn run_until_all_complete_waits_for_the_last_whatever_the_order() {
    let mut sim = Sim::new(Seed(62));
    // The first handle finishes last, the others in reverse order: every handle counts,
    // not only a prefix of them.
    let handles: Vec<_> = (0..5u64)
        .map(|i| {
            let ms = if i == 0 { 10 } else { 5 - i };
            sim.spawn(async move {
                sleep(Duration::from_millis(ms)).await;
                i
            })
        })
        .collect();
    sim.run_until_all_complete(&handles).unwrap();
    assert_eq!(sim.now(), Instant::from_millis(10));
    let got: Vec<_> = handles.iter().map(|h| h.take()).collect();
    assert_eq!(got, vec![Some(0), Some(1), Some(2), Some(3), Some(4)]);
    // A task that never finishes: idle, not a hang.
    let stuck = vec![sim.spawn(std::future::pending::<()>())];
    assert!(matches!(
        sim.run_until_all_complete(&stuck),
        Err(RunError::Idle { .. })
    ));
}

#[test]
fn a_panicking_task_fails_the_run_with_the_replay_line() {
    let mut sim = Sim::new(Seed(0x77));
    sim.spawn(async {
        sleep(Duration::from_millis(2)).await;
        panic!("invariant broken");
    });
    let err = sim.run_until_idle().unwrap_err();
    let RunError::TaskPanicked { panic, now, .. } = &err else {
        panic!("wrong error: {err}");
    };
    assert_eq!(panic.message, "invariant broken");
    assert_eq!(*now, Instant::from_millis(2));
    assert!(err.to_string().contains("SANSNET_SEED=0x77"), "{err}");
}

#[test]
fn a_task_drives_a_node_and_waits_for_its_activity() {
    let mut sim = Sim::new(Seed(62));
    let (ma, mb) = (
        sansnet_sim::naming::mac_for("a", 0),
        sansnet_sim::naming::mac_for("b", 0),
    );
    let a = sim.add_node("a", 1, Scripted::new());
    let b = sim.add_node("b", 1, Scripted::echo());
    sim.connect(
        sim.nic(a, 0),
        sim.nic(b, 0),
        LinkFaults::with_latency(Duration::from_millis(2)),
    );
    let h = sim.spawn_on(a, async move {
        exec::with_node::<Scripted, _>(a, |s, _| s.send_now(0, test_frame(ma, mb, 42, 8)));
        loop {
            let got =
                exec::with_node::<Scripted, _>(a, |s, _| s.received().last().cloned()).flatten();
            if let Some(r) = got {
                return (exec::now(), frame_tag(&r.bytes));
            }
            exec::node_activity(a).await;
        }
    });
    sim.run_until_complete(&h).unwrap();
    assert_eq!(h.take(), Some((Instant::from_millis(4), Some(42))));
}

#[test]
fn a_crash_drops_the_nodes_tasks() {
    let mut sim = Sim::new(Seed(63));
    let node = sim.add_node("a", 0, Scripted::new());
    let h = sim.spawn_on(node, async {
        sleep(Duration::from_secs(10)).await;
    });
    sim.run_for(Duration::from_secs(1)).unwrap();
    assert_eq!(sim.task_count(), 1);
    sim.crash(node);
    sim.run_until_idle().unwrap();
    assert_eq!(sim.task_count(), 0);
    assert!(!h.is_finished());
}
