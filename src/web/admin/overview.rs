//! The overview at the top of `/admin`: user, session and sign-in counts, and a chart of
//! sign-ins and failures per hour over the last 24 hours, drawn on the server as SVG (no
//! script, no library: two rectangles per hour) with a table of the same numbers for screen
//! readers.

use chrono::{Duration, NaiveDateTime};

use crate::db::models::User;
use crate::db::sign_in_stats::hour_of;

/// Hours the chart covers (the current one included).
pub const HOURS: i64 = 24;

/// Counts for the overview.
pub struct Overview {
    pub users: usize,
    pub enabled: usize,
    pub disabled: usize,
    pub admins: usize,
    /// Live browser sessions, or `None` when they could not be counted.
    pub sessions: Option<usize>,
    pub sign_ins: i64,
    pub failures: i64,
    pub chart: Chart,
}

/// One hour of the chart.
pub struct Bar {
    /// "14:00" (UTC), the hour's start.
    pub label: String,
    pub succeeded: i64,
    pub failed: i64,
    /// Left edge of the hour's pair of bars (the sign-ins bar), and of the failures bar.
    pub x: i64,
    pub failed_x: i64,
    /// Where the hour's label is centred.
    pub label_x: i64,
    pub ok_y: i64,
    pub ok_height: i64,
    pub failed_y: i64,
    pub failed_height: i64,
    /// Whether the hour's label is drawn under the axis (every sixth hour).
    pub labelled: bool,
}

/// The chart's geometry, in the SVG's own units (it scales to the page's width).
pub struct Chart {
    pub width: i64,
    pub height: i64,
    pub left: i64,
    pub baseline: i64,
    pub top: i64,
    /// Where the plot ends on the right.
    pub right: i64,
    pub bar_width: i64,
    /// The count the top of the plot stands for (at least 1).
    pub max: i64,
    pub bars: Vec<Bar>,
    /// The first hour shown and the last minute it covers ("2026-11-25 15:00 to 2026-11-26
    /// 14:59 UTC", in the page's language).
    pub from: NaiveDateTime,
    pub to: NaiveDateTime,
}

const WIDTH: i64 = 720;
const HEIGHT: i64 = 200;
const LEFT: i64 = 40;
const TOP: i64 = 12;
const BASELINE: i64 = 172;
const SLOT: i64 = 28;
const BAR: i64 = 11;

impl Chart {
    /// The chart of `rows` (`(hour, succeeded, failed)`) for the 24 hours up to `now`.
    pub fn of(rows: &[(NaiveDateTime, i64, i64)], now: NaiveDateTime) -> Self {
        let last = hour_of(now);
        let first = last - Duration::hours(HOURS - 1);
        let hours: Vec<(NaiveDateTime, i64, i64)> = (0..HOURS)
            .map(|i| {
                let hour = first + Duration::hours(i);
                let (ok, failed) = rows
                    .iter()
                    .filter(|(h, _, _)| hour_of(*h) == hour)
                    .fold((0, 0), |(o, f), (_, ro, rf)| (o + ro, f + rf));
                (hour, ok, failed)
            })
            .collect();
        let max = hours
            .iter()
            .map(|(_, o, f)| (*o).max(*f))
            .max()
            .unwrap_or(0)
            .max(1);
        let plot = BASELINE - TOP;
        let scale = |n: i64| (n * plot + max - 1) / max;
        let bars = hours
            .iter()
            .zip(0i64..)
            .map(|((hour, ok, failed), i)| {
                let (ok_height, failed_height) = (scale(*ok), scale(*failed));
                Bar {
                    label: hour.format("%H:00").to_string(),
                    succeeded: *ok,
                    failed: *failed,
                    x: LEFT + i * SLOT + 3,
                    failed_x: LEFT + i * SLOT + 3 + BAR + 1,
                    label_x: LEFT + i * SLOT + 3 + BAR,
                    ok_y: BASELINE - ok_height,
                    ok_height,
                    failed_y: BASELINE - failed_height,
                    failed_height,
                    labelled: i % 6 == 0,
                }
            })
            .collect();
        Self {
            width: WIDTH,
            height: HEIGHT,
            left: LEFT,
            baseline: BASELINE,
            top: TOP,
            right: LEFT + HOURS * SLOT,
            bar_width: BAR,
            max,
            bars,
            from: first,
            to: last + Duration::minutes(59),
        }
    }
}

impl Overview {
    pub fn of(
        users: &[User],
        sessions: Option<usize>,
        rows: &[(NaiveDateTime, i64, i64)],
        now: NaiveDateTime,
    ) -> Self {
        let chart = Chart::of(rows, now);
        Self {
            users: users.len(),
            enabled: users.iter().filter(|u| !u.disabled).count(),
            disabled: users.iter().filter(|u| u.disabled).count(),
            admins: users.iter().filter(|u| u.is_admin && !u.disabled).count(),
            sessions,
            sign_ins: chart.bars.iter().map(|b| b.succeeded).sum(),
            failures: chart.bars.iter().map(|b| b.failed).sum(),
            chart,
        }
    }

    /// The hour the chart starts, for queries.
    pub fn since(now: NaiveDateTime) -> NaiveDateTime {
        hour_of(now) - Duration::hours(HOURS - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(h: u32) -> NaiveDateTime {
        chrono::NaiveDate::from_ymd_opt(2026, 11, 26)
            .and_then(|d| d.and_hms_opt(h, 30, 0))
            .expect("valid time")
    }

    #[test]
    fn the_chart_has_one_pair_of_bars_per_hour_scaled_to_the_busiest() {
        let now = at(14);
        let rows = vec![(hour_of(at(14)), 4, 1), (hour_of(at(13)), 2, 0)];
        let chart = Chart::of(&rows, now);
        assert_eq!(chart.bars.len(), 24);
        assert_eq!(chart.max, 4);
        let last = chart.bars.last().expect("bars");
        assert_eq!(
            (last.label.as_str(), last.succeeded, last.failed),
            ("14:00", 4, 1)
        );
        assert_eq!(last.ok_height, BASELINE - TOP);
        assert_eq!(last.ok_y, TOP);
        assert!(last.failed_height > 0 && last.failed_height < last.ok_height);
        assert_eq!(chart.bars[22].succeeded, 2);
        assert!(
            chart.bars[..22]
                .iter()
                .all(|b| b.ok_height == 0 && b.failed_height == 0)
        );
    }

    #[test]
    fn hours_outside_the_day_are_left_out() {
        let chart = Chart::of(&[(hour_of(at(14)) - Duration::hours(24), 9, 9)], at(14));
        assert!(chart.bars.iter().all(|b| b.succeeded == 0 && b.failed == 0));
        assert_eq!(chart.max, 1);
    }
}
