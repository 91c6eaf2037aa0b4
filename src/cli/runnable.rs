//! Whether this build can run a [`RunSpec`] at all, decided before anything runs: a replay
//! file from another build may name a scenario, profile, planted bug, link or node this one
//! does not have. Such a file is a usage error that says what is missing and how to get
//! it, never a run that "hashes differently".

use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};

use sansnet::scenario::{self, RunSpec, Shape};
use sansnet_sim::{FaultProfile, NameError, Seed, Sim};

use super::CliError;

/// What `--plant` says in a build without planted bugs.
#[cfg(not(feature = "planted-bugs"))]
pub const NO_PLANTED_BUGS: &str = "this build has no planted bugs: they are compiled in only \
     with the planted-bugs feature (cargo run --release --features planted-bugs -- ...)";

/// Why a spec cannot run here.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Unrunnable {
    /// No scenario of that name is registered.
    Scenario(String),
    /// The profile is not one this build knows.
    Profile(String),
    /// A planted bug, in a build without the `planted-bugs` feature.
    PlantNeedsFeature(String),
    /// A planted bug this build does not have.
    Plant(String),
    /// The network's shape is outside what this build builds (as `--topology` would
    /// refuse it).
    Shape(String),
    /// The fault plan names a link or node the run's network does not have.
    Name {
        /// The simulator's complaint.
        error: String,
        /// The network.
        shape: Shape,
        /// The links it has.
        links: Vec<String>,
        /// The nodes faults may name.
        nodes: Vec<String>,
    },
    /// The workload is past [`sansnet::scenario::Workload::MAX`].
    Workload(String),
    /// Building the scenario's network and workload panicked.
    Build(String),
}

impl fmt::Display for Unrunnable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unrunnable::Scenario(name) => {
                let known: Vec<_> = scenario::all().iter().map(|s| s.name()).collect();
                write!(
                    f,
                    "no scenario {name:?} in this build (it has {}); `sansnet scenarios` \
                     lists them, and a scenario registered by a Rust test replays from that \
                     test (SANSNET_SEED=<seed> cargo test)",
                    known.join(", ")
                )
            }
            Unrunnable::Profile(name) => write!(
                f,
                "no fault profile {name:?} in this build (it has {}, and \"random\" for \
                 profiles drawn per seed): was the file written by another version of \
                 sansnet?",
                FaultProfile::NAMES.join(", ")
            ),
            Unrunnable::PlantNeedsFeature(bug) => write!(
                f,
                "the run switches on the planted bug {bug:?}, and this build has no planted \
                 bugs: they are compiled in only with the planted-bugs feature"
            ),
            Unrunnable::Plant(bug) => write!(
                f,
                "no planted bug {bug:?} in this build (it has {}): was the file written by \
                 another version of sansnet?",
                planted_names().join(", ")
            ),
            Unrunnable::Shape(why) => {
                write!(f, "the run's network is not one this build builds: {why}")
            }
            Unrunnable::Workload(why) => write!(f, "the run's workload is too large: {why}"),
            Unrunnable::Name {
                error,
                shape,
                links,
                nodes,
            } => write!(
                f,
                "the fault plan names what the run's network ({shape}) does not have: \
                 {error}; its links are {} and its nodes {}",
                quoted(links),
                quoted(nodes)
            ),
            Unrunnable::Build(panic) => {
                write!(f, "building the run's network and workload failed: {panic}")
            }
        }
    }
}

/// The usage error for `sansnet <verb> <args>` of an unrunnable spec, with the command
/// that runs it when only a feature is missing.
pub fn refuse(verb: &str, args: &str, why: &Unrunnable) -> CliError {
    let mut message = format!("cannot {verb} {args}: {why}");
    if let Unrunnable::PlantNeedsFeature(_) = why {
        message.push_str(&format!(
            "\n\n  {verb} it with: cargo run --release --features planted-bugs -- {verb} {args}"
        ));
    }
    CliError::Usage(message)
}

/// The first few names, quoted.
fn quoted(names: &[String]) -> String {
    const SHOWN: usize = 8;
    let mut text = names
        .iter()
        .take(SHOWN)
        .map(|n| format!("{n:?}"))
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > SHOWN {
        text.push_str(&format!(" and {} more", names.len() - SHOWN));
    }
    text
}

fn planted_names() -> Vec<&'static str> {
    #[cfg(feature = "planted-bugs")]
    {
        sansnet_stack::tcp::PlantedBug::ALL
            .iter()
            .map(|b| b.name())
            .collect()
    }
    #[cfg(not(feature = "planted-bugs"))]
    {
        Vec::new()
    }
}

/// Checks that this build can run `spec`: its scenario, profile and planted bug exist, and
/// every link and node its fault plan names is in the network it builds (the network is
/// built, not run, to ask the simulator itself).
pub fn check(spec: &RunSpec) -> Result<(), Unrunnable> {
    let sc = scenario::lookup(&spec.scenario)
        .ok_or_else(|| Unrunnable::Scenario(spec.scenario.clone()))?;
    if spec.profile != "random" && FaultProfile::by_name(&spec.profile).is_none() {
        return Err(Unrunnable::Profile(spec.profile.clone()));
    }
    if let Some(bug) = &spec.planted {
        if !cfg!(feature = "planted-bugs") {
            return Err(Unrunnable::PlantNeedsFeature(bug.clone()));
        }
        if !planted_names().contains(&bug.as_str()) {
            return Err(Unrunnable::Plant(bug.clone()));
        }
    }
    // A shape from a file is checked as `--topology` checks one (client hosts and routers
    // within bounds): the builders would clamp it, and build another network.
    spec.topology
        .to_string()
        .parse::<Shape>()
        .map_err(Unrunnable::Shape)?;
    spec.workload.check().map_err(Unrunnable::Workload)?;
    let tcp = scenario::tcp_config(spec).map_err(|f| Unrunnable::Build(f.detail))?;
    let applied = catch_unwind(AssertUnwindSafe(|| {
        let mut sim = Sim::new(Seed(spec.seed));
        let _built = sc.build(&mut sim, &spec.workload, &spec.topology, &tcp);
        sim.apply_plan(&spec.plan)
    }));
    match applied {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => {
            let names = sc.topology(&spec.workload, &spec.topology);
            let nodes = names
                .clients
                .iter()
                .chain(&names.routers)
                .chain(&names.servers)
                .cloned()
                .collect();
            Err(Unrunnable::Name {
                error: describe(&e),
                shape: spec.topology,
                links: names.links,
                nodes,
            })
        }
        Err(panic) => Err(Unrunnable::Build(
            panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic".to_owned()),
        )),
    }
}

fn describe(e: &NameError) -> String {
    match e {
        NameError::UnknownLink(link) => format!("no link {link:?}"),
        NameError::UnknownNode(node) => format!("no node {node:?}"),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;
    use sansnet::explore::{draw, DrawOptions};
    use sansnet_sim::{Direction, FaultChange, Instant, LinkFaults};

    fn bulk(seed: u64) -> RunSpec {
        let sc = scenario::lookup("bulk").unwrap();
        draw(
            sc.as_ref(),
            seed,
            &DrawOptions {
                profile: None,
                planted: None,
                ..Default::default()
            },
        )
    }

    #[test]
    fn drawn_runs_are_runnable() {
        for seed in 0..8 {
            assert_eq!(check(&bulk(seed)), Ok(()));
        }
    }

    #[test]
    fn a_shape_out_of_bounds_is_refused_not_clamped() {
        for shape in [
            Shape::Switched { client_hosts: 0 },
            Shape::Switched {
                client_hosts: 100_000,
            },
            Shape::Routed {
                client_hosts: 1,
                routers: 50,
            },
        ] {
            let spec = RunSpec {
                topology: shape,
                ..bulk(1)
            };
            assert!(
                matches!(check(&spec), Err(Unrunnable::Shape(_))),
                "{shape}: {:?}",
                check(&spec)
            );
        }
    }

    #[test]
    fn each_missing_thing_is_named() {
        let spec = RunSpec {
            scenario: "nosuch".to_owned(),
            ..bulk(1)
        };
        assert_eq!(check(&spec), Err(Unrunnable::Scenario("nosuch".to_owned())));
        let spec = RunSpec {
            profile: "nosuch".to_owned(),
            ..bulk(1)
        };
        assert_eq!(check(&spec), Err(Unrunnable::Profile("nosuch".to_owned())));
        let mut spec = bulk(1);
        spec.plan.push(
            Instant::ZERO,
            FaultChange::SetLink {
                link: "a<->b".to_owned(),
                direction: Direction::Both,
                faults: LinkFaults::default(),
            },
        );
        let err = check(&spec).unwrap_err();
        assert!(
            err.to_string().starts_with(
                "the fault plan names what the run's network (direct) does not have: \
                 no link \"a<->b\"; its links are \"client/nic0<->server/nic0\""
            ),
            "{err}"
        );
        let mut spec = bulk(1);
        spec.plan.push(
            Instant::ZERO,
            FaultChange::Crash {
                node: "ghost".to_owned(),
            },
        );
        assert!(
            matches!(check(&spec), Err(Unrunnable::Name { error, .. }) if error == "no node \"ghost\"")
        );
    }
}
