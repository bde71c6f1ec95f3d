//! The `train` application's readers of user input under generated input (proptest, a bounded
//! number of cases in the normal test suite): configuration files and every command-line value
//! parser end in a value or an error, never a panic; what parses is validated in one line.

use clap::{CommandFactory, Parser};
use ember::cli::Cli;
use ember::config::TrainConfig;
use proptest::prelude::*;

fn one_line(text: &str) -> bool {
    !text.is_empty() && !text.contains('\n')
}

/// A TOML value of the kinds a configuration holds, hostile ones included.
fn toml_value() -> impl Strategy<Value = String> {
    prop_oneof![
        "-?[0-9]{1,25}",
        "-?[0-9]{1,3}\\.[0-9]{1,4}(e[+-]?[0-9]{1,3})?",
        Just("nan".to_string()),
        Just("-inf".to_string()),
        Just("true".to_string()),
        "\"[a-z_\\-:=,.0-9{}]{0,30}\"",
        Just("\"full\"".to_string()),
        Just("\"all\"".to_string()),
        Just("[0.5, 1.2]".to_string()),
        Just("{}".to_string()),
    ]
}

fn key() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "model",
        "lr",
        "epochs",
        "batch_size",
        "seed",
        "dataset",
        "val_split",
        "limit_train",
        "backend",
        "gpu_index",
        "checkpoint_every",
        "keep_checkpoints",
        "lr_schedule",
        "schedule_unit",
        "bogus",
    ])
}

fn table() -> impl Strategy<Value = (&'static str, &'static str)> {
    prop::sample::select(vec![
        ("optimizer", "name"),
        ("optimizer", "beta1"),
        ("optimizer", "etas"),
        ("early_stopping", "patience"),
        ("early_stopping", "min_delta"),
        ("model_checkpoint", "filename"),
        ("model_checkpoint", "save_top_k"),
        ("reduce_lr_on_plateau", "factor"),
        ("logging", "update_freq"),
        ("logging", "format"),
    ])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn config_files_are_read_or_refused_in_one_line(
        top in prop::collection::vec((key(), toml_value()), 0..6),
        nested in prop::collection::vec((table(), toml_value()), 0..3),
        junk in prop::option::of("[\\[\\]={}\"a-z0-9 \n]{0,20}"),
    ) {
        let mut text = String::new();
        for (k, v) in &top {
            text.push_str(&format!("{k} = {v}\n"));
        }
        for ((t, k), v) in &nested {
            text.push_str(&format!("[{t}]\n{k} = {v}\n"));
        }
        if let Some(junk) = junk {
            text.push_str(&junk);
        }
        let path = std::env::temp_dir().join(format!("ember-config-prop-{}.toml", std::process::id()));
        std::fs::write(&path, &text).unwrap();
        match TrainConfig::from_toml_file(&path) {
            Ok(config) => {
                if let Err(e) = config.validate() {
                    prop_assert!(one_line(&e), "{e}");
                }
            }
            Err(e) => prop_assert!(one_line(&e), "{text}\n=> {e}"),
        }
    }

    /// Every flag of `train` that takes a value, given a generated value: parsed or refused
    /// by clap, never a panic; a parsed configuration-level value is then validated.
    #[test]
    fn every_flag_value_is_parsed_or_refused(
        pick in any::<prop::sample::Index>(),
        value in prop_oneof![
            "-?[0-9]{1,25}",
            "-?[0-9]\\.[0-9]{1,3}(e[+-]?[0-9]{1,4})?",
            Just("nan".to_string()), Just("inf".to_string()), Just(String::new()),
            "[a-z_:=,.0-9{}\\-]{0,24}",
            "-?[0-9]{1,20},-?[0-9]{1,20}",
        ],
    ) {
        let command = Cli::command();
        let flags: Vec<String> = command
            .get_arguments()
            .filter(|a| a.get_action().takes_values())
            .filter_map(|a| a.get_long().map(|l| format!("--{l}")))
            .collect();
        let flag = &flags[pick.index(flags.len())];
        if let Ok(cli) = Cli::try_parse_from(["train", flag.as_str(), value.as_str()]) {
            // A non-finite number would serialize as null and be dropped from the merge.
            prop_assert!(cli.train.lr.is_none_or(f64::is_finite));
            let given = ember::cli::given_flags(&cli.train.optimizer_args);
            prop_assert!(given.values().all(|v| !v.is_null()), "{flag} {value}: {given:?}");
        }
    }
}
