//! The engine's readers of user text and stored state under generated input (proptest, a
//! bounded number of cases in the normal test suite): checkpoint file-name templates, schedule
//! strings and checkpoints' `state.json` each end in a value or a one-line error, never a panic.

use std::collections::BTreeMap;

use ember_engine::callbacks::Logs;
use ember_engine::callbacks::template::{MAX_NAME_BYTES, format_filename};
use ember_engine::checkpoint;
use ember_engine::checksum::sha256_parts;
use ember_engine::schedule::{LrSchedule, ScheduleUnit};
use proptest::prelude::*;

fn one_line(text: &str) -> bool {
    !text.is_empty() && !text.contains('\n')
}

fn logs() -> Logs {
    BTreeMap::from([
        ("loss".to_string(), 0.25),
        ("val_loss".to_string(), -1.5e300),
        ("accuracy".to_string(), f64::NAN),
    ])
}

/// Text made of template syntax and digits, where the interesting cases are.
fn template_text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            Just("{".to_string()),
            Just("}".to_string()),
            Just("{epoch".to_string()),
            Just("{val_loss".to_string()),
            Just(":".to_string()),
            Just(".".to_string()),
            Just("0".to_string()),
            "[0-9]{1,25}",
            "[<>^=+\\- #,_zdfFeEgG%!]",
            "[a-z/\\\\\\x00.]{0,3}",
        ],
        0..12,
    )
    .prop_map(|parts| parts.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn templates_format_or_fail_cleanly(
        template in template_text(),
        epoch in any::<u32>(),
        step in any::<u64>(),
    ) {
        match format_filename(&template, epoch as usize, step as usize, &logs()) {
            Ok(name) => {
                prop_assert!(!name.is_empty() && name.len() <= MAX_NAME_BYTES, "{name:?}");
                prop_assert!(!name.contains(['/', '\0']) && !name.starts_with('.'), "{name:?}");
            }
            Err(e) => prop_assert!(one_line(&e.to_string()), "{e}"),
        }
    }

    #[test]
    fn any_text_as_a_template_fails_cleanly(template in ".{0,40}") {
        if let Err(e) = format_filename(&template, 1, 1, &logs()) {
            prop_assert!(one_line(&e.to_string()));
        }
    }

    /// Schedule strings: a schedule whose every learning rate is a number, or a one-line error.
    #[test]
    fn schedules_parse_or_fail_cleanly(
        name in prop_oneof![
            Just("constant"), Just("step"), Just("exponential"), Just("inverse-time-decay"),
            Just("cosine"), Just("bogus"),
        ],
        params in prop::collection::vec(
            (
                prop_oneof![
                    Just("step_size"), Just("gamma"), Just("decay"), Just("max_update"),
                    Just("final_lr"), Just("warmup_steps"), Just("warmup_begin_lr"), Just("x"),
                ],
                prop_oneof![
                    "[0-9]{1,22}", "-?[0-9]\\.[0-9]{1,3}(e[+-]?[0-9]{1,3})?",
                    Just("nan".to_string()), Just("inf".to_string()), Just(String::new()),
                ],
            ),
            0..4,
        ),
        sep in prop_oneof![Just(":"), Just(""), Just("::")],
        t in any::<u32>(),
    ) {
        let spec = format!(
            "{name}{sep}{}",
            params.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",")
        );
        match spec.parse::<LrSchedule>() {
            Ok(schedule) => {
                if schedule.validate().is_ok() {
                    for unit in [ScheduleUnit::Epoch, ScheduleUnit::Step] {
                        let lr = schedule.learning_rate(0.1, t as usize, t as usize, unit);
                        prop_assert!(!lr.is_nan(), "{spec}: {lr}");
                    }
                }
            }
            Err(e) => prop_assert!(one_line(&e.to_string()), "{e}"),
        }
    }

    /// A checkpoint whose `state.json` is arbitrary JSON-ish bytes under a matching checksum
    /// (so that the parser, not the hash, meets it) is read or refused in one line.
    #[test]
    fn checkpoint_state_files_are_read_or_refused_cleanly(
        state in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..64),
            "\\{\"format_version\": ?[0-9]{1,12}(, \"[a-z_]{1,12}\": ?(-?[0-9]{1,25}|null|\"x\"|\\[\\]|\\{\\}))*\\}"
                .prop_map(String::into_bytes),
        ],
    ) {
        let dir = std::env::temp_dir().join(format!("ember-state-prop-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("state.json"), &state).unwrap();
        std::fs::write(
            dir.join("state.json.sha256"),
            format!("{}  state.json\n", sha256_parts(&[&state])),
        )
        .unwrap();
        match checkpoint::read(&dir) {
            Ok(ck) => prop_assert!(ck.state.format_version == checkpoint::FORMAT_VERSION),
            Err(e) => prop_assert!(one_line(&e.to_string()), "{e}"),
        }
    }
}
