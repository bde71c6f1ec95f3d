//! `train sweep`: checks every point of the grid ([`crate::sweep`]) before any run, writes
//! `sweep.json`, then prints the runs' commands (`--print-commands`) or runs them, one at a time
//! or `--jobs N` at once, each as a child `train ... --resume auto` process (the same command a
//! scheduler runs), and writes the report.
//!
//! Each child is in a process group of its own, so a Ctrl-C at the terminal reaches only the
//! sweep, which passes one SIGTERM to each running child: each writes its checkpoint and stops,
//! and the same sweep command (with `--run-dir`) continues them.

use std::path::{Path, PathBuf};
use std::process::{Child, ExitCode, Stdio};
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{CommandFactory, Parser};

use crate::cli::Cli;
use crate::sweep::report::{self, Report};
use crate::sweep::{SWEEP_FILE, SweepCommand, SweepFile};
use crate::training::{
    EXIT_INTERRUPTED, RUNS_DIR, create_next_run_dir, lock_run, new_config, shell_line,
    stop_on_signals,
};
use ember_engine::console::{err, out, out_text};

pub(super) fn command(words: &[String]) -> anyhow::Result<ExitCode> {
    if words.iter().any(|w| w == "--help" || w == "-h") {
        let mut cli = Cli::command();
        if let Some(sweep) = cli.find_subcommand_mut("sweep") {
            sweep.print_long_help()?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    if words.first().map(String::as_str) == Some("report") {
        return report_command(&words[1..]).map(|()| ExitCode::SUCCESS);
    }
    let command = SweepCommand::parse(words)?;
    let spec = command.spec()?;
    let points = spec.points()?;
    let sort_by = spec
        .sort_by
        .clone()
        .unwrap_or_else(|| report::DEFAULT_SORT_KEY.to_string());
    report::check_sort_key(&sort_by)?;
    // Every run's flags must make a valid run before the first one starts.
    for point in &points {
        let argv = std::iter::once("train".to_string()).chain(point.flags.iter().cloned());
        let cli = Cli::try_parse_from(argv)
            .map_err(|e| anyhow::anyhow!("train sweep, run {}: {}", point.dir, clap_line(&e)))?;
        new_config(&cli.train)
            .and_then(|c| c.validate().map_err(anyhow::Error::msg))
            .map_err(|e| anyhow::anyhow!("train sweep, run {}: {e:#}", point.dir))?;
    }
    let dir = match &command.run_dir {
        Some(dir) => dir.clone(),
        None => create_next_run_dir(&Path::new(RUNS_DIR).join("sweep"))?,
    };
    let lock = lock_run(&dir)?;
    let sweep = SweepFile {
        keys: spec.keys(),
        sort_by,
        points,
    };
    let path = dir.join(SWEEP_FILE);
    ember_engine::fsutil::write_atomic(&path, &serde_json::to_vec_pretty(&sweep)?)
        .with_context(|| format!("cannot write {}", path.display()))?;
    let exe = std::env::args().next().unwrap_or_else(|| "train".into());
    if command.print_commands {
        for point in &sweep.points {
            out(&shell_line(&point.command(&exe, &dir)));
        }
        err(&format!(
            "{} commands; when they have run: {exe} sweep report {}",
            sweep.points.len(),
            dir.display()
        ));
        return Ok(ExitCode::SUCCESS);
    }
    let exe_path = std::env::current_exe().context("cannot locate the train binary")?;
    let code = run_points(&sweep, &dir, &exe_path, spec.jobs)?;
    if code != ExitCode::SUCCESS {
        return Ok(code);
    }
    drop(lock);
    write_report(&sweep, &dir)?;
    Ok(ExitCode::SUCCESS)
}

/// clap's error on one line, without the hints.
fn clap_line(e: &clap::Error) -> String {
    let text = e.render().to_string();
    text.lines()
        .map(str::trim)
        .filter(|l| {
            !l.is_empty() && !l.starts_with("For more information") && !l.starts_with("Usage")
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A running child and its run.
struct Running {
    child: Child,
    index: usize,
}

/// Runs every point, `jobs` at once, each as `exe <flags> --run-dir ... --resume auto`; stops
/// them on a signal. Returns success, or the exit status to leave with.
fn run_points(sweep: &SweepFile, dir: &Path, exe: &Path, jobs: usize) -> anyhow::Result<ExitCode> {
    let stop = stop_on_signals()?;
    let total = sweep.points.len();
    let mut next = 0;
    let mut running: Vec<Running> = Vec::new();
    let mut failed: Vec<String> = Vec::new();
    let mut interrupted = false;
    let mut signalled = false;
    loop {
        let stopping = stop.load(Ordering::SeqCst);
        if stopping && !signalled {
            // One SIGTERM each: the child checkpoints and exits (a second would end it at once).
            for r in &running {
                // SAFETY: kill(2) on a child's pid, which `Child` keeps unreaped until waited.
                unsafe { libc::kill(r.child.id() as libc::pid_t, libc::SIGTERM) };
            }
            signalled = true;
        }
        while !stopping && failed.is_empty() && running.len() < jobs && next < total {
            let point = &sweep.points[next];
            let words = point.command("train", dir);
            let mut process = std::process::Command::new(exe);
            process.args(&words[1..]);
            // Its own process group: a Ctrl-C at the terminal reaches the sweep alone.
            std::os::unix::process::CommandExt::process_group(&mut process, 0);
            let label = format!("run {}/{total}: {}", next + 1, point.dir);
            if jobs > 1 {
                let run_dir = dir.join(&point.dir);
                std::fs::create_dir_all(&run_dir)
                    .with_context(|| format!("cannot create {}", run_dir.display()))?;
                let log = run_dir.join("train.log");
                let file = std::fs::File::create(&log)
                    .with_context(|| format!("cannot write {}", log.display()))?;
                // A log file wants the epoch lines, not a progress bar.
                if !point.flags.iter().any(|f| f == "--quiet") {
                    process.arg("--quiet");
                }
                process
                    .stdout(Stdio::from(file.try_clone()?))
                    .stderr(Stdio::from(file));
                out(&format!("{label} (output in {})", log.display()));
            } else {
                out(&label);
            }
            let child = process
                .spawn()
                .with_context(|| format!("cannot start {}", exe.display()))?;
            running.push(Running { child, index: next });
            next += 1;
        }
        if running.is_empty() {
            break;
        }
        let mut i = 0;
        while i < running.len() {
            match running[i].child.try_wait()? {
                None => i += 1,
                Some(status) => {
                    let r = running.swap_remove(i);
                    let point = &sweep.points[r.index];
                    match status.code() {
                        Some(0) => {
                            if jobs > 1 {
                                out(&format!("run {}/{total} done: {}", r.index + 1, point.dir));
                            }
                        }
                        Some(code) if code == i32::from(EXIT_INTERRUPTED) => interrupted = true,
                        _ if signalled => interrupted = true,
                        _ => failed.push(format!(
                            "{} ({status}{})",
                            point.dir,
                            if jobs > 1 { ", see its train.log" } else { "" }
                        )),
                    }
                }
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    if interrupted || stop.load(Ordering::SeqCst) {
        out(&format!(
            "sweep stopped; continue with: {}",
            crate::training::continuation(dir)
        ));
        return Ok(ExitCode::from(EXIT_INTERRUPTED));
    }
    if !failed.is_empty() {
        bail!(
            "train sweep: {} run(s) failed: {}; fix the cause and run the same command with --run-dir {} (finished runs are skipped)",
            failed.len(),
            failed.join(", "),
            dir.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Reads the runs, writes the report files and prints the table.
fn write_report(sweep: &SweepFile, dir: &Path) -> anyhow::Result<()> {
    let runs = report::collect(dir, &sweep.points)?;
    let report = Report::new(sweep, &runs);
    let written = report.write(dir)?;
    out_text(&report.markdown(dir));
    let names: Vec<String> = written.iter().map(|p| p.display().to_string()).collect();
    out(&format!("report: {}", names.join(", ")));
    Ok(())
}

/// `train sweep report DIR [--sort-by METRIC]`.
fn report_command(words: &[String]) -> anyhow::Result<()> {
    #[derive(Parser)]
    #[command(name = "train sweep report", no_binary_name = true)]
    struct ReportArgs {
        /// The sweep's directory.
        dir: PathBuf,
        /// The metric to sort by.
        #[arg(long, value_name = "METRIC")]
        sort_by: Option<String>,
    }
    let args = ReportArgs::try_parse_from(words)
        .map_err(|e| anyhow::anyhow!("train sweep report: {}", clap_line(&e)))?;
    let path = args.dir.join(SWEEP_FILE);
    let text = std::fs::read_to_string(&path).map_err(|_| {
        anyhow::anyhow!(
            "{} not found: give the directory of a train sweep (it writes {SWEEP_FILE} before any run)",
            path.display()
        )
    })?;
    let mut sweep: SweepFile = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a sweep file", path.display()))?;
    if let Some(key) = args.sort_by {
        report::check_sort_key(&key)?;
        sweep.sort_by = key;
    }
    write_report(&sweep, &args.dir)
}
