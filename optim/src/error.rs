//! The errors of the optimizer crate: a hyperparameter outside the reference's range, an unknown
//! optimizer or parameter name, a value of the wrong type.
//!
//! Each message is one line naming the parameter and what is allowed, so that an application can
//! print it as it is (the `train` command prefixes the flag).

/// An optimizer configuration that the reference implementation would refuse.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OptimizerError {
    /// A hyperparameter outside its range, e.g. "rho must be in [0, 1], got 1.5". The ranges are
    /// the reference's own `ValueError` checks; NaN fails every range.
    #[error("{parameter} must {rule}, got {value}")]
    OutOfRange {
        /// The hyperparameter's name, as serialized (`rho`, `beta1`, `etas`, ...).
        parameter: &'static str,
        /// What the reference requires, e.g. "be in [0, 1)".
        rule: &'static str,
        /// The refused value, as written in the message.
        value: String,
    },
    /// A name that is not one of [`crate::OptimizerConfig::NAMES`].
    #[error("unknown optimizer '{name}' (expected one of: {expected})")]
    UnknownOptimizer {
        /// The name given.
        name: String,
        /// The known names, comma-separated.
        expected: String,
    },
    /// A hyperparameter name the optimizer does not have.
    #[error("{parameter} is not a parameter of {optimizer} (its parameters: {parameters})")]
    UnknownParameter {
        /// The name given.
        parameter: String,
        /// The optimizer's name.
        optimizer: &'static str,
        /// The optimizer's parameters, comma-separated.
        parameters: String,
    },
    /// A value of the wrong type for a hyperparameter (serde's message).
    #[error("invalid value for {optimizer} optimizer: {reason}")]
    InvalidValue {
        /// The optimizer's name.
        optimizer: &'static str,
        /// serde's description of the mismatch.
        reason: String,
    },
    /// A name that is not one of [`crate::RpropVariant::ALL`]'s.
    #[error(
        "unknown Rprop variant '{name}' (expected irprop-minus, rprop-plus, rprop-minus or irprop-plus)"
    )]
    UnknownVariant {
        /// The name given.
        name: String,
    },
}
