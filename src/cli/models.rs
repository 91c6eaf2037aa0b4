//! `sansnet models`: the server models under one load, one row each.

use std::io::Write;

use sansnet::models::{self, Load, Model, ModelReport};
use sansnet_sim::Duration;

use super::args::ModelsArgs;
use super::CliError;

/// Runs the models asked for (every one by default) and prints the table, or with `--at`
/// each model's server tables at that time.
pub fn models(args: ModelsArgs) -> Result<(), CliError> {
    let chosen: Vec<Model> = if args.models.is_empty() {
        Model::ALL.to_vec()
    } else {
        args.models.clone()
    };
    let load = Load {
        seed: args.seed,
        clients: args.clients as usize,
        requests_per_client: args.requests as usize,
        backlog: args.backlog as usize,
        loss_ppm: args.loss * 10_000,
        ..Load::default()
    };
    if let Some(at) = args.at {
        for model in chosen {
            let text = models::tables_at(model, &load, at)
                .map_err(|e| CliError::Failed(format!("{}: {e}", model.name())))?;
            say(format_args!("{text}"))?;
        }
        return Ok(());
    }
    say(format_args!(
        "{} clients x {} requests, think {}-{} ms, {} ms CPU + {} ms I/O per request on {} cores, \
         backlog {}, {} ms each way, {}% loss, seed {}",
        load.clients,
        load.requests_per_client,
        load.think_ms.0,
        load.think_ms.1,
        millis(load.cpu),
        millis(load.io_wait),
        load.cores,
        load.backlog,
        millis(load.latency),
        args.loss,
        load.seed
    ))?;
    say(format_args!("{}", ModelReport::HEADER))?;
    for model in chosen {
        let report = models::run(model, &load)
            .map_err(|e| CliError::Failed(format!("{}: {e}", model.name())))?;
        say(format_args!("{report}"))?;
    }
    Ok(())
}

/// Prints one line; a closed standard output (`| head`) is an I/O error, not a panic.
fn say(line: std::fmt::Arguments<'_>) -> Result<(), CliError> {
    writeln!(std::io::stdout().lock(), "{line}")
        .map_err(|e| CliError::Io(format!("writing the table: {e}")))
}

fn millis(d: Duration) -> u128 {
    d.as_millis()
}
