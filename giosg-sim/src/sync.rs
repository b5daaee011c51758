//! Mutex locking shared by the server state and the webhook emitter.

use std::sync::{Mutex, MutexGuard, PoisonError};

/// Locks a mutex, going on with the data if a panicking thread poisoned it: every critical
/// section leaves the data consistent before anything that could panic.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
