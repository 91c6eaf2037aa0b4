//! The exported proptest strategies drive real runs: every generated plan is survivable,
//! so every case must pass, and proptest shrinks and persists any that does not.

use pretty_assertions::assert_eq;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestError, TestRunner};
use sansnet::scenario::{self, Shape};
use sansnet::strategies;
use sansnet_sim::FaultChange;

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn generated_runs_of_request_response_pass(spec in strategies::run_spec("request-response")) {
        let outcome = scenario::run(&spec);
        prop_assert!(outcome.result.is_ok(), "{:?}", outcome.result);
    }

    #[test]
    fn generated_plans_serialise_and_reload(plan in strategies::fault_plan()) {
        let json = serde_json::to_string(&plan).unwrap();
        let back: sansnet_sim::FaultPlan = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(back, plan);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, ..ProptestConfig::default() })]

    #[test]
    fn generated_runs_of_partition_heals_pass_on_generated_topologies(
        mut spec in strategies::run_spec("partition-heals")
    ) {
        spec.workload.bytes = spec.workload.bytes.min(16 * 1024);
        // The partition every run of this scenario has is on the generated network's names.
        let names = spec.topology.topology();
        let partitioned = spec.plan.changes.iter().any(|c| {
            matches!(&c.change, FaultChange::Partition { to, .. } if to == &names.servers)
        });
        prop_assert!(partitioned, "{:?}", spec.plan);
        let outcome = scenario::run(&spec);
        prop_assert!(outcome.result.is_ok(), "{} {:?}", spec.topology, outcome.result);
    }

    #[test]
    fn generated_plans_name_only_what_their_topology_has(
        (shape, plan) in strategies::topology().prop_flat_map(|shape| {
            (Just(shape), strategies::fault_plan_on(shape.topology()))
        })
    ) {
        let names = shape.topology();
        for c in &plan.changes {
            match &c.change {
                FaultChange::SetLink { link, .. }
                | FaultChange::Clog { link, .. }
                | FaultChange::Unclog { link, .. } => prop_assert!(names.links.contains(link)),
                FaultChange::Partition { from, to, .. } => {
                    prop_assert!(names.partitions().contains(&(from.clone(), to.clone())))
                }
                _ => {}
            }
        }
    }
}

#[test]
fn the_topology_strategy_shrinks_to_direct() {
    let mut runner = TestRunner::deterministic();
    for _ in 0..50 {
        let mut tree = strategies::topology().new_tree(&mut runner).unwrap();
        // Every simplification "still fails": shrinking goes all the way down.
        while tree.simplify() {}
        assert_eq!(tree.current(), Shape::Direct);
    }
}

#[test]
fn the_topology_strategy_shrinks_to_the_fewest_hosts_a_failure_needs() {
    let mut runner = TestRunner::new(Config {
        cases: 256,
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(&strategies::topology(), |shape| {
        prop_assert!(shape.client_hosts() < 3);
        Ok(())
    });
    let Err(TestError::Fail(_, minimal)) = result else {
        panic!("a shape with three client hosts or more was never generated: {result:?}");
    };
    assert_eq!(minimal.client_hosts(), 3, "{minimal}");
    assert!(minimal.routers() <= 1, "{minimal}");
}
