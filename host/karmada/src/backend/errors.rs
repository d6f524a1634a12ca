//! What the Karmada API server's answers mean for the applier: 409 (a conflict, another field
//! manager), 429, 5xx, timeouts and broken connections may pass, so they are retried; any other
//! 4xx (an invalid object, a forbidden request) is refused, with the API server's message.

use smo_core::ports::continuum::ContinuumError;

/// `error` from request `what` (e.g. "apply Deployment/smo/front") as a continuum error.
pub fn classify(what: &str, error: kube::Error) -> ContinuumError {
    match error {
        kube::Error::Api(status) => {
            let message = if status.message.is_empty() {
                status.reason.clone()
            } else {
                status.message.clone()
            };
            let text = format!("{what}: {} {}: {message}", status.code, status.reason);
            if retryable_code(status.code) {
                ContinuumError::Unavailable(text)
            } else {
                ContinuumError::Rejected(text)
            }
        }
        other => ContinuumError::Unavailable(format!("{what}: {other}")),
    }
}

/// Whether an HTTP status from the API server may pass on its own.
pub fn retryable_code(code: u16) -> bool {
    code == 409 || code == 429 || code >= 500 || code == 0
}

/// A request that took longer than `seconds`.
pub fn timed_out(what: &str, seconds: f64) -> ContinuumError {
    ContinuumError::Unavailable(format!(
        "{what}: no answer from the API server within {seconds} s"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::core::Status;

    fn api(code: u16, reason: &str, message: &str) -> kube::Error {
        kube::Error::Api(Status::failure(message, reason).with_code(code).boxed())
    }

    #[test]
    fn conflicts_throttling_and_server_errors_are_retried_validation_is_not() {
        for code in [409, 429, 500, 503] {
            assert!(classify("apply", api(code, "X", "m")).retryable(), "{code}");
        }
        for code in [400, 403, 404, 422] {
            assert!(
                !classify("apply", api(code, "X", "m")).retryable(),
                "{code}"
            );
        }
        let refused = classify(
            "apply Deployment/smo/front",
            api(422, "Invalid", "spec.replicas: Invalid value: -1"),
        );
        assert_eq!(
            refused.to_string(),
            "refused by the backend: apply Deployment/smo/front: 422 Invalid: spec.replicas: \
             Invalid value: -1"
        );
    }
}
