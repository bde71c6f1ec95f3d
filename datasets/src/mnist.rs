//! MNIST and Fashion-MNIST: where the files are, and loading one split into memory.
//!
//! Both datasets use the same four IDX file names and shapes (LeCun et al. 1998; Xiao, Rasul &
//! Vollgraf 2017): 60,000 training and 10,000 test images of 28x28 unsigned-byte pixels, with
//! labels 0-9.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::checksum::sha256_file;
use crate::error::{DataError, Result};
use crate::idx::read_idx;

/// Image height and width in pixels.
pub const IMAGE_SIDE: usize = 28;
/// Pixels per image (28 x 28).
pub const IMAGE_PIXELS: usize = IMAGE_SIDE * IMAGE_SIDE;
/// Number of classes (digits 0-9, or the ten Fashion-MNIST garment classes).
pub const NUM_CLASSES: usize = 10;

/// The datasets ember knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DatasetKind {
    /// MNIST handwritten digits; shipped in the repository under `datasets/mnist`.
    Mnist,
    /// Fashion-MNIST (Zalando); Debian's `dataset-fashion-mnist` installs it.
    FashionMnist,
}

impl DatasetKind {
    /// Every dataset, in the order the CLI lists them.
    pub const ALL: [DatasetKind; 2] = [DatasetKind::Mnist, DatasetKind::FashionMnist];

    /// The name used on the command line and as the directory name (`mnist`, `fashion-mnist`).
    pub fn name(self) -> &'static str {
        match self {
            DatasetKind::Mnist => "mnist",
            DatasetKind::FashionMnist => "fashion-mnist",
        }
    }

    /// Mean of the training pixels scaled to [0, 1] (MNIST 0.1307, Fashion-MNIST 0.2860).
    pub fn mean(self) -> f32 {
        match self {
            DatasetKind::Mnist => 0.1307,
            DatasetKind::FashionMnist => 0.2860,
        }
    }

    /// Standard deviation of the training pixels scaled to [0, 1] (0.3081 and 0.3530).
    pub fn std(self) -> f32 {
        match self {
            DatasetKind::Mnist => 0.3081,
            DatasetKind::FashionMnist => 0.3530,
        }
    }

    /// How a user gets the files, for the not-found error.
    fn install_hint(self) -> &'static str {
        match self {
            DatasetKind::Mnist => {
                "MNIST ships in the ember repository under datasets/mnist; run from the repository or pass --data-dir DIR holding the four IDX files"
            }
            DatasetKind::FashionMnist => {
                "install it with `apt-get install dataset-fashion-mnist` or pass --data-dir DIR holding the four IDX files"
            }
        }
    }
}

impl fmt::Display for DatasetKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for DatasetKind {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        DatasetKind::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| format!("unknown dataset '{s}' (expected one of: mnist, fashion-mnist)"))
    }
}

/// Which of the two standard splits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    /// The 60,000-image training split.
    Train,
    /// The 10,000-image test split.
    Test,
}

impl Split {
    /// Base names (without `.gz`) of the image and label files of this split.
    fn file_stems(self) -> [&'static str; 2] {
        match self {
            Split::Train => ["train-images-idx3-ubyte", "train-labels-idx1-ubyte"],
            Split::Test => ["t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"],
        }
    }
}

/// One split held in memory as raw bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MnistData {
    /// Pixels, `len() * 784` bytes, image after image in row-major order, values 0-255.
    pub images: Vec<u8>,
    /// Labels, one byte per image, values 0-9.
    pub labels: Vec<u8>,
}

impl MnistData {
    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no images.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The 784 pixels of image `index`. Panics if `index >= len()`.
    pub fn image(&self, index: usize) -> &[u8] {
        &self.images[index * IMAGE_PIXELS..(index + 1) * IMAGE_PIXELS]
    }

    /// The images `range` as a new split (used for `--limit-train` and the validation split).
    pub fn slice(&self, range: std::ops::Range<usize>) -> MnistData {
        MnistData {
            images: self.images[range.start * IMAGE_PIXELS..range.end * IMAGE_PIXELS].to_vec(),
            labels: self.labels[range].to_vec(),
        }
    }
}

/// Finds the directory holding `kind`'s files.
///
/// Looks at `data_dir` alone when given; otherwise at `./datasets/<name>`, the repository's own
/// `datasets/<name>` (where this crate was built from), and `/usr/share/datasets/<name>`, in that
/// order. A directory qualifies when it holds all four files, each raw or `.gz`.
///
/// # Errors
/// [`DataError::NotFound`] naming every place looked at and how to get the data.
pub fn locate(kind: DatasetKind, data_dir: Option<&Path>) -> Result<PathBuf> {
    let candidates: Vec<PathBuf> = match data_dir {
        Some(dir) => vec![dir.to_path_buf()],
        None => {
            let mut dirs = vec![
                PathBuf::from("datasets").join(kind.name()),
                Path::new(env!("CARGO_MANIFEST_DIR")).join(kind.name()),
                Path::new("/usr/share/datasets").join(kind.name()),
            ];
            dirs.dedup_by(|a, b| same_dir(a, b));
            dirs
        }
    };
    let mut incomplete = None;
    for dir in &candidates {
        let missing: Vec<&str> = [Split::Train, Split::Test]
            .iter()
            .flat_map(|s| s.file_stems())
            .filter(|stem| find_file(dir, stem).is_none())
            .collect();
        if missing.is_empty() {
            return Ok(dir.clone());
        }
        // A directory with some of the files is where the user meant the data to be: name
        // what it lacks rather than only "not found".
        if missing.len() < 4 && incomplete.is_none() {
            incomplete = Some(DataError::Incomplete {
                dir: dir.clone(),
                dataset: kind.name().to_string(),
                missing: missing.join(", "),
                hint: kind.install_hint().to_string(),
            });
        }
    }
    if let Some(e) = incomplete {
        return Err(e);
    }
    Err(DataError::NotFound {
        dataset: kind.name().to_string(),
        searched: candidates
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", "),
        hint: kind.install_hint().to_string(),
    })
}

fn same_dir(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// The file `stem.gz` or `stem` in `dir`, whichever exists (gzip preferred).
fn find_file(dir: &Path, stem: &str) -> Option<PathBuf> {
    [format!("{stem}.gz"), stem.to_string()]
        .into_iter()
        .map(|name| dir.join(name))
        .find(|p| p.is_file())
}

/// Loads one split from `dir`, checking checksums when `dir/SHA256SUMS` exists.
///
/// # Errors
/// Any [`DataError`]: a missing, unreadable, corrupt, truncated or mismatched file.
pub fn load(dir: &Path, split: Split) -> Result<MnistData> {
    let sums = read_sha256sums(dir)?;
    let [image_stem, label_stem] = split.file_stems();
    let missing = |stem: &str| DataError::Io {
        path: dir.join(format!("{stem}.gz")),
        source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file (raw or .gz)"),
    };
    let image_path = find_file(dir, image_stem).ok_or_else(|| missing(image_stem))?;
    let label_path = find_file(dir, label_stem).ok_or_else(|| missing(label_stem))?;
    for path in [&image_path, &label_path] {
        verify_checksum(path, &sums)?;
    }

    let images = read_idx(&image_path)?;
    let labels = read_idx(&label_path)?;
    let contents = |path: &Path, reason: String| DataError::Contents {
        path: path.to_path_buf(),
        reason,
    };
    if images.dims.len() != 3 || images.dims[1..] != [IMAGE_SIDE, IMAGE_SIDE] {
        return Err(contents(
            &image_path,
            format!("image dimensions {:?}, expected [n, 28, 28]", images.dims),
        ));
    }
    if images.dims[0] == 0 {
        return Err(contents(
            &image_path,
            "no images (dimensions [0, 28, 28])".into(),
        ));
    }
    if labels.dims.len() != 1 || labels.dims[0] != images.dims[0] {
        return Err(contents(
            &label_path,
            format!(
                "label dimensions {:?}, expected [{}] to match the images",
                labels.dims, images.dims[0]
            ),
        ));
    }
    if let Some(bad) = labels.data.iter().find(|&&l| l as usize >= NUM_CLASSES) {
        return Err(contents(&label_path, format!("label {bad} outside 0-9")));
    }
    Ok(MnistData {
        images: images.data,
        labels: labels.data,
    })
}

/// Parses `dir/SHA256SUMS` (`<hex>  <file name>` per line) when present.
fn read_sha256sums(dir: &Path) -> Result<HashMap<String, String>> {
    let path = dir.join("SHA256SUMS");
    // Only an absent file turns verification off: anything else under the name (a directory,
    // an unreadable file) is an error when it is read below.
    if std::fs::symlink_metadata(&path).is_err() {
        return Ok(HashMap::new());
    }
    let text = std::fs::read_to_string(&path).map_err(|source| DataError::Io {
        path: path.clone(),
        source,
    })?;
    Ok(text
        .lines()
        .filter_map(|line| {
            let (hash, name) = line.split_once(char::is_whitespace)?;
            Some((
                name.trim().trim_start_matches('*').to_string(),
                hash.to_ascii_lowercase(),
            ))
        })
        .collect())
}

/// Checks `path` against its `SHA256SUMS` entry; files without an entry pass.
fn verify_checksum(path: &Path, sums: &HashMap<String, String>) -> Result<()> {
    let Some(expected) = path
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| sums.get(n))
    else {
        return Ok(());
    };
    let found = sha256_file(path).map_err(|source| DataError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    if &found != expected {
        return Err(DataError::Checksum {
            path: path.to_path_buf(),
            expected: expected.clone(),
            found,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The mean and standard deviation of `train`'s pixels, scaled to [0, 1], are `kind`'s
    /// normalization constants (to 1e-4).
    fn assert_normalization(train: &MnistData, kind: DatasetKind) {
        let n = train.images.len() as f64;
        let mean = train.images.iter().map(|&p| p as f64 / 255.0).sum::<f64>() / n;
        let var = train
            .images
            .iter()
            .map(|&p| (p as f64 / 255.0 - mean).powi(2))
            .sum::<f64>()
            / n;
        assert!(
            (mean - kind.mean() as f64).abs() < 1e-4,
            "{kind} mean {mean}"
        );
        assert!(
            (var.sqrt() - kind.std() as f64).abs() < 1e-4,
            "{kind} std {}",
            var.sqrt()
        );
    }

    fn shipped() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("mnist")
    }

    /// The shipped files pass their checksums and hold the published sizes and first labels
    /// (datasets/mnist/README.md: 5 0 4 1 9 2 1 3 1 4 and 7 2 1 0 4 1 4 9 5 9).
    #[test]
    fn shipped_mnist_loads_with_published_labels() {
        let dir = locate(DatasetKind::Mnist, Some(&shipped())).unwrap();
        let train = load(&dir, Split::Train).unwrap();
        let test = load(&dir, Split::Test).unwrap();
        assert_eq!(train.len(), 60_000);
        assert_eq!(test.len(), 10_000);
        assert_eq!(train.images.len(), 60_000 * IMAGE_PIXELS);
        assert_eq!(&train.labels[..10], &[5, 0, 4, 1, 9, 2, 1, 3, 1, 4]);
        assert_eq!(&test.labels[..10], &[7, 2, 1, 0, 4, 1, 4, 9, 5, 9]);
        // The training pixels' mean and std are the normalization constants used everywhere.
        assert_normalization(&train, DatasetKind::Mnist);
    }

    /// Debian's `dataset-fashion-mnist` layout loads, with the published class balance (6,000
    /// training and 1,000 test images per class) and the normalization constants used here.
    /// Required on CI (`.ci/run` installs the package); skipped elsewhere when not installed.
    #[test]
    fn fashion_mnist_from_debian_loads() {
        let dir = match locate(DatasetKind::FashionMnist, None) {
            Ok(dir) => dir,
            Err(e) if std::env::var_os("CI").is_none() => {
                println!("skipped: {e}");
                return;
            }
            Err(e) => panic!("{e}"),
        };
        let train = load(&dir, Split::Train).unwrap();
        let test = load(&dir, Split::Test).unwrap();
        for (split, per_class) in [(&train, 6_000), (&test, 1_000)] {
            let mut counts = [0usize; NUM_CLASSES];
            for &l in &split.labels {
                counts[l as usize] += 1;
            }
            assert_eq!(counts, [per_class; NUM_CLASSES]);
        }
        assert_normalization(&train, DatasetKind::FashionMnist);
    }

    #[test]
    fn corrupt_file_fails_its_checksum() {
        let dir = std::env::temp_dir().join(format!("ember-sum-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for entry in std::fs::read_dir(shipped()).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), dir.join(entry.file_name())).unwrap();
        }
        let victim = dir.join("t10k-labels-idx1-ubyte.gz");
        let mut bytes = std::fs::read(&victim).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0x01;
        std::fs::write(&victim, bytes).unwrap();
        let err = load(&dir, Split::Test).unwrap_err();
        assert!(matches!(err, DataError::Checksum { .. }), "{err}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn missing_dataset_names_every_place_looked_at() {
        let err = locate(
            DatasetKind::FashionMnist,
            Some(Path::new("/nonexistent/ember")),
        )
        .unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("/nonexistent/ember"), "{msg}");
        assert!(
            msg.contains("apt-get install dataset-fashion-mnist"),
            "{msg}"
        );
        assert!(!msg.contains('\n'));
    }
}
