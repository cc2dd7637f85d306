//! When to retry a delivery that failed, and when to stop.

use std::time::Duration;

const SECOND: u64 = 1;
const MINUTE: u64 = 60 * SECOND;
const HOUR: u64 = 60 * MINUTE;

/// Waits after the 1st, 2nd, ... failed attempt, in seconds. Svix's schedule (5 s, 5 min,
/// 30 min, 2 h, 5 h, 10 h) but faster at first: most failures are a receiver restarting or a
/// blip, over in seconds, and the events (bans, revoked sessions) matter most while fresh. The
/// later steps still spread the attempts over a day, for a receiver that is down for hours.
const SCHEDULE_SECS: [u64; 9] = [
    SECOND,
    5 * SECOND,
    30 * SECOND,
    2 * MINUTE,
    5 * MINUTE,
    30 * MINUTE,
    HOUR,
    2 * HOUR,
    4 * HOUR,
];

/// The wait after every attempt past the table: four more tries a day, few enough not to load a
/// receiver that is down for good, until [`GIVE_UP_AFTER`] ends them.
const CAP_SECS: u64 = 6 * HOUR;

/// How old an event may be after a failed attempt before the caller marks it failed instead of
/// scheduling another. With the schedule above that is about a dozen attempts.
pub const GIVE_UP_AFTER: Duration = Duration::from_secs(24 * HOUR);

/// How long to wait before the next attempt, given how many attempts have failed so far
/// (1 after the first). Zero when none has been made: the first attempt goes at once.
pub fn retry_delay(attempts_made: u32) -> Duration {
    let Some(index) = attempts_made.checked_sub(1) else {
        return Duration::ZERO;
    };
    let secs = usize::try_from(index)
        .ok()
        .and_then(|index| SCHEDULE_SECS.get(index))
        .copied()
        .unwrap_or(CAP_SECS);
    Duration::from_secs(secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_retry_comes_after_a_second_and_the_next_after_five() {
        assert_eq!(retry_delay(0), Duration::ZERO);
        assert_eq!(retry_delay(1), Duration::from_secs(1));
        assert_eq!(retry_delay(2), Duration::from_secs(5));
        assert_eq!(retry_delay(9), Duration::from_secs(4 * 3600));
    }

    #[test]
    fn delays_never_shrink_and_settle_at_six_hours() {
        let delays: Vec<Duration> = (0..=40).map(retry_delay).collect();

        assert!(delays.windows(2).all(|pair| pair[0] <= pair[1]));
        assert_eq!(retry_delay(10), Duration::from_secs(6 * 3600));
        assert_eq!(retry_delay(40), Duration::from_secs(6 * 3600));
        assert_eq!(retry_delay(u32::MAX), Duration::from_secs(6 * 3600));
    }

    #[test]
    fn a_receiver_down_for_a_day_is_tried_a_dozen_times_within_the_first_day() {
        let mut waited = Duration::ZERO;
        let mut attempts = 1;
        while waited + retry_delay(attempts) < GIVE_UP_AFTER {
            waited += retry_delay(attempts);
            attempts += 1;
        }

        assert_eq!(attempts, 12);
    }
}
