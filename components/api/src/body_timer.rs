//! When an upload body has waited too long. Slow and abandoned uploads must not pin an api
//! instance (the host runs a bounded number of them): a body that sends nothing for the idle
//! timeout, or is not complete by the deadline (a slow drip that keeps the idle timer happy),
//! is answered 408 and its instance freed. Pure arithmetic, so it tests natively; `http.rs`
//! feeds it the monotonic clock.

/// What the reader should do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wait {
    /// Wait at most this many nanoseconds for the next bytes.
    Upto(u64),
    /// Give up: the reason, for the 408's message.
    TimedOut(String),
}

/// `since_start` and `since_last_byte` in nanoseconds; the limits in milliseconds.
pub fn next_wait(since_start: u64, since_last_byte: u64, idle_ms: u64, deadline_ms: u64) -> Wait {
    let (idle, deadline) = (idle_ms.saturating_mul(1_000_000), deadline_ms.saturating_mul(1_000_000));
    if since_start >= deadline {
        return Wait::TimedOut(format!("the request body was not complete within {deadline_ms} ms"));
    }
    if since_last_byte >= idle {
        return Wait::TimedOut(format!("the request body sent nothing for {idle_ms} ms"));
    }
    Wait::Upto((idle - since_last_byte).min(deadline - since_start))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    #[test]
    fn waits_for_whichever_limit_comes_first() {
        assert_eq!(next_wait(0, 0, 10_000, 60_000), Wait::Upto(10_000 * MS));
        assert_eq!(next_wait(55_000 * MS, 1_000 * MS, 10_000, 60_000), Wait::Upto(5_000 * MS));
        assert_eq!(next_wait(20_000 * MS, 4_000 * MS, 10_000, 60_000), Wait::Upto(6_000 * MS));
    }

    #[test]
    fn silence_past_the_idle_timeout_gives_up() {
        let Wait::TimedOut(reason) = next_wait(10_000 * MS, 10_000 * MS, 10_000, 60_000) else { panic!("should time out") };
        assert!(reason.contains("nothing for 10000 ms"), "{reason}");
    }

    #[test]
    fn a_drip_that_keeps_the_idle_timer_happy_meets_the_deadline() {
        let Wait::TimedOut(reason) = next_wait(60_000 * MS, 500 * MS, 10_000, 60_000) else { panic!("should time out") };
        assert!(reason.contains("within 60000 ms"), "{reason}");
    }

    #[test]
    fn huge_limits_do_not_overflow() {
        assert_eq!(next_wait(0, 0, u64::MAX, u64::MAX), Wait::Upto(u64::MAX));
    }
}
