use clap::Parser;

use super::*;

fn words(line: &str) -> Vec<String> {
    line.split_whitespace().map(str::to_string).collect()
}

fn spec(line: &str) -> anyhow::Result<SweepSpec> {
    SweepCommand::parse(&words(line))?.spec()
}

/// The sweep: 3 optimizers × 2 rates × 3 seeds = 18 runs, seeds fastest, each with
/// the fixed flags and its own values.
#[test]
fn a_grid_of_flags_and_seeds_is_every_combination() {
    let spec =
        spec("--opt adam,adagrad,rmsprop --lr 1e-3,1e-2 --seeds 3 --model mlp --epochs 2").unwrap();
    let points = spec.points().unwrap();
    assert_eq!(points.len(), 18);
    assert_eq!(spec.keys(), ["opt", "lr"]);
    assert_eq!(points[0].dir, "001_opt=adam_lr=1e-3_seed=42");
    assert_eq!(points[17].dir, "018_opt=rmsprop_lr=1e-2_seed=44");
    assert_eq!(
        points[4].flags,
        words("--model mlp --epochs 2 --opt adam --lr 1e-2 --seed 43")
    );
    assert_eq!(
        points[4].values,
        [
            ("opt".to_string(), "adam".to_string()),
            ("lr".into(), "1e-2".into())
        ]
    );
    // Every point's flags parse as train's.
    for p in &points {
        let mut argv = vec!["train".to_string()];
        argv.extend(p.flags.clone());
        crate::cli::Cli::try_parse_from(argv).unwrap();
    }
    let command = points[0].command("train", Path::new("sw"));
    assert_eq!(
        command[command.len() - 4..],
        words("--run-dir sw/001_opt=adam_lr=1e-3_seed=42 --resume auto")
    );
}

/// Flags whose values hold commas are listed with ';'; a switch is swept as true,false.
#[test]
fn schedules_and_switches_are_swept() {
    let spec = spec(
        "--lr-schedule constant;cosine:max_update=20,final_lr=0.01 --batch-norm=true,false --seed 7",
    )
    .unwrap();
    let points = spec.points().unwrap();
    assert_eq!(points.len(), 4);
    assert_eq!(points[1].flags, words("--seed 7 --lr-schedule constant"));
    assert_eq!(
        points[2].flags,
        words("--seed 7 --lr-schedule cosine:max_update=20,final_lr=0.01 --batch-norm")
    );
    assert_eq!(points[2].seed, 7);
    assert!(
        points[2]
            .dir
            .starts_with("003_lr-schedule=cosine-max_update=20-final_lr=0.01")
    );
}

/// A file's [train] flags and [[runs]] variants, crossed; the command line overrides the file.
#[test]
fn a_file_gives_flags_and_variants() {
    let dir = std::env::temp_dir().join(format!("ember-sweep-spec-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("s.toml");
    std::fs::write(
        &file,
        "seeds = 2\n[train]\nmodel = \"lenet\"\nlr = [0.3, 0.1]\nbatch_size = 256\n\n\
         [[runs]]\nname = \"constant\"\n\n[[runs]]\nname = \"cosine\"\nlr_schedule = \"cosine:max_update=20\"\n",
    )
    .unwrap();
    let spec = spec(&format!("--file {} --epochs 3", file.display())).unwrap();
    let points = spec.points().unwrap();
    assert_eq!(points.len(), 8);
    assert_eq!(spec.keys(), ["variant", "lr"]);
    assert_eq!(points[4].dir, "005_cosine_lr=0.3_seed=42");
    assert_eq!(
        points[4].flags,
        words(
            "--batch-size 256 --model lenet --epochs 3 --lr-schedule cosine:max_update=20 --lr 0.3 --seed 42"
        )
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Bad sweeps are refused in one line, before anything runs.
#[test]
fn bad_sweeps_are_refused_in_one_line() {
    let cases = [
        (
            "--opt adam,sgd --colour red",
            "--colour is not a flag of train",
        ),
        ("--lr 0.1,,0.2", "an empty item"),
        ("--model mlp", "nothing to sweep"),
        ("--lr 0.1,0.2 --lr 0.3", "given twice"),
        ("--lr 0.1,0.2 --resume latest", "set by the sweep"),
        ("--seed 1,2 --seeds 3", "not both"),
        ("--seeds 0", "positive integer"),
        ("--batch-norm=maybe,true", "switch"),
    ];
    for (line, expected) in cases {
        let error = spec(line).and_then(|s| s.points()).unwrap_err().to_string();
        assert!(error.contains(expected), "{line}: {error}");
        assert!(!error.contains('\n'), "{line}: {error}");
    }
    let dir = std::env::temp_dir().join(format!("ember-sweep-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("empty.toml");
    std::fs::write(&file, "[train]\nlr = []\n").unwrap();
    let error = spec(&format!("--file {}", file.display()))
        .unwrap_err()
        .to_string();
    assert!(error.contains("lr = []: an empty list"), "{error}");
    let _ = std::fs::remove_dir_all(&dir);
}
