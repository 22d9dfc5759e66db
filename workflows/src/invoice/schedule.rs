//! When reminders go out and when an invoice turns overdue, as instants in UTC computed from
//! calendar dates in the customer's time zone. Pure functions of their inputs, so the workflow
//! can call them during replay.

use chrono::{DateTime, Days, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// Reminders go out at this local time.
pub const REMINDER_LOCAL_TIME: NaiveTime = match NaiveTime::from_hms_opt(9, 0, 0) {
    Some(t) => t,
    None => panic!("09:00 is a valid time"),
};

/// Default reminder offsets in days relative to the due date: 3 days before, on the day,
/// then 3, 7 and 14 days after.
pub const DEFAULT_REMINDER_OFFSETS: [i32; 5] = [-3, 0, 3, 7, 14];

/// One planned reminder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReminderSlot {
    /// Days relative to the due date.
    pub offset_days: i32,
    pub at: DateTime<Utc>,
}

/// The instant of `time` on `date` in `tz`. A local time that does not exist (skipped by a DST
/// change) moves forward by the gap; an ambiguous one (repeated) takes the first occurrence.
pub fn local_instant(date: NaiveDate, time: NaiveTime, tz: Tz) -> DateTime<Utc> {
    let naive = date.and_time(time);
    match tz.from_local_datetime(&naive) {
        chrono::LocalResult::Single(t) => t.with_timezone(&Utc),
        chrono::LocalResult::Ambiguous(first, _) => first.with_timezone(&Utc),
        chrono::LocalResult::None => {
            // Inside a spring-forward gap: the same wall-clock reading an hour later exists.
            let later = naive + chrono::Duration::hours(1);
            tz.from_local_datetime(&later)
                .earliest()
                .map_or_else(|| Utc.from_utc_datetime(&naive), |t| t.with_timezone(&Utc))
        }
    }
}

/// Every reminder of an invoice due on `due_date`, at 09:00 local time, sorted by time.
/// Duplicate offsets are dropped.
pub fn reminder_slots(due_date: NaiveDate, offsets: &[i32], tz: Tz) -> Vec<ReminderSlot> {
    let mut offsets: Vec<i32> = offsets.to_vec();
    offsets.sort_unstable();
    offsets.dedup();
    offsets
        .into_iter()
        .filter_map(|offset_days| {
            let date = if offset_days >= 0 {
                due_date.checked_add_days(Days::new(offset_days as u64))
            } else {
                due_date.checked_sub_days(Days::new(offset_days.unsigned_abs() as u64))
            }?;
            Some(ReminderSlot { offset_days, at: local_instant(date, REMINDER_LOCAL_TIME, tz) })
        })
        .collect()
}

/// An invoice is overdue once its due date has ended in the customer's time zone.
pub fn overdue_at(due_date: NaiveDate, tz: Tz) -> DateTime<Utc> {
    let next_day = due_date.succ_opt().unwrap_or(due_date);
    local_instant(next_day, NaiveTime::MIN, tz)
}

/// The calendar date at `instant` in `tz` (e.g. the issue date of an invoice finalized then).
pub fn local_date(instant: DateTime<Utc>, tz: Tz) -> NaiveDate {
    instant.with_timezone(&tz).date_naive()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn reminders_are_at_nine_local_across_a_dst_change() {
        // Berlin leaves summer time on 2026-10-25: 09:00 is 07:00Z before and 08:00Z after.
        let tz: Tz = "Europe/Berlin".parse().unwrap();
        let slots = reminder_slots(date(2026, 10, 24), &DEFAULT_REMINDER_OFFSETS, tz);
        let at: Vec<_> = slots.iter().map(|s| (s.offset_days, s.at)).collect();
        assert_eq!(
            at,
            vec![
                (-3, utc("2026-10-21T07:00:00Z")),
                (0, utc("2026-10-24T07:00:00Z")),
                (3, utc("2026-10-27T08:00:00Z")),
                (7, utc("2026-10-31T08:00:00Z")),
                (14, utc("2026-11-07T08:00:00Z")),
            ]
        );
    }

    #[test]
    fn new_york_spring_forward() {
        let tz: Tz = "America/New_York".parse().unwrap();
        // DST starts 2027-03-14: 09:00 EST is 14:00Z, 09:00 EDT is 13:00Z.
        let slots = reminder_slots(date(2027, 3, 14), &[-1, 0], tz);
        assert_eq!(slots[0].at, utc("2027-03-13T14:00:00Z"));
        assert_eq!(slots[1].at, utc("2027-03-14T13:00:00Z"));
    }

    #[test]
    fn offsets_are_sorted_and_deduplicated() {
        let slots = reminder_slots(date(2026, 12, 31), &[7, -3, 7, 0], chrono_tz::UTC);
        assert_eq!(slots.iter().map(|s| s.offset_days).collect::<Vec<_>>(), [-3, 0, 7]);
    }

    #[test]
    fn overdue_starts_when_the_due_date_ends_locally() {
        let tz: Tz = "Asia/Tokyo".parse().unwrap();
        assert_eq!(overdue_at(date(2026, 12, 31), tz), utc("2026-12-31T15:00:00Z"));
        assert_eq!(overdue_at(date(2026, 12, 31), chrono_tz::UTC), utc("2027-01-01T00:00:00Z"));
    }

    #[test]
    fn a_nonexistent_local_time_moves_forward() {
        // Samoa skipped 2011-12-30 entirely: 09:00 that day does not exist.
        let tz: Tz = "Pacific/Apia".parse().unwrap();
        let t = local_instant(date(2011, 12, 30), REMINDER_LOCAL_TIME, tz);
        assert!(t > utc("2011-12-29T00:00:00Z"));
    }

    #[test]
    fn local_dates() {
        let tz: Tz = "America/Los_Angeles".parse().unwrap();
        assert_eq!(local_date(utc("2026-11-26T05:00:00Z"), tz), date(2026, 11, 25));
    }
}
