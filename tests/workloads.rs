//! Workloads at scale: size classes and explicit fields, budgets that grow with them, the
//! progress deadline reported exactly, and partitions under named profiles.

use std::cell::RefCell;
use std::io::Write;
use std::rc::Rc;

use pretty_assertions::assert_eq;
use sansnet::explore::{self, DrawOptions, SizeChoice, TopologyChoice};
use sansnet::scenario::{
    self, step_budget, FailureKind, RunOptions, Size, Workload, WorkloadOverride, MAX_STEPS,
};
use sansnet_sim::FaultChange;

/// A `Write` whose bytes the test reads after the run has dropped the writer.
#[derive(Clone, Default)]
struct Shared(Rc<RefCell<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn sized(size: Size) -> DrawOptions {
    DrawOptions {
        profile: Some("ideal".to_owned()),
        size: SizeChoice::Fixed(size),
        ..Default::default()
    }
}

#[test]
fn sizes_grow_every_scenario_and_large_is_the_large_mix() {
    for sc in scenario::all() {
        let (s, m, l) = (
            sc.workload(Size::Small),
            sc.workload(Size::Medium),
            sc.workload(Size::Large),
        );
        assert_eq!(s, sc.default_workload(), "{}", sc.name());
        for (a, b) in [(&s, &m), (&m, &l)] {
            assert!(
                a.bytes <= b.bytes && a.clients <= b.clients && a.exchanges <= b.exchanges,
                "{}: {a:?} then {b:?}",
                sc.name()
            );
        }
        assert!(s != l, "{}: large is larger", sc.name());
    }
    let large = |name: &str| scenario::lookup(name).unwrap().workload(Size::Large);
    assert_eq!(large("bulk").bytes, 16 << 20);
    assert_eq!(large("many-clients").clients, 1_000);
    assert_eq!(large("churn").exchanges, 1_000);
}

#[test]
fn a_size_and_explicit_fields_reach_the_drawn_run() {
    let sc = scenario::lookup("bulk").unwrap();
    let spec = explore::draw(sc.as_ref(), 3, &sized(Size::Medium));
    assert_eq!(spec.workload, sc.workload(Size::Medium));
    let mut over = WorkloadOverride::default();
    over.parse_into("bytes=3M, clients=2").unwrap();
    let spec = explore::draw(
        sc.as_ref(),
        3,
        &DrawOptions {
            workload: over,
            ..sized(Size::Large)
        },
    );
    assert_eq!(spec.workload.bytes, 3 << 20);
    assert_eq!(spec.workload.clients, 2);
    // The replay line carries the workload, so it reruns this very run.
    assert!(
        explore::replay_command(&spec)
            .contains("--workload bytes=3145728,clients=2,exchanges=1,message_bytes=0"),
        "{}",
        explore::replay_command(&spec)
    );
}

#[test]
fn mixed_sizes_come_from_their_own_stream() {
    let sc = scenario::lookup("request-response").unwrap();
    let mut seen = std::collections::BTreeSet::new();
    for seed in 0..60 {
        let mixed = explore::draw(
            sc.as_ref(),
            seed,
            &DrawOptions {
                size: SizeChoice::Mixed,
                ..Default::default()
            },
        );
        let small = explore::draw(sc.as_ref(), seed, &DrawOptions::default());
        // The faults a seed draws do not depend on its size.
        assert_eq!(mixed.plan.changes.len(), small.plan.changes.len());
        seen.insert(SizeChoice::Mixed.size_for(seed));
    }
    assert_eq!(seen.len(), 3, "all three sizes drawn: {seen:?}");
}

#[test]
fn workload_fields_are_checked() {
    let mut o = WorkloadOverride::default();
    assert!(o.parse_into("bytes=16M,message_bytes=2K").is_ok());
    assert_eq!((o.bytes, o.message_bytes), (Some(16 << 20), Some(2048)));
    for bad in ["bytes", "bytes=lots", "colour=blue", "clients=5000000000"] {
        assert!(
            WorkloadOverride::default().parse_into(bad).is_err(),
            "{bad:?} accepted"
        );
    }
    let huge = Workload {
        clients: 4_000_000_000,
        ..Workload::MAX
    };
    assert_eq!(
        huge.check(),
        Err("workload clients=4000000000 is over the limit of 10000".to_owned())
    );
    assert_eq!(Workload::MAX.check(), Ok(()));
}

#[test]
fn budgets_grow_with_the_workload_and_stay_put_for_the_defaults() {
    let routed = sansnet::scenario::Shape::Routed {
        client_hosts: 4,
        routers: 2,
    };
    for sc in scenario::all() {
        assert_eq!(
            step_budget(&sc.default_workload(), &routed),
            MAX_STEPS,
            "{}",
            sc.name()
        );
        assert_eq!(
            explore::progress_bound_for(&sc.default_workload()),
            explore::PROGRESS_BOUND_MS,
            "{}",
            sc.name()
        );
    }
    let large = scenario::lookup("bulk").unwrap().workload(Size::Large);
    let direct = sansnet::scenario::Shape::Direct;
    let four = sansnet::scenario::Shape::Switched { client_hosts: 4 };
    assert!(step_budget(&large, &direct) > MAX_STEPS);
    // One client per client host: four hosts move four times the bytes.
    assert_eq!(step_budget(&large, &four), 4 * step_budget(&large, &direct));
    assert!(explore::progress_bound_for(&large) > explore::PROGRESS_BOUND_MS);
}

#[test]
fn medium_runs_of_every_scenario_pass_on_a_clean_network() {
    for sc in scenario::all() {
        let spec = explore::draw(sc.as_ref(), 1, &sized(Size::Medium));
        let outcome = scenario::run(&spec);
        assert_eq!(outcome.result, Ok(()), "{}", explore::one_line(&spec));
    }
}

/// More concurrent connections than Linux's defaults allow (1,024 descriptors a process, a
/// backlog of at most 4,096), all from one client host to one listener: the scenario raises
/// both to fit. Before, the client's first connect failed on EMFILE, and past 4,096 clients
/// the clamped backlog let the SYN queue overflow into SYN cookies, which rightly reset a
/// client whose handshake ACK was lost (seed 7300 of a 10,000-client sweep on switched:64).
#[test]
fn many_clients_beyond_linux_defaults_get_the_descriptors_and_backlog_they_need() {
    let sc = scenario::lookup("many-clients").unwrap();
    let mut spec = explore::draw(sc.as_ref(), 3, &sized(Size::Small));
    spec.workload.clients = 4_200;
    spec.workload.exchanges = 1;
    assert_eq!(spec.topology, sansnet::topology::Shape::Direct);
    let outcome = scenario::run_with(
        &spec,
        RunOptions {
            collect_tables: true,
            ..RunOptions::default()
        },
    );
    assert_eq!(outcome.result, Ok(()), "{}", explore::one_line(&spec));
    // The listener's row in `ss` shows its backlog where Send-Q is, as Linux's does.
    let listen: Vec<&str> = outcome
        .tables
        .iter()
        .flat_map(|t| t.lines())
        .find(|l| l.contains(" LISTEN "))
        .expect("the server's listener")
        .split_whitespace()
        .collect();
    assert_eq!(listen[4], "4200", "{listen:?}");
}

#[test]
fn a_run_not_done_by_its_deadline_fails_exactly_at_the_deadline() {
    let sc = scenario::lookup("bulk").unwrap();
    let mut spec = explore::draw(sc.as_ref(), 2, &sized(Size::Medium));
    spec.heal_at_ms = 0;
    spec.progress_bound_ms = 7;
    let outcome = scenario::run(&spec);
    let failure = outcome.result.unwrap_err();
    assert_eq!(failure.kind, FailureKind::NoProgress);
    assert_eq!(outcome.sim_time, sansnet_sim::Instant::from_millis(7));
    assert!(
        failure.detail.contains("deadline 0.007000000s"),
        "{}",
        failure.detail
    );
}

#[test]
fn named_profiles_draw_partitions_except_ideal() {
    let sc = scenario::lookup("bulk").unwrap();
    let partitions = |profile: &str| {
        (0..30)
            .filter(|&seed| {
                let spec = explore::draw(
                    sc.as_ref(),
                    seed,
                    &DrawOptions {
                        profile: Some(profile.to_owned()),
                        ..Default::default()
                    },
                );
                spec.plan
                    .changes
                    .iter()
                    .any(|c| matches!(c.change, FaultChange::Partition { .. }))
            })
            .count()
    };
    assert!(partitions("wan") > 0);
    assert!(partitions("lan") > 0);
    assert_eq!(partitions("ideal"), 0);
}

/// partition-heals' own partition lands while its transfer is under way, on the fastest
/// networks too (it used to start after a LAN transfer had finished).
#[test]
fn partition_heals_is_cut_mid_transfer_on_a_lan() {
    let sc = scenario::lookup("partition-heals").unwrap();
    for profile in ["ideal", "lan"] {
        let spec = explore::draw_on(
            sc.as_ref(),
            4,
            &DrawOptions {
                profile: Some(profile.to_owned()),
                ..Default::default()
            },
            &TopologyChoice::default(),
        );
        let trace = Shared::default();
        let outcome = scenario::run_with(
            &spec,
            RunOptions {
                trace: Some(Box::new(trace.clone())),
                ..RunOptions::default()
            },
        );
        assert_eq!(outcome.result, Ok(()), "{profile}");
        let text = String::from_utf8(trace.0.borrow().clone()).unwrap();
        let cut = text.matches("\"reason\":\"partitioned\"").count();
        assert!(cut > 0, "{profile}: no frame met the partition");
    }
}
