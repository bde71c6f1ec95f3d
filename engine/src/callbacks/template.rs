//! Checkpoint file-name templates: the subset of Python's `str.format` that Keras'
//! `ModelCheckpoint(filepath=...)` and Lightning's `filename=` templates use, e.g.
//! `"epoch{epoch:03d}-val_loss{val_loss:.4f}"`.
//!
//! Fields are `{name}` or `{name:spec}` with `name` one of `epoch` (1-based, as Keras passes
//! `epoch + 1`), `step` (optimizer steps done) or a metric of the logs; `{{` and `}}` are
//! literal braces. Specs follow Python's format-spec mini-language
//! (<https://docs.python.org/3/library/string.html#formatspec>):
//! `[[fill]align][sign][0][width][.precision][type]` with types `d` (integers only), `f`/`F`,
//! `e`/`E`, `g`/`G`, `%` and none; the output equals CPython's for these. Not supported (an
//! error): positional fields, `#`, `,`/`_` grouping, `z`, conversions (`!r`), and nested
//! fields.
//!
//! This is Keras' plain `str.format`: Lightning's additions (`auto_insert_metric_name`, which
//! turns `{epoch}` into `epoch=0`, its 0-based epochs, and 0 for missing metrics) do not apply;
//! a missing name is an error, as Keras' `KeyError`.

use super::Logs;
use super::error::{CallbackError, Setting};

/// A value substituted into a template: `epoch` and `step` are integers, metrics are floats
/// (as in Keras, where logs hold Python floats).
#[derive(Clone, Copy, Debug, PartialEq)]
enum Value {
    Int(i64),
    Float(f64),
}

/// A parsed format spec.
#[derive(Clone, Debug, Default, PartialEq)]
struct Spec {
    fill: Option<char>,
    align: Option<char>,
    sign: Option<char>,
    zero: bool,
    width: usize,
    precision: Option<usize>,
    kind: Option<char>,
}

/// A piece of a parsed template.
#[derive(Clone, Debug, PartialEq)]
enum Piece {
    Text(String),
    Field { name: String, spec: Spec },
}

/// `template`, with every field replaced by its value formatted as Python's `str.format`
/// would: `epoch` (1-based), `step` (optimizer steps done) and the metrics in `logs`.
///
/// # Errors
/// A malformed template, an unsupported spec, a spec that does not fit the value (e.g. `d` on
/// a metric, as in Python), or a field that names neither `epoch`, `step` nor a logged metric
/// (the message lists the available names).
pub fn format_filename(
    template: &str,
    epoch: usize,
    step: usize,
    logs: &Logs,
) -> Result<String, CallbackError> {
    fill(template, epoch, step, logs)
        .and_then(|name| check_name(template, name))
        .map_err(CallbackError::Template)
}

/// The longest file name a template may produce, in bytes: file systems allow 255, less the
/// extension (`.bpk`) and the temporary name a write goes through (`.NAME.tmp-PID`).
pub const MAX_NAME_BYTES: usize = 200;

/// `name` if it can be a file name in a run's `models/` directory: not empty, at most
/// [`MAX_NAME_BYTES`], no `/`, `\` or NUL, not `.` or `..`, and not starting with `.` (hidden,
/// and the temporaries that a resume removes start so).
fn check_name(template: &str, name: String) -> Result<String, String> {
    let problem = if name.is_empty() {
        Some("is empty".to_string())
    } else if name.len() > MAX_NAME_BYTES {
        Some(format!(
            "is {} bytes long, more than the {MAX_NAME_BYTES} a checkpoint name may have",
            name.len()
        ))
    } else if name.contains(['/', '\\', '\0']) {
        Some("contains '/', '\\' or a NUL character".into())
    } else if name.starts_with('.') {
        Some("starts with '.' (hidden files and ember's temporaries do)".into())
    } else {
        None
    };
    match problem {
        None => Ok(name),
        Some(problem) => Err(format!(
            "checkpoint file name template '{}' gives the name '{}', which {problem}; change the template",
            shorten_name(template),
            shorten_name(&name)
        )),
    }
}

/// The first 40 characters of `name`, escaped, for a message.
fn shorten_name(name: &str) -> String {
    let short: String = name.chars().take(40).collect();
    let more = if short.len() < name.len() { "..." } else { "" };
    format!("{}{more}", short.escape_debug())
}

fn fill(template: &str, epoch: usize, step: usize, logs: &Logs) -> Result<String, String> {
    let mut out = String::new();
    for piece in parse(template)? {
        match piece {
            Piece::Text(text) => out.push_str(&text),
            Piece::Field { name, spec } => {
                let value = match name.as_str() {
                    "epoch" => Value::Int(epoch as i64),
                    "step" => Value::Int(step as i64),
                    metric => match logs.get(metric) {
                        Some(&v) => Value::Float(v),
                        None => {
                            let mut available = vec!["epoch", "step"];
                            available.extend(logs.keys().map(String::as_str));
                            return Err(format!(
                                "checkpoint file name template '{template}' uses {{{name}}}, which is not available; use one of: {}",
                                available.join(", ")
                            ));
                        }
                    },
                };
                let text = format_value(value, &spec).map_err(|e| {
                    format!("checkpoint file name template '{template}', field {{{name}}}: {e}")
                })?;
                out.push_str(&text);
            }
        }
    }
    // The name is one entry of <run>/models/: a separator (also through a fill character) or
    // a dot name would write outside it.
    if out.contains(['/', '\\']) || out == "." || out == ".." {
        return Err(format!(
            "checkpoint file name template '{template}' gives '{out}', which is not a file name (no '/', '\\', '.' or '..'); checkpoints go into <run>/models/"
        ));
    }
    Ok(out)
}

/// Checks that `template` parses (fields and specs), without formatting it; for configuration
/// time, before any metric exists.
///
/// # Errors
/// As the parsing part of [`format_filename`].
pub fn check_template(template: &str) -> Result<(), CallbackError> {
    if template.is_empty() {
        return Err(CallbackError::EmptyTemplate {
            setting: Setting::model_checkpoint("filename"),
        });
    }
    parse(template).map(|_| ()).map_err(CallbackError::Template)
}

fn parse(template: &str) -> Result<Vec<Piece>, String> {
    let err = |what: &str| format!("checkpoint file name template '{template}': {what}");
    let mut pieces = vec![];
    let mut text = String::new();
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                text.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                text.push('}');
            }
            '}' => return Err(err("single '}' (write '}}' for a literal brace)")),
            '{' => {
                let mut field = String::new();
                loop {
                    match chars.next() {
                        Some('}') => break,
                        Some('{') => return Err(err("nested fields are not supported")),
                        Some(c) => field.push(c),
                        None => {
                            return Err(err(
                                "'{' without its '}' (write '{{' for a literal brace)",
                            ));
                        }
                    }
                }
                let (name, spec) = match field.split_once(':') {
                    Some((name, spec)) => (name, spec),
                    None => (field.as_str(), ""),
                };
                if name.is_empty() {
                    return Err(err(
                        "positional fields {} are not supported; name a value, e.g. {epoch}",
                    ));
                }
                if name.contains(['!', '[', '.']) {
                    return Err(err(&format!(
                        "field {{{field}}}: conversions, indexing and attributes are not supported"
                    )));
                }
                let spec = parse_spec(spec).map_err(|e| err(&format!("field {{{field}}}: {e}")))?;
                if !text.is_empty() {
                    pieces.push(Piece::Text(std::mem::take(&mut text)));
                }
                pieces.push(Piece::Field {
                    name: name.to_string(),
                    spec,
                });
            }
            c => text.push(c),
        }
    }
    if !text.is_empty() {
        pieces.push(Piece::Text(text));
    }
    Ok(pieces)
}

fn parse_spec(spec: &str) -> Result<Spec, String> {
    let chars: Vec<char> = spec.chars().collect();
    let mut out = Spec::default();
    let mut i = 0;
    let is_align = |c: char| matches!(c, '<' | '>' | '^' | '=');
    if chars.len() >= 2 && is_align(chars[1]) {
        out.fill = Some(chars[0]);
        out.align = Some(chars[1]);
        i = 2;
    } else if !chars.is_empty() && is_align(chars[0]) {
        out.align = Some(chars[0]);
        i = 1;
    }
    if i < chars.len() && matches!(chars[i], '+' | '-' | ' ') {
        out.sign = Some(chars[i]);
        i += 1;
    }
    if i < chars.len() && matches!(chars[i], 'z' | '#') {
        return Err(format!("'{}' in a format spec is not supported", chars[i]));
    }
    if i < chars.len() && chars[i] == '0' {
        out.zero = true;
        i += 1;
    }
    let start = i;
    while i < chars.len() && chars[i].is_ascii_digit() {
        i += 1;
    }
    if i > start {
        let digits: String = chars[start..i].iter().collect();
        out.width = digits
            .parse()
            .ok()
            .filter(|&w| w <= MAX_NAME_BYTES)
            .ok_or_else(|| {
                format!("width '{digits}' is more than a name may have ({MAX_NAME_BYTES} bytes)")
            })?;
    }
    if i < chars.len() && matches!(chars[i], ',' | '_') {
        return Err(format!(
            "grouping '{}' in a format spec is not supported",
            chars[i]
        ));
    }
    if i < chars.len() && chars[i] == '.' {
        i += 1;
        let start = i;
        while i < chars.len() && chars[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return Err("format spec has '.' without a precision".into());
        }
        let digits: String = chars[start..i].iter().collect();
        out.precision = Some(
            digits
                .parse()
                .ok()
                .filter(|&p| p <= MAX_NAME_BYTES)
                .ok_or_else(|| {
                    format!(
                        "precision '{digits}' is more than a name may have ({MAX_NAME_BYTES} bytes)"
                    )
                })?,
        );
    }
    if i < chars.len() {
        let kind = chars[i];
        if !matches!(kind, 'd' | 'f' | 'F' | 'e' | 'E' | 'g' | 'G' | '%') {
            return Err(format!(
                "format type '{kind}' is not supported (use d, f, e, g or %)"
            ));
        }
        out.kind = Some(kind);
        i += 1;
    }
    if i < chars.len() {
        return Err(format!("invalid format spec '{spec}'"));
    }
    Ok(out)
}

/// `value` formatted by `spec`, as CPython's `format(value, spec)`.
fn format_value(value: Value, spec: &Spec) -> Result<String, String> {
    let (negative, body) = match (value, spec.kind) {
        (Value::Int(v), None | Some('d')) => {
            if spec.precision.is_some() {
                return Err("precision is not allowed for the integer epoch/step (Python refuses it too); drop '.N' or add a type like 'f'".into());
            }
            (v < 0, v.unsigned_abs().to_string())
        }
        (Value::Float(_), Some('d')) => {
            return Err(
                "format type 'd' needs an integer, and metrics are floats; use e.g. '.4f'".into(),
            );
        }
        (Value::Int(v), Some(kind)) => float_body(v as f64, spec.precision, Some(kind)),
        (Value::Float(v), kind) => float_body(v, spec.precision, kind),
    };
    let sign = match (negative, spec.sign) {
        (true, _) => "-",
        (false, Some('+')) => "+",
        (false, Some(' ')) => " ",
        _ => "",
    };
    let len = sign.chars().count() + body.chars().count();
    if len >= spec.width {
        return Ok(format!("{sign}{body}"));
    }
    let pad = spec.width - len;
    // Python: a '0' before the width means fill '0' with '=' alignment (unless given).
    let fill = spec.fill.unwrap_or(if spec.zero { '0' } else { ' ' });
    let align = spec.align.unwrap_or(if spec.zero { '=' } else { '>' });
    let fills = |n: usize| std::iter::repeat_n(fill, n).collect::<String>();
    Ok(match align {
        '<' => format!("{sign}{body}{}", fills(pad)),
        '^' => format!("{}{sign}{body}{}", fills(pad / 2), fills(pad - pad / 2)),
        '=' => format!("{sign}{}{body}", fills(pad)),
        _ => format!("{}{sign}{body}", fills(pad)),
    })
}

/// `v` as Python's `format(v, 'g')` (six significant digits, trailing zeros dropped).
pub(crate) fn format_general(v: f64) -> String {
    let (negative, body) = float_body(v, None, Some('g'));
    if negative { format!("-{body}") } else { body }
}

/// The sign and the digits of float `v` formatted with `kind` and `precision`, as CPython.
fn float_body(v: f64, precision: Option<usize>, kind: Option<char>) -> (bool, String) {
    let negative = v.is_sign_negative() && !v.is_nan();
    let a = v.abs();
    let upper = matches!(kind, Some('F' | 'E' | 'G'));
    if !a.is_finite() {
        let text = if a.is_nan() { "nan" } else { "inf" };
        let text = if upper {
            text.to_uppercase()
        } else {
            text.to_string()
        };
        return (negative, if kind == Some('%') { text + "%" } else { text });
    }
    let body = match kind {
        Some('f' | 'F') => fixed(a, precision.unwrap_or(6)),
        Some('%') => format!("{}%", fixed(a * 100.0, precision.unwrap_or(6))),
        Some('e' | 'E') => scientific(a, precision.unwrap_or(6), upper),
        Some('g' | 'G') => general(a, precision.unwrap_or(6), upper, false),
        // No type: repr without a precision, otherwise 'g' that keeps a '.0' on fixed output.
        _ => match precision {
            None => repr(a),
            Some(p) => general(a, p, false, true),
        },
    };
    (negative, body)
}

/// `a` (finite, non-negative) as Python's `'.{p}e'`: the exponent has a sign and at least two
/// digits (`1.50e-04`), unlike Rust's `1.50e-4`.
fn scientific(a: f64, precision: usize, upper: bool) -> String {
    let rust = format!("{a:.precision$e}");
    let (mantissa, exp) = rust.split_once('e').expect("Rust's {:e} has an exponent");
    let exp: i32 = exp.parse().expect("Rust's exponent is an integer");
    let e = if upper { 'E' } else { 'e' };
    format!(
        "{mantissa}{e}{}{:02}",
        if exp < 0 { '-' } else { '+' },
        exp.abs()
    )
}

/// The decimal exponent of `a` after rounding to `significant` digits (0 for zero).
fn exponent_after_rounding(a: f64, significant: usize) -> i32 {
    let p = significant.saturating_sub(1);
    let rust = format!("{a:.p$e}");
    rust.split_once('e')
        .expect("exponent")
        .1
        .parse()
        .expect("integer")
}

/// Python's `'g'`: scientific when the decimal exponent `x` after rounding to `p`
/// significant digits is `< -4` or `>= p`, fixed otherwise, trailing zeros removed. With
/// `repr_style`, the no-type format with a precision (`'.3'`): the same, except that it turns
/// scientific already at `x >= p - 1` and fixed output keeps a `.0` (CPython's documented rule).
fn general(a: f64, precision: usize, upper: bool, repr_style: bool) -> String {
    let p = precision.max(1) as i32;
    let x = exponent_after_rounding(a, p as usize);
    let limit = if repr_style { p - 1 } else { p };
    let mut text = if -4 <= x && x < limit {
        let decimals = (p - 1 - x).max(0) as usize;
        strip_zeros(fixed(a, decimals))
    } else {
        let s = scientific(a, p as usize - 1, upper);
        let (mantissa, exp) = s.split_at(s.find(['e', 'E']).expect("exponent"));
        format!("{}{exp}", strip_zeros(mantissa.to_string()))
    };
    if repr_style && !text.contains(['.', 'e', 'E']) {
        text.push_str(".0");
    }
    text
}

/// `a` with `decimals` digits after the point, correctly rounded (ties to even, as CPython).
fn fixed(a: f64, decimals: usize) -> String {
    format!("{a:.decimals$}")
}

fn strip_zeros(s: String) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// Python's `repr(a)` for finite non-negative `a`: the shortest round-trip digits, fixed for
/// decimal exponents in [-4, 16), scientific otherwise; fixed output always has a '.'.
fn repr(a: f64) -> String {
    let rust = format!("{a:e}");
    let (mantissa, exp) = rust.split_once('e').expect("exponent");
    let exp: i32 = exp.parse().expect("integer");
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    if (-4..16).contains(&exp) {
        if exp >= 0 {
            let int_len = exp as usize + 1;
            if digits.len() <= int_len {
                format!("{digits}{}.0", "0".repeat(int_len - digits.len()))
            } else {
                format!("{}.{}", &digits[..int_len], &digits[int_len..])
            }
        } else {
            format!("0.{}{digits}", "0".repeat((-exp - 1) as usize))
        }
    } else {
        let rest = &digits[1..];
        let dot = if rest.is_empty() {
            String::new()
        } else {
            format!(".{rest}")
        };
        format!(
            "{}{dot}e{}{:02}",
            &digits[..1],
            if exp < 0 { '-' } else { '+' },
            exp.abs()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn logs() -> Logs {
        [
            ("val_loss".to_string(), 0.123456),
            ("loss".to_string(), 2.5),
            ("accuracy".to_string(), 0.98765),
            ("tiny".to_string(), 0.000012345),
            ("neg".to_string(), -1.5),
        ]
        .into()
    }

    /// Expected outputs are CPython 3.12's: `template.format(epoch=.., step=.., **logs)`.
    #[test]
    fn formats_like_python() {
        let cases = [
            ("epoch{epoch:03d}", "epoch007"),
            ("epoch{epoch:03}", "epoch007"),
            ("{epoch}", "7"),
            ("{epoch:d}-{step}", "7-1400"),
            ("model.{epoch:02d}-{val_loss:.2f}", "model.07-0.12"),
            ("{val_loss:.4f}", "0.1235"),
            ("{val_loss}", "0.123456"),
            ("{loss}", "2.5"),
            ("{val_loss:.2e}", "1.23e-01"),
            ("{tiny:.3E}", "1.234E-05"),
            ("{tiny:e}", "1.234500e-05"),
            ("{tiny}", "1.2345e-05"),
            ("{val_loss:g}", "0.123456"),
            ("{tiny:.3g}", "1.23e-05"),
            ("{loss:g}", "2.5"),
            ("{accuracy:.1%}", "98.8%"),
            ("{accuracy:.3}", "0.988"),
            ("{loss:.3}", "2.5"),
            ("{neg:08.2f}", "-0001.50"),
            ("{neg:+.1f}|{loss:+.1f}", "-1.5|+2.5"),
            (
                "{epoch:>4}|{epoch:<4}|{epoch:^5}|{epoch:*^5}",
                "   7|7   |  7  |**7**",
            ),
            ("{epoch:.2f}", "7.00"),
            ("{{epoch}}-{epoch}", "{epoch}-7"),
            ("last", "last"),
        ];
        for (template, expected) in cases {
            assert_eq!(
                format_filename(template, 7, 1400, &logs()),
                Ok(expected.to_string()),
                "{template}"
            );
        }
    }

    /// Python's repr and 'g' on values that exercise each branch (checked against CPython).
    #[test]
    fn float_corner_cases_match_python() {
        let cases = [
            (1.0, "", "1.0"),
            (100.0, "", "100.0"),
            (1e16, "", "1e+16"),
            (1e15, "", "1000000000000000.0"),
            (0.0001, "", "0.0001"),
            (0.00001, "", "1e-05"),
            (1.5e300, "", "1.5e+300"),
            (0.0, "", "0.0"),
            (-0.0, ".2f", "-0.00"),
            (0.125, ".2f", "0.12"),
            (0.375, ".2f", "0.38"),
            (2.5, ".0f", "2"),
            (123456.0, "g", "123456"),
            (1234567.0, "g", "1.23457e+06"),
            (100.0, ".3", "1e+02"),
            (1000.0, ".3", "1e+03"),
            (10.0, ".2", "1e+01"),
            (99.5, ".2", "1e+02"),
            (5.0, ".1", "5e+00"),
            (0.0, ".3", "0.0"),
            (0.0, "g", "0"),
            (1e-5, ".3", "1e-05"),
            (f64::NAN, ".2f", "nan"),
        ];
        for (v, spec, expected) in cases {
            let spec = parse_spec(spec).unwrap();
            assert_eq!(
                format_value(Value::Float(v), &spec).unwrap(),
                expected,
                "{v} {spec:?}"
            );
        }
        let inf = format_value(Value::Float(f64::NEG_INFINITY), &parse_spec("E").unwrap());
        assert_eq!(inf.unwrap(), "-INF");
    }

    #[test]
    fn errors_name_the_problem() {
        let err = format_filename("{epoch}-{val_acc:.2f}", 1, 1, &logs())
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "checkpoint file name template '{epoch}-{val_acc:.2f}' uses {val_acc}, which is not available; use one of: epoch, step, accuracy, loss, neg, tiny, val_loss"
        );
        for (template, part) in [
            ("{val_loss:d}", "format type 'd' needs an integer"),
            ("{epoch:.3}", "precision is not allowed"),
            ("{epoch:x}", "format type 'x' is not supported"),
            (
                "{epoch:,}",
                "grouping ',' in a format spec is not supported",
            ),
            ("{epoch:#d}", "'#' in a format spec is not supported"),
            ("{}", "positional fields {} are not supported"),
            (
                "{epoch!r}",
                "conversions, indexing and attributes are not supported",
            ),
            ("a}b", "single '}'"),
            ("a{epoch", "'{' without its '}'"),
            ("{epoch:{w}}", "nested fields are not supported"),
            ("{epoch:.}", "'.' without a precision"),
            ("{epoch:3d3}", "invalid format spec '3d3'"),
        ] {
            let err = format_filename(template, 1, 1, &logs())
                .unwrap_err()
                .to_string();
            assert!(err.contains(part), "{template}: {err}");
            assert!(!err.contains('\n'), "{err}");
        }
        for template in [
            "../../escape{epoch}",
            "a/b{epoch}",
            "a\\{epoch}",
            "{epoch:/>3}",
            "..",
        ] {
            let err = format_filename(template, 1, 1, &logs())
                .unwrap_err()
                .to_string();
            assert!(err.contains("not a file name"), "{template}: {err}");
        }
        assert!(check_template("").is_err());
        assert!(check_template("a}").is_err());
        assert!(check_template("epoch{epoch:03d}-{val_loss:.4f}").is_ok());
    }
}
