//! TensorBoard event files: written, read back with every CRC checked, damage detected with
//! its offset, the logger's Keras 3 layout, and the learner's weight and gradient histograms
//! and filter images. `tools/tensorboard_scalars.py` reads the run
//! that `logger_writes_keras_layout_and_resume_adds_files` leaves under `target/tmp` with
//! TensorBoard itself.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Linear, LinearConfig};
use burn::optim::SgdConfig;
use burn::tensor::{Device, TensorData};
use ember_engine::callbacks::Logs;
use ember_engine::tensorboard::record::{RecordError, RecordErrorKind, masked_crc32c};
use ember_engine::tensorboard::{
    EventWriter, TbError, TensorBoardLogger, UpdateFreq, event_files, read_events, scalars,
    summary_values,
};
use ember_engine::{FitOutcome, Learner, LearnerConfig, Regression, TensorBoard, TensorSource, Xy};

/// A directory under the system's temporary directory, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("ember-tb-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn path(&self) -> &Path {
        &self.0
    }

    fn join(&self, p: &str) -> PathBuf {
        self.0.join(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Byte offsets of the records of an event file, walking only the length fields, and checking
/// each record's two CRCs by hand (independently of the reader under test).
fn record_offsets(bytes: &[u8]) -> Vec<usize> {
    let mut offsets = Vec::new();
    let mut pos = 0;
    while pos < bytes.len() {
        let len_bytes = &bytes[pos..pos + 8];
        let len = u64::from_le_bytes(len_bytes.try_into().unwrap()) as usize;
        let crc = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap());
        assert_eq!(
            crc(pos + 8),
            masked_crc32c(len_bytes),
            "length CRC at {pos}"
        );
        let data = &bytes[pos + 12..pos + 12 + len];
        assert_eq!(
            crc(pos + 12 + len),
            masked_crc32c(data),
            "data CRC at {pos}"
        );
        offsets.push(pos);
        pos += 12 + len + 4;
    }
    assert_eq!(
        pos,
        bytes.len(),
        "records end exactly at the end of the file"
    );
    offsets
}

fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// Values chosen to catch a dropped zero (proto3 omits zero floats without presence), signs,
/// extremes and a NaN (compared bit for bit).
const SCALARS: [(&str, i64, f32); 6] = [
    ("loss", 0, 2.5),
    ("loss", 1, 0.0),
    ("accuracy", 1, -1.25),
    ("loss", 2, f32::MAX),
    ("accuracy", 7, 1e-30),
    ("nan", 1 << 40, f32::NAN),
];

fn write_scalars(dir: &Path) -> PathBuf {
    let mut writer = EventWriter::create(dir).unwrap();
    for (tag, step, value) in SCALARS {
        writer.add_scalar(tag, step, value).unwrap();
    }
    writer.flush().unwrap();
    writer.path().to_owned()
}

#[test]
fn scalars_round_trip_with_every_crc_checked() {
    let dir = TempDir::new("tb-roundtrip");
    let before = now();
    let path = write_scalars(&dir.join("logs"));
    let after = now();

    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(record_offsets(&bytes).len(), 1 + SCALARS.len());

    let events = read_events(&path).unwrap();
    assert_eq!(events.len(), 1 + SCALARS.len());
    let first = &events[0];
    assert_eq!(first.file_version.as_deref(), Some("brain.Event:2"));
    assert_eq!(first.step, 0);
    assert!(first.summary.is_none());
    for (event, (tag, step, value)) in events[1..].iter().zip(SCALARS) {
        assert!(event.file_version.is_none());
        assert_eq!(event.step, step);
        let values = &event.summary.as_ref().unwrap().value;
        assert_eq!(values.len(), 1);
        assert_eq!(values[0].tag, tag);
        assert_eq!(
            values[0].simple_value.map(f32::to_bits),
            Some(value.to_bits())
        );
    }
    // Whole seconds in the first record (from the file's timestamp), fractions after.
    for event in &events {
        assert!(
            event.wall_time >= before.floor() && event.wall_time <= after,
            "{event:?}"
        );
    }

    let series = scalars(&dir.join("logs")).unwrap();
    let mut expected: BTreeMap<String, Vec<(i64, u32)>> = BTreeMap::new();
    for (tag, step, value) in SCALARS {
        expected
            .entry(tag.to_owned())
            .or_default()
            .push((step, value.to_bits()));
    }
    let got: BTreeMap<String, Vec<(i64, u32)>> = series
        .into_iter()
        .map(|(tag, points)| (tag, points.iter().map(|&(s, v)| (s, v.to_bits())).collect()))
        .collect();
    assert_eq!(got, expected);
}

#[test]
fn file_is_named_like_tensorflow() {
    let dir = TempDir::new("tb-name");
    let writer = EventWriter::create(dir.path()).unwrap();
    let name = writer
        .path()
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    // events.out.tfevents.<10-digit seconds>.<hostname>.<pid>.<counter>.v2
    let rest = name.strip_prefix("events.out.tfevents.").unwrap();
    let (secs, rest) = rest.split_at(10);
    let secs: f64 = secs.parse().unwrap();
    assert!((secs - now()).abs() < 60.0, "{name}");
    let rest = rest.strip_prefix('.').unwrap().strip_suffix(".v2").unwrap();
    let mut parts = rest.rsplitn(3, '.');
    let counter = parts.next().unwrap();
    let pid = parts.next().unwrap();
    let host = parts.next().unwrap();
    assert!(counter.parse::<u64>().is_ok(), "{name}");
    assert_eq!(pid, std::process::id().to_string(), "{name}");
    assert!(!host.is_empty(), "{name}");
}

#[test]
fn every_flipped_byte_is_detected_at_its_record() {
    let dir = TempDir::new("tb-flip");
    let path = write_scalars(dir.path());
    let good = std::fs::read(&path).unwrap();
    let offsets = record_offsets(&good);
    for at in 0..good.len() {
        let mut bad = good.clone();
        bad[at] ^= 0x01;
        std::fs::write(&path, &bad).unwrap();
        let record = *offsets.iter().rev().find(|&&o| o <= at).unwrap();
        let within = at - record;
        let err = read_events(&path).unwrap_err();
        let TbError::Record {
            path: err_path,
            source: RecordError { offset, kind },
        } = &err
        else {
            panic!("byte {at}: unexpected error {err}");
        };
        assert_eq!(err_path, &path);
        assert_eq!(*offset, record as u64, "byte {at}: {err}");
        if within < 12 {
            assert!(
                matches!(kind, RecordErrorKind::LengthCrc { .. }),
                "byte {at}: {err}"
            );
        } else {
            assert!(
                matches!(kind, RecordErrorKind::DataCrc { .. }),
                "byte {at}: {err}"
            );
        }
        let message = err.to_string();
        assert!(message.contains(&path.display().to_string()), "{message}");
        assert!(
            message.contains(&format!("byte offset {record}")),
            "{message}"
        );
    }
}

#[test]
fn truncated_file_names_the_last_record() {
    let dir = TempDir::new("tb-truncated");
    let path = write_scalars(dir.path());
    let good = std::fs::read(&path).unwrap();
    let last = *record_offsets(&good).last().unwrap();
    std::fs::write(&path, &good[..good.len() - 1]).unwrap();
    let err = read_events(&path).unwrap_err();
    assert!(
        matches!(&err, TbError::Record { source, .. }
            if source.offset == last as u64 && source.kind == RecordErrorKind::Truncated),
        "{err}"
    );
    assert!(err.to_string().contains("truncated"), "{err}");
}

#[test]
fn missing_paths_are_named() {
    let dir = TempDir::new("tb-missing");
    let file = dir.join("no-such-file");
    let err = read_events(&file).unwrap_err();
    assert!(matches!(err, TbError::Io { .. }));
    assert!(err.to_string().contains("no-such-file"), "{err}");
    let err = scalars(&dir.join("no-such-dir")).unwrap_err();
    assert!(err.to_string().contains("no-such-dir"), "{err}");
}

/// The metrics of one epoch, as a classification run logs them.
struct EpochMetrics {
    loss: f64,
    accuracy: f64,
    val_loss: f64,
    val_accuracy: f64,
    learning_rate: f64,
}

impl EpochMetrics {
    fn logs(&self) -> Logs {
        Logs::from([
            ("loss".to_string(), self.loss),
            ("accuracy".to_string(), self.accuracy),
            ("val_loss".to_string(), self.val_loss),
            ("val_accuracy".to_string(), self.val_accuracy),
            ("learning_rate".to_string(), self.learning_rate),
        ])
    }
}

fn epoch_metrics(epoch: usize) -> EpochMetrics {
    let e = epoch as f64;
    EpochMetrics {
        loss: 1.0 / e,
        accuracy: 0.5 + 0.1 * e,
        val_loss: 1.5 / e,
        val_accuracy: 0.4 + 0.1 * e,
        learning_rate: 0.001,
    }
}

/// Batch metrics of global step `step`: distinct, exactly representable values; the accuracy
/// of step 2 is 0.0, which must still reach TensorBoard.
fn batch(step: usize) -> (f64, f64) {
    (2.0 - step as f64 / 8.0, (step as f64 - 2.0) / 16.0)
}

/// What the learner does for `epochs` of `steps_per_epoch` batches, starting after
/// `first_epoch - 1` completed epochs.
fn train(logger: &mut TensorBoardLogger, first_epoch: usize, epochs: usize, steps: usize) {
    for epoch in first_epoch..first_epoch + epochs {
        for i in 0..steps {
            let global_step = (epoch - 1) * steps + i + 1;
            let (loss, accuracy) = batch(global_step);
            let logs = Logs::from([
                ("loss".to_string(), loss),
                ("accuracy".to_string(), accuracy),
            ]);
            logger.on_batch_end(global_step, &logs).unwrap();
        }
        let logs = epoch_metrics(epoch).logs();
        logger.on_validation_end(epoch * steps, &logs).unwrap();
        logger.on_epoch_end(epoch - 1, &logs).unwrap();
    }
}

type Series = BTreeMap<String, Vec<(i64, f32)>>;

fn series(entries: &[(&str, Vec<(i64, f32)>)]) -> Series {
    entries
        .iter()
        .map(|(tag, points)| (tag.to_string(), points.clone()))
        .collect()
}

/// Writes a 3-epoch run (2 epochs, then a resumed third) under `target/tmp` and keeps it for
/// `tools/tensorboard_scalars.py`.
#[test]
fn logger_writes_keras_layout_and_resume_adds_files() {
    let run = Path::new(env!("CARGO_TARGET_TMPDIR")).join("tensorboard-run");
    let _ = std::fs::remove_dir_all(&run);
    let steps = 3;
    let mut logger = TensorBoardLogger::create(&run, UpdateFreq::Batches(2)).unwrap();
    train(&mut logger, 1, 2, steps);
    drop(logger);
    // Resumed run: a new logger on the same run directory adds new files.
    let mut logger = TensorBoardLogger::create(&run, UpdateFreq::Batches(2)).unwrap();
    train(&mut logger, 3, 1, steps);
    drop(logger);

    let train_dir = run.join("tensorboard/train");
    let validation_dir = run.join("tensorboard/validation");
    assert_eq!(event_files(&train_dir).unwrap().len(), 2);
    assert_eq!(event_files(&validation_dir).unwrap().len(), 2);

    let per_epoch = |f: fn(&EpochMetrics) -> f64| -> Vec<(i64, f32)> {
        (1..=3)
            .map(|e| (e as i64 - 1, f(&epoch_metrics(e)) as f32))
            .collect()
    };
    // Keras: global batch counter starting at 1, recorded where step % update_freq == 0.
    let batches = |f: fn((f64, f64)) -> f64| -> Vec<(i64, f32)> {
        [2, 4, 6, 8]
            .iter()
            .map(|&s| (s as i64, f(batch(s)) as f32))
            .collect()
    };
    assert_eq!(
        scalars(&train_dir).unwrap(),
        series(&[
            ("batch_accuracy", batches(|b| b.1)),
            ("batch_loss", batches(|b| b.0)),
            ("epoch_accuracy", per_epoch(|m| m.accuracy)),
            ("epoch_learning_rate", per_epoch(|m| m.learning_rate)),
            ("epoch_loss", per_epoch(|m| m.loss)),
        ])
    );
    let per_iteration = |f: fn(&EpochMetrics) -> f64| -> Vec<(i64, f32)> {
        (1..=3)
            .map(|e| ((e * steps) as i64, f(&epoch_metrics(e)) as f32))
            .collect()
    };
    assert_eq!(
        scalars(&validation_dir).unwrap(),
        series(&[
            ("epoch_accuracy", per_epoch(|m| m.val_accuracy)),
            ("epoch_loss", per_epoch(|m| m.val_loss)),
            (
                "evaluation_accuracy_vs_iterations",
                per_iteration(|m| m.val_accuracy)
            ),
            (
                "evaluation_loss_vs_iterations",
                per_iteration(|m| m.val_loss)
            ),
        ])
    );
}

#[test]
fn epoch_update_freq_writes_no_batch_scalars() {
    let dir = TempDir::new("tb-epoch");
    let mut logger = TensorBoardLogger::create(dir.path(), UpdateFreq::Epoch).unwrap();
    assert!(!logger.batch_due(1));
    train(&mut logger, 1, 1, 4);
    let train_tags: Vec<String> = scalars(&dir.join("tensorboard/train"))
        .unwrap()
        .into_keys()
        .collect();
    assert_eq!(
        train_tags,
        ["epoch_accuracy", "epoch_learning_rate", "epoch_loss"]
    );
}

#[test]
fn zero_batch_update_freq_is_a_clear_error() {
    let dir = TempDir::new("tb-zero");
    let err = TensorBoardLogger::create(dir.path(), UpdateFreq::Batches(0)).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    assert!(err.to_string().contains("update frequency of 0"), "{err}");
}

/// A line fitted by regression, and a single-channel convolution that the loss does not use
/// (so it has a weight histogram and images but no gradient).
#[derive(Module, Debug)]
struct Probe {
    conv: Conv2d,
    line: Linear,
}

/// `(w, b)` of a `[1, 1]` linear layer.
fn line_params(line: &Linear) -> (f32, f32) {
    let w = line.weight.val().into_data().try_to_vec::<f32>().unwrap()[0];
    let b = line
        .bias
        .as_ref()
        .unwrap()
        .val()
        .into_data()
        .try_to_vec::<f32>()
        .unwrap()[0];
    (w, b)
}

/// The learner with `TensorBoard::histograms(1, true)`: at each epoch's end, histograms of
/// the weights (compared with the weights after that epoch, from the model and by hand) and of
/// the last step's gradients (compared with the mean-squared-error gradient computed by hand),
/// and the convolution's filters as PNG images whose pixels follow TensorFlow's normalization.
#[test]
fn learner_writes_weight_and_gradient_histograms_and_filter_images() {
    let dir = TempDir::new("tb-histograms");
    let device = Device::flex().autodiff();
    let xs: Vec<f32> = (0..8).map(|i| i as f32 / 4.0 - 1.0).collect();
    let ys: Vec<f32> = xs.iter().map(|x| 2.0 * x + 1.0).collect();
    let data = TensorSource::new(
        TensorData::new(xs.clone(), [8, 1]),
        TensorData::new(ys.clone(), [8, 1]),
    )
    .unwrap();
    let model = Probe {
        conv: Conv2dConfig::new([1, 2], [3, 3]).init(&device),
        line: LinearConfig::new(1, 1).init(&device),
    };
    let (w0, b0) = line_params(&model.line);
    let filters = model
        .conv
        .weight
        .val()
        .into_data()
        .try_to_vec::<f32>()
        .unwrap();
    let lr = 0.1;
    let config = LearnerConfig {
        epochs: 2,
        // One step an epoch: the last step's gradients are the whole data's.
        batch_size: 8,
        learning_rate: lr,
        run_dir: Some(dir.path().to_owned()),
        ..Default::default()
    };
    let step = |m: &Probe, b: Xy| Regression.output(m.line.forward(b.x), b.y);
    let outcome = Learner::new(model, SgdConfig::new().init(), step, device, config)
        .callback(TensorBoard::new(UpdateFreq::Epoch).histograms(1, true))
        .fit(&data, None::<&TensorSource>)
        .unwrap();
    let FitOutcome::Finished(result) = outcome else {
        panic!("not interrupted")
    };

    // d/dw and d/db of mean((w x + b - y)²), and plain SGD's update, in f64 by hand.
    let grad = |w: f64, b: f64| {
        let n = xs.len() as f64;
        let r = |i: usize| w * xs[i] as f64 + b - ys[i] as f64;
        let gw = (0..xs.len())
            .map(|i| 2.0 * r(i) * xs[i] as f64)
            .sum::<f64>()
            / n;
        let gb = (0..xs.len()).map(|i| 2.0 * r(i)).sum::<f64>() / n;
        (gw, gb)
    };
    let (mut w, mut b) = (w0 as f64, b0 as f64);
    let mut expected = Vec::new();
    for _ in 0..2 {
        let (gw, gb) = grad(w, b);
        (w, b) = (w - lr * gw, b - lr * gb);
        expected.push([(gw, gb), (w, b)]);
    }
    let (w_final, b_final) = line_params(&result.model.line);
    assert!((w - w_final as f64).abs() < 1e-5 && (b - b_final as f64).abs() < 1e-5);

    let values = summary_values(&dir.join("tensorboard/train")).unwrap();
    let histo = |tag: &str, step: i64| {
        let found: Vec<_> = values
            .iter()
            .filter(|(s, v)| *s == step && v.tag == tag)
            .collect();
        assert_eq!(found.len(), 1, "{tag} at step {step}");
        found[0]
            .1
            .histo
            .clone()
            .unwrap_or_else(|| panic!("{tag}: no histogram"))
    };
    for (step, [(gw, gb), (w, b)]) in expected.iter().enumerate() {
        let step = step as i64;
        for (tag, value) in [
            ("line/weight/gradient", gw),
            ("line/bias/gradient", gb),
            ("line/weight/histogram", w),
            ("line/bias/histogram", b),
        ] {
            let h = histo(tag, step);
            assert_eq!(h.num, 1.0, "{tag}");
            assert!(
                (h.min - value).abs() < 1e-5 * value.abs().max(1.0),
                "{tag}: {h:?} vs {value}"
            );
            assert_eq!(
                (h.min, h.sum, h.bucket.iter().sum::<f64>()),
                (h.max, h.max, 1.0),
                "{tag}"
            );
        }
        // The unused convolution: a weight histogram of its 18 values, no gradient.
        let h = histo("conv/weight/histogram", step);
        let lo = filters.iter().copied().fold(f32::INFINITY, f32::min);
        let hi = filters.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        assert_eq!((h.num, h.min, h.max), (18.0, lo as f64, hi as f64));
        assert!(!values.iter().any(|(_, v)| v.tag == "conv/weight/gradient"));
    }

    // Two images per epoch, filter i under `conv/weight/image/<i>`, pixels as TensorFlow 1
    // normalizes a signed image: v·(127/max|v|) + 128, truncated (in that order, as
    // `NormalizeFloatImage` scales and ember writes: 128 + v·127/max|v| can round the most
    // negative value to just under 1, which truncates to 0, and did once in a full test run).
    let images: Vec<_> = values.iter().filter(|(_, v)| v.image.is_some()).collect();
    let tags: Vec<(i64, &str)> = images.iter().map(|(s, v)| (*s, v.tag.as_str())).collect();
    assert_eq!(
        tags,
        [
            (0, "conv/weight/image/0"),
            (0, "conv/weight/image/1"),
            (1, "conv/weight/image/0"),
            (1, "conv/weight/image/1"),
        ]
    );
    for (i, (_, value)) in images[..2].iter().enumerate() {
        let image = value.image.as_ref().unwrap();
        assert_eq!((image.height, image.width, image.colorspace), (3, 3, 1));
        let decoder = png::Decoder::new(std::io::Cursor::new(&image.encoded_image_string));
        let mut reader = decoder.read_info().unwrap();
        let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut pixels).unwrap();
        assert_eq!(
            (info.width, info.height, info.color_type),
            (3, 3, png::ColorType::Grayscale)
        );
        let filter = &filters[i * 9..(i + 1) * 9];
        let magnitude = filter.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        let expected: Vec<u8> = filter
            .iter()
            .map(|v| (v * (127.0 / magnitude) + 128.0) as u8)
            .collect();
        assert!(
            filter.iter().any(|&v| v < 0.0),
            "Kaiming-uniform filters have a negative value"
        );
        assert_eq!(&pixels[..9], expected.as_slice(), "filter {i}");
    }
}
