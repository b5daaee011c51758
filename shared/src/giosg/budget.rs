//! One time budget for every Giosg call a request makes: re-authentication, the call itself,
//! a listing to find out an unknown outcome, each with its retries, all end by the request's
//! Giosg deadline, which leaves room for the writes after them before the function's own
//! deadline. Without a budget in scope (tests, tools), each call has only its own retry budget.

use std::future::Future;
use std::time::Instant;

tokio::task_local! {
    static GIOSG_DEADLINE: Instant;
}

/// Runs `future` with every Giosg call made in it (on this task) ending by `deadline`.
pub async fn within<F: Future>(deadline: Instant, future: F) -> F::Output {
    GIOSG_DEADLINE.scope(deadline, future).await
}

/// The deadline of the request being served, if one is in scope.
pub(super) fn deadline() -> Option<Instant> {
    GIOSG_DEADLINE.try_with(|deadline| *deadline).ok()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn the_deadline_is_seen_only_inside_its_scope() {
        assert_eq!(deadline(), None);
        let at = Instant::now() + Duration::from_secs(3);
        let seen = within(at, async { deadline() }).await;
        assert_eq!(seen, Some(at));
        assert_eq!(deadline(), None);
    }
}
