//! The exported proptest strategies drive real runs: every generated plan is survivable,
//! so every case must pass, and proptest shrinks and persists any that does not.

use proptest::prelude::*;
use sansnet::scenario;
use sansnet::strategies;

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
