//! How failed SDK calls become [`StoreError`]s: by operation and error code only, since the
//! SDK's messages may quote key or attribute values.

use aws_sdk_dynamodb::error::{BuildError, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;

use crate::store::{StoreError, StoreResult};

pub(super) fn built<T>(result: Result<T, BuildError>) -> StoreResult<T> {
    result.map_err(|_| StoreError::Unavailable("a DynamoDB request could not be built".into()))
}

/// A write conditioned on the version (or the position) read lost to a concurrent writer: the
/// caller reads again. Counted in the `StoreConflicts` metric.
pub(super) fn lost_to_a_concurrent_writer(operation: &'static str) {
    crate::metrics::store_conflict();
    tracing::debug!(
        operation,
        "a conditional write lost to a concurrent writer; reading again"
    );
}

pub(super) fn is_condition_failure<E: ProvideErrorMetadata, R>(error: &SdkError<E, R>) -> bool {
    error.code() == Some("ConditionalCheckFailedException")
}

/// Describes a failed call by operation and error code only: messages may quote key or
/// attribute values.
pub(super) fn unavailable<E: ProvideErrorMetadata, R>(
    operation: &'static str,
    error: &SdkError<E, R>,
) -> StoreError {
    let cause = match error {
        SdkError::ServiceError(service) => service.err().code().unwrap_or("unknown error"),
        SdkError::TimeoutError(_) => "timed out",
        SdkError::DispatchFailure(_) => "could not reach DynamoDB",
        SdkError::ResponseError(_) => "unreadable response",
        SdkError::ConstructionFailure(_) => "request could not be built",
        _ => "unknown error",
    };
    tracing::warn!(operation, cause, "DynamoDB call failed");
    StoreError::Unavailable(format!("DynamoDB {operation}: {cause}"))
}

/// Why DynamoDB cancelled a transaction, item by item (`ConditionalCheckFailed`,
/// `TransactionConflict`, `None`, ...); any other failure is [`unavailable`].
pub(super) fn cancellation_reasons<R>(
    error: &SdkError<TransactWriteItemsError, R>,
) -> StoreResult<Vec<&str>> {
    match error.as_service_error() {
        Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) => Ok(cancelled
            .cancellation_reasons()
            .iter()
            .map(|reason| reason.code().unwrap_or("None"))
            .collect()),
        _ => Err(unavailable("TransactWriteItems", error)),
    }
}
