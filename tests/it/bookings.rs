//! Bookings: availability (hours, breaks, time off, closures, notice, window, buffers,
//! resources, DST), no double-booking under concurrency, the lifecycle, and who sees what.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::{Org, Res, TestApp};

/// An organisation set up to take bookings: one service and its staff, all working the
/// given hours.
pub struct Studio {
    pub org: Org,
    pub tz: Tz,
    pub service: String,
    pub staff: Vec<String>,
}

impl TestApp {
    pub async fn studio(&self, tz: &str, hours: Value, service: Value, staff: usize) -> Studio {
        let org = self.create_org("Studio").await;
        let res = self.patch(&org.key, "/v1/organisation", json!({"timezone": tz})).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);
        let mut ids = Vec::new();
        for i in 0..staff {
            let res = self.post(&org.key, "/v1/staff", json!({"name": format!("Stylist {i}")})).await;
            assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
            let id = res.body["id"].as_str().unwrap().to_string();
            let set = self
                .call(
                    Some(&org.key),
                    Method::PUT,
                    &format!("/v1/staff/{id}/working-hours"),
                    Some(json!({"hours": hours})),
                )
                .await;
            assert_eq!(set.status, StatusCode::OK, "{}", set.body);
            ids.push(id);
        }
        let mut body = json!({"name": "Cut", "durationMinutes": 60, "price": {"amount": 4500}, "staffIds": ids});
        for (k, v) in service.as_object().unwrap() {
            body[k] = v.clone();
        }
        let res = self.post(&org.key, "/v1/services", body).await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
        Studio { org, tz: tz.parse().unwrap(), service: res.body["id"].as_str().unwrap().to_string(), staff: ids }
    }

    pub async fn slots(&self, key: &str, service: &str, from: DateTime<Utc>, to: DateTime<Utc>, extra: &str) -> Res {
        let path = format!(
            "/v1/services/{service}/slots?from={}&to={}{extra}",
            urlencode(&from.to_rfc3339()),
            urlencode(&to.to_rfc3339())
        );
        self.get(key, &path).await
    }

    pub async fn book(&self, key: &str, service: &str, start: DateTime<Utc>, extra: Value) -> Res {
        let mut body = json!({"serviceId": service, "start": start.to_rfc3339(), "customer": {"name": "Amy", "email": "amy@example.com"}});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        self.post(key, "/v1/bookings", body).await
    }
}

fn urlencode(s: &str) -> String {
    s.replace('+', "%2B").replace(':', "%3A")
}

/// Every day of the week, these wall-clock ranges.
pub(crate) fn every_day(ranges: &[(&str, &str)]) -> Value {
    Value::Array(
        (1..=7).flat_map(|d| ranges.iter().map(move |(s, e)| json!({"weekday": d, "start": s, "end": e}))).collect(),
    )
}

/// Today, by the clock the server's database uses (the tests run beside it, so they share it;
/// `every_weekday` below moves that clock for both). Tests choose dates by their distance from
/// today, never by weekday, so that no cut-off, notice or window is crossed on some days only.
fn today() -> NaiveDate {
    Utc::now().date_naive()
}

/// The date `days` after today.
pub(crate) fn in_days(days: i64) -> NaiveDate {
    today() + Duration::days(days)
}

/// The first date on `weekday` from 3 to 9 days ahead: for tests whose staff work some
/// weekdays only (every such date is well inside the 90-day booking window and past any notice).
fn next(weekday: Weekday) -> NaiveDate {
    (3..10).map(in_days).find(|d| d.weekday() == weekday).unwrap()
}

/// The n-th Sunday of a month.
fn nth_sunday(year: i32, month: u32, n: u32) -> NaiveDate {
    NaiveDate::from_weekday_of_month_opt(year, month, Weekday::Sun, n as u8).unwrap()
}

pub(crate) fn last_sunday(year: i32, month: u32) -> NaiveDate {
    let first_of_next = NaiveDate::from_ymd_opt(year, month + 1, 1).unwrap();
    let mut d = first_of_next - Duration::days(1);
    while d.weekday() != Weekday::Sun {
        d -= Duration::days(1);
    }
    d
}

/// The first such date at least 15 days ahead (this year's or next year's), so the tests do
/// not depend on the day they run.
fn upcoming(date_in: impl Fn(i32) -> NaiveDate) -> NaiveDate {
    let soon = in_days(15);
    (soon.year()..).map(&date_in).find(|d| *d >= soon).unwrap()
}

pub(crate) fn at(tz: Tz, day: NaiveDate, hh: u32, mm: u32) -> DateTime<Utc> {
    tz.from_local_datetime(&day.and_time(NaiveTime::from_hms_opt(hh, mm, 0).unwrap()))
        .earliest()
        .unwrap()
        .with_timezone(&Utc)
}

fn starts(res: &Res) -> Vec<DateTime<Utc>> {
    res.body["slots"]
        .as_array()
        .unwrap_or_else(|| panic!("no slots: {}", res.body))
        .iter()
        .map(|s| s["start"].as_str().unwrap().parse().unwrap())
        .collect()
}

fn local_times(tz: Tz, res: &Res) -> Vec<String> {
    starts(res).iter().map(|t| t.with_timezone(&tz).format("%H:%M").to_string()).collect()
}

#[tokio::test]
async fn slots_follow_hours_and_breaks_and_bookings_take_them() {
    let app = TestApp::spawn().await;
    let s = app.studio("Europe/London", every_day(&[("09:00", "12:00"), ("13:00", "17:00")]), json!({}), 1).await;
    let day = in_days(3);
    let (from, to) = (at(s.tz, day, 0, 0), at(s.tz, day, 23, 59));
    let slots = app.slots(&s.org.key, &s.service, from, to, "").await;
    assert_eq!(slots.status, StatusCode::OK, "{}", slots.body);
    assert_eq!(local_times(s.tz, &slots), ["09:00", "10:00", "11:00", "13:00", "14:00", "15:00", "16:00"]);
    assert_eq!(slots.body["timezone"], "Europe/London");
    assert_eq!(slots.body["slots"][0]["staff"][0]["id"], s.staff[0].as_str());

    let booked = app.book(&s.org.key, &s.service, at(s.tz, day, 10, 0), json!({})).await;
    assert_eq!(booked.status, StatusCode::CREATED, "{}", booked.body);
    assert_eq!(booked.body["status"], "confirmed");
    assert_eq!(booked.body["price"], json!({"amount": 4500, "currency": "USD"}));
    // Back to back is fine: the ranges touch, they do not overlap.
    let next_one = app.book(&s.org.key, &s.service, at(s.tz, day, 11, 0), json!({})).await;
    assert_eq!(next_one.status, StatusCode::CREATED, "{}", next_one.body);
    assert_eq!(next_one.body["customerId"], booked.body["customerId"], "the customer was found by email");
    let after = app.slots(&s.org.key, &s.service, from, to, "").await;
    assert_eq!(local_times(s.tz, &after), ["09:00", "13:00", "14:00", "15:00", "16:00"]);

    let clash = app.book(&s.org.key, &s.service, at(s.tz, day, 10, 0), json!({})).await;
    assert_eq!((clash.status, clash.code()), (StatusCode::CONFLICT, "slot_taken"), "{}", clash.body);
    let nearby = clash.body["nearbySlots"].as_array().unwrap();
    assert!(!nearby.is_empty() && nearby.len() <= 5, "{}", clash.body);
    assert_eq!(nearby[0]["start"].as_str().unwrap().parse::<DateTime<Utc>>().unwrap(), at(s.tz, day, 9, 0));
    let off_grid = app.book(&s.org.key, &s.service, at(s.tz, day, 9, 30), json!({})).await;
    assert_eq!((off_grid.status, off_grid.field_code()), (StatusCode::UNPROCESSABLE_ENTITY, "not_on_slot_grid"));
    // A business refusal is its own code at the top (validation_failed is for schema errors),
    // and like slot_taken it offers the nearest open slots.
    assert_eq!((off_grid.code(), off_grid.field()), ("not_on_slot_grid", "start"));
    let nearby = off_grid.body["nearbySlots"].as_array().unwrap();
    assert_eq!(nearby[0]["start"].as_str().unwrap().parse::<DateTime<Utc>>().unwrap(), at(s.tz, day, 9, 0));
    let in_break = app.book(&s.org.key, &s.service, at(s.tz, day, 12, 0), json!({})).await;
    assert_eq!(in_break.field_code(), "not_on_slot_grid", "12:00 + 60 min runs past the break: {}", in_break.body);
}

#[tokio::test]
async fn buffers_keep_time_free_around_bookings() {
    let app = TestApp::spawn().await;
    let s = app
        .studio(
            "Europe/London",
            every_day(&[("09:00", "17:00")]),
            json!({"slotIntervalMinutes": 30, "bufferAfterMinutes": 15, "bufferBeforeMinutes": 15}),
            1,
        )
        .await;
    let day = in_days(3);
    assert_eq!(app.book(&s.org.key, &s.service, at(s.tz, day, 11, 0), json!({})).await.status, StatusCode::CREATED);
    let slots = app.slots(&s.org.key, &s.service, at(s.tz, day, 9, 0), at(s.tz, day, 14, 0), "").await;
    // 11:00–12:00 holds 10:45–12:15; a new booking needs 15 minutes before and after too.
    assert_eq!(local_times(s.tz, &slots), ["09:00", "09:30", "12:30", "13:00", "13:30"]);
    let tight = app.book(&s.org.key, &s.service, at(s.tz, day, 12, 0), json!({})).await;
    assert_eq!((tight.status, tight.code()), (StatusCode::CONFLICT, "slot_taken"));
}

#[tokio::test]
async fn fifty_concurrent_bookings_of_one_slot_give_exactly_one() {
    let app = TestApp::spawn().await;
    let s = app.studio("Europe/London", every_day(&[("09:00", "17:00")]), json!({}), 1).await;
    let start = at(s.tz, in_days(3), 10, 0);
    let calls = (0..50).map(|i| {
        let customer = json!({"customer": {"name": format!("C{i}"), "email": format!("c{i}@example.com")}});
        app.book(&s.org.key, &s.service, start, customer)
    });
    let results = futures_util::future::join_all(calls).await;
    let won = results.iter().filter(|r| r.status == StatusCode::CREATED).count();
    let lost = results.iter().filter(|r| r.status == StatusCode::CONFLICT && r.code() == "slot_taken").count();
    assert_eq!((won, lost), (1, 49), "{:?}", results.iter().map(|r| r.status).collect::<Vec<_>>());
    let admin = app.admin().await;
    let active: i64 = admin.query_one("select count(*) from app.bookings where active", &[]).await.unwrap().get(0);
    assert_eq!(active, 1);
}

#[tokio::test]
async fn any_staff_spreads_concurrent_bookings_over_free_staff() {
    let app = TestApp::spawn().await;
    let s = app.studio("Europe/London", every_day(&[("09:00", "17:00")]), json!({}), 3).await;
    let start = at(s.tz, in_days(3), 15, 0);
    let calls = (0..10).map(|i| {
        let body =
            json!({"staffId": "any", "customer": {"name": format!("C{i}"), "phone": format!("+44 7700 90{i:04}")}});
        app.book(&s.org.key, &s.service, start, body)
    });
    let results = futures_util::future::join_all(calls).await;
    let won: Vec<&Res> = results.iter().filter(|r| r.status == StatusCode::CREATED).collect();
    assert_eq!(won.len(), 3, "one per staff member");
    let mut staff: Vec<&str> = won.iter().map(|r| r.body["staffId"].as_str().unwrap()).collect();
    staff.sort();
    staff.dedup();
    assert_eq!(staff.len(), 3);
}

/// "Any" staff books the least busy that day (bookings starting within 12 hours either side),
/// then by name; a booking on another day does not count.
#[tokio::test]
async fn any_staff_books_whoever_is_least_busy_that_day_then_by_name() {
    let app = TestApp::spawn().await;
    let s = app.studio("Europe/London", every_day(&[("09:00", "17:00")]), json!({}), 3).await;
    let (day, next_day) = (in_days(3), in_days(4));
    let book = |start: DateTime<Utc>, staff: Value, i: u32| {
        let body =
            json!({"staffId": staff, "customer": {"name": format!("C{i}"), "email": format!("c{i}@example.com")}});
        app.book(&s.org.key, &s.service, start, body)
    };
    // Stylist 0 has two bookings that day and Stylist 1 one; Stylist 2 has three the next day
    // (from 9:00, more than 12 hours after the last start asked for below).
    for (i, (staff, hour, on)) in
        [(0, 9, day), (0, 10, day), (1, 9, day), (2, 9, next_day), (2, 10, next_day), (2, 11, next_day)]
            .into_iter()
            .enumerate()
    {
        let res = book(at(s.tz, on, hour, 0), json!(s.staff[staff]), i as u32).await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    }
    let chosen = |res: &Res| {
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
        s.staff.iter().position(|id| res.body["staffId"] == json!(id)).unwrap()
    };
    assert_eq!(chosen(&book(at(s.tz, day, 14, 0), json!("any"), 10).await), 2, "free that day");
    // Stylists 1 and 2 have one each now: the first by name.
    assert_eq!(chosen(&book(at(s.tz, day, 15, 0), json!("any"), 11).await), 1, "a tie goes by name");
    assert_eq!(chosen(&book(at(s.tz, day, 16, 0), json!("any"), 12).await), 2, "one booking against two");
}

#[tokio::test]
async fn dst_changes_keep_wall_clock_slots_without_gaps_filled_or_hours_doubled() {
    let app = TestApp::spawn().await;
    let hours = json!([{"weekday": 7, "start": "00:00", "end": "05:00"}]);
    let s = app
        .studio("America/New_York", hours.clone(), json!({"slotIntervalMinutes": 30, "maxAdvanceDays": 730}), 1)
        .await;
    // Spring forward (second Sunday of March): 02:00–03:00 does not exist.
    let day = upcoming(|y| nth_sunday(y, 3, 2));
    let from = at(s.tz, day, 0, 0);
    let res = app.slots(&s.org.key, &s.service, from, from + Duration::hours(24), "").await;
    assert_eq!(local_times(s.tz, &res), ["00:00", "00:30", "01:00", "01:30", "03:00", "03:30", "04:00"]);
    // Fall back (first Sunday of November): 01:00–02:00 happens twice; each wall-clock start once.
    let day = upcoming(|y| nth_sunday(y, 11, 1));
    let from = at(s.tz, day, 0, 0);
    let res = app.slots(&s.org.key, &s.service, from, from + Duration::hours(26), "").await;
    let times = local_times(s.tz, &res);
    assert_eq!(times, ["00:00", "00:30", "01:00", "01:30", "02:00", "02:30", "03:00", "03:30", "04:00"]);
    let mut absolute = starts(&res);
    absolute.dedup();
    assert_eq!(absolute.len(), times.len());
    // Booking follows the slots: of the two instants that read 01:00, the one not offered (an
    // hour before or after the one that is) cannot be booked.
    let offered = absolute[times.iter().position(|t| t == "01:00").unwrap()];
    let other =
        if at(s.tz, day, 1, 0) == offered { offered + Duration::hours(1) } else { offered - Duration::hours(1) };
    assert_eq!(other.with_timezone(&s.tz).format("%H:%M").to_string(), "01:00");
    let refused = app.book(&s.org.key, &s.service, other, json!({})).await;
    assert_eq!(refused.code(), "slot_taken", "{}", refused.body);
    let booked = app.book(&s.org.key, &s.service, offered, json!({})).await;
    assert_eq!(booked.status, StatusCode::CREATED, "{}", booked.body);

    let london = app.studio("Europe/London", hours, json!({"slotIntervalMinutes": 30, "maxAdvanceDays": 730}), 1).await;
    let day = upcoming(|y| last_sunday(y, 3));
    let from = at(london.tz, day, 0, 0);
    let res = app.slots(&london.org.key, &london.service, from, from + Duration::hours(24), "").await;
    assert_eq!(local_times(london.tz, &res), ["00:00", "00:30", "02:00", "02:30", "03:00", "03:30", "04:00"]);
    // Before the change London is on UTC: the first slot is 00:00 UTC.
    let first = at(london.tz, day, 0, 0);
    let summer = app.slots(&london.org.key, &london.service, first, first + Duration::minutes(30), "").await;
    assert_eq!(starts(&summer)[0], Utc.from_utc_datetime(&day.and_hms_opt(0, 0, 0).unwrap()));
}

#[tokio::test]
async fn notice_window_time_off_closures_and_resources_remove_the_right_slots() {
    let app = TestApp::spawn().await;
    let s = app
        .studio(
            "Europe/London",
            every_day(&[("00:00", "24:00")]),
            json!({"minNoticeMinutes": 1440, "maxAdvanceDays": 7, "resourceTypes": ["room"]}),
            2,
        )
        .await;
    let now = Utc::now();
    // No room yet: nothing can be booked.
    let none = app.slots(&s.org.key, &s.service, now, now + Duration::days(9), "").await;
    assert_eq!(none.body["slots"], json!([]));
    let room = app.post(&s.org.key, "/v1/resources", json!({"name": "Room 1", "type": "room"})).await;
    assert_eq!(room.status, StatusCode::CREATED, "{}", room.body);
    let room = room.body["id"].as_str().unwrap().to_string();
    let all = app.slots(&s.org.key, &s.service, now, now + Duration::days(9), "").await;
    let times = starts(&all);
    assert!(times[0] >= now + Duration::hours(24), "minimum notice: {}", times[0]);
    assert!(*times.last().unwrap() <= now + Duration::days(7), "booking window: {}", times.last().unwrap());
    assert_eq!(all.body["slots"][0]["resourceIds"], json!([room]));
    assert_eq!(all.body["slots"][0]["staff"].as_array().unwrap().len(), 2);

    // One room: a booking with one stylist leaves the other without a room at that time.
    let day = (now + Duration::days(3)).with_timezone(&s.tz).date_naive();
    let ten = at(s.tz, day, 10, 0);
    let booked = app.book(&s.org.key, &s.service, ten, json!({"staffId": s.staff[0]})).await;
    assert_eq!(booked.body["resourceIds"], json!([room]), "{}", booked.body);
    let listed = app.get(&s.org.key, "/v1/bookings").await;
    let item = listed.body["items"].as_array().unwrap().iter().find(|b| b["id"] == booked.body["id"]);
    assert_eq!(item, Some(&booked.body), "a listed booking names its resources as the booking did");
    let at_ten = app.slots(&s.org.key, &s.service, ten, ten + Duration::minutes(1), "").await;
    assert_eq!(at_ten.body["slots"], json!([]), "no room left at 10:00");
    let other = app.book(&s.org.key, &s.service, ten, json!({"staffId": s.staff[1]})).await;
    assert_eq!(other.code(), "slot_taken");
    app.post(&s.org.key, "/v1/resources", json!({"name": "Room 2", "type": "room"})).await;
    let at_ten = app.slots(&s.org.key, &s.service, ten, ten + Duration::minutes(1), "").await;
    assert_eq!(at_ten.body["slots"][0]["staff"].as_array().unwrap().len(), 1, "the other stylist, in room 2");

    // Time off removes one stylist's slots; a closure removes the whole day.
    let next_day = day + Duration::days(1);
    let off = app
        .post(
            &s.org.key,
            &format!("/v1/staff/{}/time-off", s.staff[1]),
            json!({"start": at(s.tz, next_day, 12, 0).to_rfc3339(), "end": at(s.tz, next_day, 14, 0).to_rfc3339()}),
        )
        .await;
    assert_eq!(off.status, StatusCode::CREATED, "{}", off.body);
    let noon = app.slots(&s.org.key, &s.service, at(s.tz, next_day, 12, 0), at(s.tz, next_day, 14, 0), "").await;
    for slot in noon.body["slots"].as_array().unwrap() {
        assert_eq!(slot["staff"], json!([{"id": s.staff[0], "name": "Stylist 0"}]), "{slot}");
    }
    let closed = app
        .post(&s.org.key, "/v1/closures", json!({"startsOn": next_day.to_string(), "endsOn": next_day.to_string()}))
        .await;
    assert_eq!(closed.status, StatusCode::CREATED, "{}", closed.body);
    let that_day = app.slots(&s.org.key, &s.service, at(s.tz, next_day, 0, 0), at(s.tz, next_day, 23, 0), "").await;
    assert_eq!(that_day.body["slots"], json!([]));
    // Nor can that day be booked, by anyone, though a stylist and a room are free at 16:00.
    for staff in [json!("any"), json!(s.staff[0])] {
        let closed = app.book(&s.org.key, &s.service, at(s.tz, next_day, 16, 0), json!({"staffId": staff})).await;
        assert_eq!(closed.code(), "slot_taken", "{}", closed.body);
    }
}

#[tokio::test]
async fn bad_ranges_and_starts_get_clear_codes() {
    let app = TestApp::spawn().await;
    let s = app.studio("Europe/London", every_day(&[("09:00", "17:00")]), json!({}), 1).await;
    let now = Utc::now();
    let backwards = app.slots(&s.org.key, &s.service, now + Duration::days(2), now, "").await;
    assert_eq!(backwards.field_code(), "range_end_before_start");
    let long = app.slots(&s.org.key, &s.service, now, now + Duration::days(32), "").await;
    assert_eq!(long.field_code(), "range_too_long");
    let past = app.book(&s.org.key, &s.service, now - Duration::hours(1), json!({})).await;
    assert_eq!(past.field_code(), "in_the_past", "{}", past.body);
    let notice = app.patch(&s.org.key, &format!("/v1/services/{}", s.service), json!({"minNoticeMinutes": 4320})).await;
    assert_eq!(notice.status, StatusCode::OK, "{}", notice.body);
    let soon = app.book(&s.org.key, &s.service, now + Duration::hours(2), json!({})).await;
    assert_eq!(soon.field_code(), "too_soon", "{}", soon.body);
    let far = app.book(&s.org.key, &s.service, now + Duration::days(200), json!({})).await;
    assert_eq!(far.field_code(), "too_far_ahead");
    let no_customer = app
        .post(
            &s.org.key,
            "/v1/bookings",
            json!({"serviceId": s.service, "start": (now + Duration::days(3)).to_rfc3339()}),
        )
        .await;
    assert_eq!(no_customer.field(), "customer");
    let hours = app
        .call(
            Some(&s.org.key),
            Method::PUT,
            &format!("/v1/staff/{}/working-hours", s.staff[0]),
            Some(json!({"hours": [{"weekday": 1, "start": "17:00", "end": "09:00"}]})),
        )
        .await;
    assert_eq!((hours.field(), hours.field_code()), ("hours[0].end", "end_before_start"));
    let bad_time = app
        .call(
            Some(&s.org.key),
            Method::PUT,
            &format!("/v1/staff/{}/working-hours", s.staff[0]),
            Some(json!({"hours": [{"weekday": 8, "start": "9am", "end": "17:00"}]})),
        )
        .await;
    assert_eq!(bad_time.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.count("app.bookings", None).await, 0);
}

#[tokio::test]
async fn lifecycle_confirm_cancel_late_fee_no_show_and_atomic_reschedule() {
    let app = TestApp::spawn().await;
    let s = app
        .studio(
            "Europe/London",
            every_day(&[("00:00", "24:00")]),
            json!({"requiresConfirmation": true, "cancellationPolicy": {"freeCancelHours": 48, "lateCancelFeeAmount": 1000, "noShowFeeAmount": 2500}, "slotIntervalMinutes": 60}),
            1,
        )
        .await;
    let key = &s.org.key;
    let soon = (Utc::now() + Duration::hours(30)).with_timezone(&s.tz).date_naive();
    let early = at(s.tz, soon, 10, 0);
    let b = app.book(key, &s.service, early, json!({})).await;
    assert_eq!(b.body["status"], "pending", "{}", b.body);
    let id = b.body["id"].as_str().unwrap().to_string();
    let confirmed = app.post(key, &format!("/v1/bookings/{id}/confirm"), json!({})).await;
    assert_eq!(confirmed.body["status"], "confirmed");
    // An agent key is asked to confirm a cancellation; a late one carries the fee.
    let asked = app.post(key, &format!("/v1/bookings/{id}/cancel"), json!({"reason": "ill"})).await;
    assert_eq!(asked.status, StatusCode::PRECONDITION_REQUIRED);
    assert_eq!(asked.body["preview"]["target"]["id"], id.as_str());
    // The preview says what will happen, not only which booking.
    let effect = &asked.body["preview"]["effect"];
    assert_eq!(effect["status"], "cancelled", "{}", asked.body);
    assert_eq!(effect["lateCancel"], true);
    assert_eq!(effect["fee"], json!({"amount": 1000, "currency": "USD"}));
    assert_eq!((effect["timeFreed"].clone(), effect["customerNotified"].clone()), (json!(true), json!(false)));
    let cancelled =
        app.confirmed(key, Method::POST, &format!("/v1/bookings/{id}/cancel"), Some(json!({"reason": "ill"}))).await;
    assert_eq!(cancelled.body["status"], "cancelled", "{}", cancelled.body);
    assert_eq!(cancelled.body["lateCancel"], true);
    assert_eq!(cancelled.body["fee"], json!({"amount": 1000, "currency": "USD"}));
    assert_eq!(cancelled.body["cancelReason"], "ill");
    assert_eq!(cancelled.body["cancelledByUserId"], s.org.owner_id.to_string());

    let later = at(s.tz, soon + Duration::days(5), 10, 0);
    let b2 = app.book(key, &s.service, later, json!({})).await;
    let id2 = b2.body["id"].as_str().unwrap().to_string();
    let free = app.confirmed(key, Method::POST, &format!("/v1/bookings/{id2}/cancel"), Some(json!({}))).await;
    assert_eq!((free.body["lateCancel"].clone(), free.body["fee"]["amount"].clone()), (json!(false), json!(0)));

    // No-show only after the start.
    let b3 = app.book(key, &s.service, later, json!({})).await;
    let id3 = b3.body["id"].as_str().unwrap().to_string();
    app.post(key, &format!("/v1/bookings/{id3}/confirm"), json!({})).await;
    let early_no_show = app.confirmed(key, Method::POST, &format!("/v1/bookings/{id3}/no-show"), Some(json!({}))).await;
    assert_eq!((early_no_show.status, early_no_show.code()), (StatusCode::CONFLICT, "not_started"));
    // Time passes (written past the audit trigger, as no request would write it).
    app.admin()
        .await
        .batch_execute(&format!(
            "set session_replication_role = replica;
             update app.bookings set starts_at = starts_at - interval '30 days', ends_at = ends_at - interval '30 days',
                    blocked = tstzrange(lower(blocked) - interval '30 days', upper(blocked) - interval '30 days')
              where id = '{id3}'"
        ))
        .await
        .unwrap();
    let no_show = app.confirmed(key, Method::POST, &format!("/v1/bookings/{id3}/no-show"), Some(json!({}))).await;
    assert_eq!(no_show.body["status"], "no_show", "{}", no_show.body);
    assert_eq!(no_show.body["fee"]["amount"], 2500);

    // Rescheduling onto a taken time changes nothing; onto a free one moves it atomically.
    let x = app.book(key, &s.service, later + Duration::hours(2), json!({})).await;
    let y = app.book(key, &s.service, later + Duration::hours(3), json!({"customer": {"name": "Ben"}})).await;
    assert_eq!(y.status, StatusCode::CREATED, "{}", y.body);
    let xid = x.body["id"].as_str().unwrap().to_string();
    let onto_y = app
        .post(
            key,
            &format!("/v1/bookings/{xid}/reschedule"),
            json!({"start": (later + Duration::hours(3)).to_rfc3339()}),
        )
        .await;
    assert_eq!((onto_y.status, onto_y.code()), (StatusCode::CONFLICT, "slot_taken"), "{}", onto_y.body);
    let unchanged = app.get(key, &format!("/v1/bookings/{xid}")).await;
    assert_eq!(unchanged.body["status"], "pending");
    assert_eq!(unchanged.body["startsAt"], x.body["startsAt"]);
    // Moving by one hour overlaps its own old time: allowed, since the old is freed with it.
    let moved = app
        .post(
            key,
            &format!("/v1/bookings/{xid}/reschedule"),
            json!({"start": (later + Duration::hours(1)).to_rfc3339()}),
        )
        .await;
    assert_eq!(moved.status, StatusCode::CREATED, "{}", moved.body);
    assert_eq!(moved.body["rescheduledFromId"], xid.as_str());
    let old = app.get(key, &format!("/v1/bookings/{xid}")).await;
    assert_eq!(old.body["status"], "cancelled");
    // Answers name the service, staff member and customer, so a list needs no further calls.
    assert_eq!(old.body["service"], json!({"id": s.service, "name": "Cut"}));
    assert_eq!(old.body["staff"], json!({"id": s.staff[0], "name": "Stylist 0"}));
    assert_eq!(old.body["customer"]["name"], "Amy");
    let active = app.get(key, "/v1/bookings?active=true").await;
    let statuses: Vec<&str> =
        active.body["items"].as_array().unwrap().iter().map(|b| b["status"].as_str().unwrap()).collect();
    assert!(
        !statuses.is_empty() && statuses.iter().all(|s| ["pending", "confirmed", "checked_in"].contains(s)),
        "{statuses:?}"
    );
    let two = app.get(key, "/v1/bookings?status=cancelled,no_show").await;
    let statuses: Vec<&str> =
        two.body["items"].as_array().unwrap().iter().map(|b| b["status"].as_str().unwrap()).collect();
    assert_eq!(statuses.len(), 4, "three cancelled (one a reschedule's old half) and a no-show: {statuses:?}");
    assert!(statuses.iter().all(|s| ["cancelled", "no_show"].contains(s)), "{statuses:?}");
    let one = app.get(key, "/v1/bookings?status=no_show").await;
    assert_eq!(one.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(old.body["rescheduledToId"], moved.body["id"]);
    // A list writes each booking exactly as get_booking does (it builds the page in one statement
    // of its own): cancelled, rescheduled both ways, no-show and pending ones here.
    let all = app.get(key, "/v1/bookings?limit=100").await;
    for item in all.body["items"].as_array().unwrap() {
        let one = app.get(key, &format!("/v1/bookings/{}", item["id"].as_str().unwrap())).await;
        assert_eq!(item, &one.body);
    }

    let stats = app
        .get(
            key,
            &format!(
                "/v1/booking-stats?from={}&to={}",
                urlencode(&(Utc::now() - Duration::days(40)).to_rfc3339()),
                urlencode(&(Utc::now() + Duration::days(40)).to_rfc3339())
            ),
        )
        .await;
    // Two cancellations and one reschedule (whose old half is not a cancellation).
    assert_eq!(stats.body["byStatus"]["cancelled"], 2, "{}", stats.body);
    assert_eq!(stats.body["rescheduled"], 1, "{}", stats.body);
    assert_eq!(stats.body["countedBy"], "startsAt");
    assert_eq!(stats.body["byStatus"]["noShow"], 1);
    assert_eq!(stats.body["byStatus"]["pending"], 2);
    let events = app.get(key, &format!("/v1/audit-events?rowId={id}")).await;
    assert!(events.body["items"].as_array().unwrap().len() >= 3, "every transition is audited: {}", events.body);
}

#[tokio::test]
async fn staff_see_and_change_only_their_own_bookings() {
    let app = TestApp::spawn().await;
    let s = app.studio("Europe/London", every_day(&[("09:00", "17:00")]), json!({}), 2).await;
    let (user, staff_key) = app.add_member(&s.org, "staff", None).await;
    let linked = app.patch(&s.org.key, &format!("/v1/staff/{}", s.staff[0]), json!({"userId": user.to_string()})).await;
    assert_eq!(linked.status, StatusCode::OK, "{}", linked.body);
    let day = in_days(3);
    let mine = app.book(&s.org.key, &s.service, at(s.tz, day, 10, 0), json!({"staffId": s.staff[0]})).await;
    let theirs = app.book(&s.org.key, &s.service, at(s.tz, day, 10, 0), json!({"staffId": s.staff[1]})).await;
    assert_eq!(theirs.status, StatusCode::CREATED, "{}", theirs.body);
    let listed = app.get(&staff_key, "/v1/bookings").await;
    let ids: Vec<&str> = listed.body["items"].as_array().unwrap().iter().map(|b| b["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [mine.body["id"].as_str().unwrap()]);
    let theirs_id = theirs.body["id"].as_str().unwrap();
    assert_eq!(app.get(&staff_key, &format!("/v1/bookings/{theirs_id}")).await.status, StatusCode::NOT_FOUND);
    let cancel =
        app.confirmed(&staff_key, Method::POST, &format!("/v1/bookings/{theirs_id}/cancel"), Some(json!({}))).await;
    assert_eq!(cancel.status, StatusCode::NOT_FOUND);
    assert_eq!(app.get(&s.org.key, &format!("/v1/bookings/{theirs_id}")).await.body["status"], "confirmed");
    // Staff book only themselves, but availability still counts colleagues' bookings.
    let for_colleague = app.book(&staff_key, &s.service, at(s.tz, day, 11, 0), json!({"staffId": s.staff[1]})).await;
    assert_eq!((for_colleague.status, for_colleague.code()), (StatusCode::FORBIDDEN, "forbidden"));
    let own = app.book(&staff_key, &s.service, at(s.tz, day, 11, 0), json!({})).await;
    assert_eq!(own.body["staffId"], s.staff[0].as_str(), "{}", own.body);
    let slots = app.slots(&staff_key, &s.service, at(s.tz, day, 10, 0), at(s.tz, day, 10, 30), "").await;
    assert_eq!(slots.body["slots"], json!([]), "both stylists are busy at 10:00: {}", slots.body);
    // Staff cannot set up services or hours.
    let service = app.post(&staff_key, "/v1/services", json!({"name": "Mine", "durationMinutes": 30})).await;
    assert_eq!(service.status, StatusCode::FORBIDDEN);
}

/// Records of every bookings operation, for the catalog-wide tests (MCP samples, isolation).
pub struct BookingFixture {
    pub service: String,
    pub archivable: String,
    pub staff: String,
    pub user: String,
    pub resource: String,
    pub time_off: String,
    pub from: String,
    pub to: String,
    pub off_from: String,
    pub off_to: String,
    pub free_start: String,
    pub reschedule_start: String,
    pub to_cancel: String,
    pub to_check_in: String,
    pub to_complete: String,
    pub to_confirm: String,
    pub to_decline: String,
    pub to_no_show: String,
    pub to_reschedule: String,
    pub class_service: String,
    pub full_session: String,
    pub session_to_cancel: String,
    pub class_start: String,
    pub waitlist_entry: String,
    /// A seat in the full session (cancelling it promotes the waiting customer).
    pub seat: String,
    pub publishable_key: String,
}

pub async fn booking_fixture(app: &TestApp, org: &Org) -> BookingFixture {
    let tz: Tz = "Europe/London".parse().unwrap();
    let key = &org.key;
    let id = |res: &Res| {
        assert!(res.status.is_success(), "{}", res.body);
        res.body["id"].as_str().unwrap().to_string()
    };
    let staff = id(&app.post(key, "/v1/staff", json!({"name": "Fixture stylist"})).await);
    let set = app
        .call(
            Some(key),
            Method::PUT,
            &format!("/v1/staff/{staff}/working-hours"),
            Some(json!({"hours": every_day(&[("00:00", "24:00")])})),
        )
        .await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.body);
    // The service needing confirmation also needs a room, so that bookings hold resources too.
    let service = |name: &str, confirm: bool| {
        let rooms: &[&str] = if confirm { &["room"] } else { &[] };
        json!({"name": name, "durationMinutes": 60, "staffIds": [staff], "requiresConfirmation": confirm, "resourceTypes": rooms})
    };
    let plain = id(&app.post(key, "/v1/services", service("Cut", false)).await);
    let archivable = id(&app.post(key, "/v1/services", service("Old cut", false)).await);
    let confirmed_later = id(&app.post(key, "/v1/services", service("Colour", true)).await);
    let resource = id(&app.post(key, "/v1/resources", json!({"name": "Room 1", "type": "room"})).await);
    let day = (Utc::now() + Duration::days(3)).with_timezone(&tz).date_naive();
    let time_off = id(&app
        .post(
            key,
            &format!("/v1/staff/{staff}/time-off"),
            json!({"start": at(tz, day + Duration::days(20), 9, 0).to_rfc3339(), "end": at(tz, day + Duration::days(20), 12, 0).to_rfc3339()}),
        )
        .await);
    let mut booked = Vec::new();
    for (hour, service) in [
        (8, &plain),
        (9, &plain),
        (10, &plain),
        (11, &confirmed_later),
        (12, &confirmed_later),
        (13, &plain),
        (14, &plain),
    ] {
        booked.push(id(&app.book(key, service, at(tz, day, hour, 0), json!({})).await));
    }
    // Two of them have started (written past the audit trigger, as no request would).
    app.admin()
        .await
        .batch_execute(&format!(
            "set session_replication_role = replica;
             update app.bookings set starts_at = starts_at - interval '10 days', ends_at = ends_at - interval '10 days',
                    blocked = tstzrange(lower(blocked) - interval '10 days', upper(blocked) - interval '10 days')
              where id in ('{}', '{}')",
            booked[2], booked[5]
        ))
        .await
        .unwrap();
    // A class of two seats: one session full with a waiting list, one to cancel.
    let class = id(&app
        .post(key, "/v1/services", json!({"name": "Yoga", "durationMinutes": 60, "capacity": 2, "staffIds": [staff]}))
        .await);
    let schedule =
        |hour: u32| json!({"serviceId": class, "staffId": staff, "start": at(tz, day, hour, 0).to_rfc3339()});
    let full = app.post(key, "/v1/class-sessions", schedule(18)).await;
    assert_eq!(full.status, StatusCode::CREATED, "{}", full.body);
    let full_session = full.body["items"][0]["id"].as_str().unwrap().to_string();
    let other = app.post(key, "/v1/class-sessions", schedule(20)).await;
    let session_to_cancel = other.body["items"][0]["id"].as_str().unwrap().to_string();
    let mut seats = Vec::new();
    for name in ["Yan", "Zoe"] {
        seats.push(id(&app.book(key, &class, at(tz, day, 18, 0), json!({"customer": {"name": name}})).await));
    }
    let waiting = app
        .post(key, &format!("/v1/class-sessions/{full_session}/waitlist"), json!({"customer": {"name": "Wendy"}}))
        .await;
    let waitlist_entry = id(&waiting);
    let exception = app
        .call(
            Some(key),
            Method::PUT,
            &format!("/v1/staff/{staff}/hours-exceptions/2030-06-02"),
            Some(json!({"hours": [], "reason": "holiday"})),
        )
        .await;
    assert_eq!(exception.status, StatusCode::OK, "{}", exception.body);
    let publishable_key = id(&app
        .post(key, "/v1/publishable-keys", json!({"name": "Booking page", "allowedOrigins": ["https://glow.example"]}))
        .await);
    BookingFixture {
        publishable_key,
        class_service: class.clone(),
        full_session,
        session_to_cancel,
        class_start: at(tz, day + Duration::days(1), 19, 0).to_rfc3339(),
        waitlist_entry,
        seat: seats[0].clone(),
        service: plain,
        archivable,
        staff,
        user: org.owner_id.to_string(),
        resource,
        time_off,
        from: at(tz, day, 0, 0).to_rfc3339(),
        to: at(tz, day + Duration::days(1), 0, 0).to_rfc3339(),
        off_from: at(tz, day + Duration::days(21), 9, 0).to_rfc3339(),
        off_to: at(tz, day + Duration::days(21), 17, 0).to_rfc3339(),
        free_start: at(tz, day, 16, 0).to_rfc3339(),
        reschedule_start: at(tz, day, 17, 0).to_rfc3339(),
        to_cancel: booked[0].clone(),
        to_check_in: booked[1].clone(),
        to_complete: booked[2].clone(),
        to_confirm: booked[3].clone(),
        to_decline: booked[4].clone(),
        to_no_show: booked[5].clone(),
        to_reschedule: booked[6].clone(),
    }
}

/// A valid input for each bookings operation, naming the fixture's records.
pub fn booking_sample(op: &str, f: &BookingFixture) -> Option<Value> {
    Some(match op {
        "list_services" | "list_staff" | "list_resources" | "list_closures" | "list_bookings" => json!({}),
        "get_service" => json!({"serviceId": f.service}),
        "create_service" => json!({"name": "Blow-dry", "durationMinutes": 30, "staffIds": [f.staff]}),
        "update_service" => {
            json!({"serviceId": f.service, "description": "Wash, cut and style", "staffIds": [f.staff]})
        }
        "archive_service" => json!({"serviceId": f.archivable}),
        "create_staff" => json!({"name": "Second stylist", "userId": f.user}),
        "update_staff" => json!({"staffId": f.staff, "name": "Fixture stylist (senior)"}),
        "create_resource" => json!({"name": "Chair", "type": "chair"}),
        "update_resource" => json!({"resourceId": f.resource, "capacity": 2}),
        "get_working_hours" => json!({"staffId": f.staff}),
        "set_working_hours" => json!({"staffId": f.staff, "hours": every_day(&[("00:00", "24:00")])}),
        "add_time_off" => json!({"staffId": f.staff, "start": f.off_from, "end": f.off_to, "reason": "training"}),
        "remove_time_off" => json!({"timeOffId": f.time_off}),
        "set_hours_exception" => {
            json!({"staffId": f.staff, "date": "2030-06-01", "hours": [{"start": "10:00", "end": "14:00"}], "reason": "fair"})
        }
        "remove_hours_exception" => json!({"staffId": f.staff, "date": "2030-06-02"}),
        "add_closure" => json!({"startsOn": "2030-12-25", "endsOn": "2030-12-26", "reason": "Christmas"}),
        "get_available_slots" => json!({"serviceId": f.service, "from": f.from, "to": f.to}),
        "create_booking" => {
            json!({"serviceId": f.service, "start": f.free_start, "customer": {"name": "Cleo", "email": "cleo@example.com"}})
        }
        "get_booking" => json!({"bookingId": f.to_cancel}),
        "confirm_booking" => json!({"bookingId": f.to_confirm}),
        "decline_booking" => json!({"bookingId": f.to_decline, "reason": "fully booked"}),
        "cancel_booking" => json!({"bookingId": f.to_cancel, "reason": "ill"}),
        "reschedule_booking" => json!({"bookingId": f.to_reschedule, "start": f.reschedule_start}),
        "check_in_booking" => json!({"bookingId": f.to_check_in}),
        "complete_booking" => json!({"bookingId": f.to_complete}),
        "mark_no_show" => json!({"bookingId": f.to_no_show}),
        "get_booking_stats" => json!({"from": f.from, "to": f.to}),
        "schedule_class_session" => {
            json!({"serviceId": f.class_service, "staffId": f.staff, "start": f.class_start, "repeatWeeks": 2})
        }
        "list_class_sessions" => json!({"serviceId": f.class_service}),
        "cancel_class_session" => json!({"classSessionId": f.session_to_cancel, "reason": "teacher ill"}),
        "join_waitlist" => {
            json!({"classSessionId": f.full_session, "customer": {"name": "Cleo", "email": "cleo@example.com"}})
        }
        "leave_waitlist" => json!({"waitlistEntryId": f.waitlist_entry}),
        "list_waitlist" => json!({"classSessionId": f.full_session}),
        "create_publishable_key" => json!({"name": "Second page", "allowedOrigins": ["https://www.glow.example"]}),
        "list_publishable_keys" => json!({}),
        "revoke_publishable_key" => json!({"publishableKeyId": f.publishable_key}),
        _ => return None,
    })
}

#[tokio::test]
async fn a_class_of_eight_takes_exactly_eight_of_twenty_concurrent_bookings() {
    let app = TestApp::spawn().await;
    let s = app.studio("Europe/London", every_day(&[("06:00", "22:00")]), json!({"capacity": 8}), 1).await;
    let start = at(s.tz, in_days(3), 18, 0);
    let scheduled = app
        .post(
            &s.org.key,
            "/v1/class-sessions",
            json!({"serviceId": s.service, "staffId": s.staff[0], "start": start.to_rfc3339()}),
        )
        .await;
    assert_eq!(scheduled.status, StatusCode::CREATED, "{}", scheduled.body);
    assert_eq!(scheduled.body["items"][0]["seatsRemaining"], 8);
    let slots = app.slots(&s.org.key, &s.service, start - Duration::hours(1), start + Duration::hours(1), "").await;
    assert_eq!(slots.body["slots"][0]["seatsRemaining"], 8, "{}", slots.body);
    let calls = (0..20).map(|i| {
        app.book(
            &s.org.key,
            &s.service,
            start,
            json!({"customer": {"name": format!("C{i}"), "email": format!("c{i}@example.com")}}),
        )
    });
    let results = futures_util::future::join_all(calls).await;
    let won = results.iter().filter(|r| r.status == StatusCode::CREATED).count();
    let full = results.iter().filter(|r| r.code() == "class_full").count();
    assert_eq!((won, full), (8, 12));
    let sessions = app.get(&s.org.key, "/v1/class-sessions").await;
    assert_eq!(sessions.body["items"][0]["seatsBooked"], 8);
    assert_eq!(sessions.body["items"][0]["seatsRemaining"], 0);
    let slots = app.slots(&s.org.key, &s.service, start - Duration::hours(1), start + Duration::hours(1), "").await;
    assert_eq!(slots.body["slots"], json!([]), "a full class offers no slot");
}

#[tokio::test]
async fn a_cancelled_seat_goes_to_the_waiting_list_in_order_until_the_cut_off() {
    let app = TestApp::spawn().await;
    let s = app.studio("Europe/London", every_day(&[("06:00", "22:00")]), json!({"capacity": 2}), 1).await;
    let key = &s.org.key;
    // Three days ahead at 18:00 London is 2 to 4 days away, whatever the day and hour: inside
    // the default one-hour cut-off's reach, and inside the 7-day cut-off set below.
    let start = at(s.tz, in_days(3), 18, 0);
    let until_start = start - Utc::now();
    assert!(until_start > Duration::hours(2) && until_start < Duration::days(7) - Duration::hours(1));
    let session = app
        .post(
            key,
            "/v1/class-sessions",
            json!({"serviceId": s.service, "staffId": s.staff[0], "start": start.to_rfc3339()}),
        )
        .await;
    let session = session.body["items"][0]["id"].as_str().unwrap().to_string();
    let mut seats = Vec::new();
    for name in ["Ann", "Bob"] {
        let b = app.book(key, &s.service, start, json!({"customer": {"name": name}})).await;
        seats.push(b.body["id"].as_str().unwrap().to_string());
    }
    let early =
        app.post(key, &format!("/v1/class-sessions/{session}/waitlist"), json!({"customer": {"name": "Cat"}})).await;
    let second =
        app.post(key, &format!("/v1/class-sessions/{session}/waitlist"), json!({"customer": {"name": "Dan"}})).await;
    assert_eq!(
        (early.body["position"].clone(), second.body["position"].clone()),
        (json!(1), json!(2)),
        "{}",
        second.body
    );
    let again = app
        .post(key, &format!("/v1/class-sessions/{session}/waitlist"), json!({"customerId": early.body["customerId"]}))
        .await;
    assert_eq!((again.status, again.code()), (StatusCode::CONFLICT, "already_waiting"));

    let cancelled =
        app.confirmed(key, Method::POST, &format!("/v1/bookings/{}/cancel", seats[0]), Some(json!({}))).await;
    assert_eq!(cancelled.body["status"], "cancelled", "{}", cancelled.body);
    let list = app.get(key, &format!("/v1/class-sessions/{session}/waitlist?includeAll=true")).await;
    let items = list.body["items"].as_array().unwrap();
    assert_eq!(items[0]["status"], "promoted", "{}", list.body);
    assert_eq!(items[1]["status"], "waiting");
    assert_eq!(items[1]["position"], 1);
    let promoted = app.get(key, &format!("/v1/bookings/{}", items[0]["bookingId"].as_str().unwrap())).await;
    assert_eq!(promoted.body["customerId"], early.body["customerId"]);
    assert_eq!(promoted.body["status"], "confirmed");
    let events: i64 = app
        .admin()
        .await
        .query_one("select count(*) from app.booking_events where kind = 'waitlist_promoted'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(events, 1, "the promotion is recorded for messaging");
    let sessions = app.get(key, "/v1/class-sessions").await;
    assert_eq!(sessions.body["items"][0]["seatsBooked"], 2);
    assert_eq!(sessions.body["items"][0]["waiting"], 1);

    // Past the cut-off (now 7 days before the start, so the start is inside it) a freed seat
    // stays free.
    let cutoff = app.patch(key, &format!("/v1/services/{}", s.service), json!({"waitlistCutoffMinutes": 10080})).await;
    assert_eq!(cutoff.status, StatusCode::OK, "{}", cutoff.body);
    app.confirmed(key, Method::POST, &format!("/v1/bookings/{}/cancel", seats[1]), Some(json!({}))).await;
    let list = app.get(key, &format!("/v1/class-sessions/{session}/waitlist")).await;
    assert_eq!(list.body["items"].as_array().unwrap().len(), 1, "Dan still waits: {}", list.body);
    let sessions = app.get(key, "/v1/class-sessions").await;
    assert_eq!(sessions.body["items"][0]["seatsRemaining"], 1);
    // With a free seat, joining the list is refused: book instead.
    let join =
        app.post(key, &format!("/v1/class-sessions/{session}/waitlist"), json!({"customer": {"name": "Eve"}})).await;
    assert_eq!(join.code(), "seats_available");

    // Cancelling the session cancels its seats and closes the list.
    let gone = app.confirmed(key, Method::POST, &format!("/v1/class-sessions/{session}/cancel"), Some(json!({}))).await;
    assert_eq!(gone.body["status"], "cancelled", "{}", gone.body);
    let seat = app.get(key, &format!("/v1/bookings/{}", items[0]["bookingId"].as_str().unwrap())).await;
    assert_eq!(seat.body["status"], "cancelled");
    let list = app.get(key, &format!("/v1/class-sessions/{session}/waitlist")).await;
    assert_eq!(list.body["items"], json!([]));
}

#[tokio::test]
async fn weekly_classes_keep_their_wall_clock_time_and_never_overlap_appointments() {
    let app = TestApp::spawn().await;
    let s = app
        .studio("Europe/London", every_day(&[("06:00", "22:00")]), json!({"capacity": 10, "maxAdvanceDays": 730}), 1)
        .await;
    let key = &s.org.key;
    // Three Mondays across London's change to summer time (last Sunday of March).
    let first = at(s.tz, upcoming(|y| last_sunday(y, 3)) - Duration::days(13), 18, 0);
    let series = app
        .post(
            key,
            "/v1/class-sessions",
            json!({"serviceId": s.service, "staffId": s.staff[0], "start": first.to_rfc3339(), "repeatWeeks": 3}),
        )
        .await;
    assert_eq!(series.status, StatusCode::CREATED, "{}", series.body);
    let locals: Vec<String> = series.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            i["start"]
                .as_str()
                .unwrap()
                .parse::<DateTime<Utc>>()
                .unwrap()
                .with_timezone(&s.tz)
                .format("%a %H:%M")
                .to_string()
        })
        .collect();
    assert_eq!(locals, ["Mon 18:00", "Mon 18:00", "Mon 18:00"]);
    assert!(series.body["seriesId"].is_string());
    let again = app
        .post(
            key,
            "/v1/class-sessions",
            json!({"serviceId": s.service, "staffId": s.staff[0], "start": first.to_rfc3339()}),
        )
        .await;
    assert_eq!((again.status, again.code()), (StatusCode::CONFLICT, "slot_taken"));

    // The teacher's appointments and classes keep out of each other's way.
    let cut =
        app.post(key, "/v1/services", json!({"name": "Cut", "durationMinutes": 60, "staffIds": [s.staff[0]]})).await;
    let cut = cut.body["id"].as_str().unwrap().to_string();
    let day = in_days(3);
    app.post(
        key,
        "/v1/class-sessions",
        json!({"serviceId": s.service, "staffId": s.staff[0], "start": at(s.tz, day, 10, 0).to_rfc3339()}),
    )
    .await;
    let slots = app.slots(key, &cut, at(s.tz, day, 9, 0), at(s.tz, day, 12, 0), "").await;
    assert_eq!(local_times(s.tz, &slots), ["09:00", "11:00"]);
    assert_eq!(app.book(key, &cut, at(s.tz, day, 10, 0), json!({})).await.code(), "slot_taken");
    assert_eq!(app.book(key, &cut, at(s.tz, day, 14, 0), json!({})).await.status, StatusCode::CREATED);
    let over = app
        .post(
            key,
            "/v1/class-sessions",
            json!({"serviceId": s.service, "staffId": s.staff[0], "start": at(s.tz, day, 14, 0).to_rfc3339()}),
        )
        .await;
    assert_eq!((over.status, over.code()), (StatusCode::CONFLICT, "slot_taken"), "{}", over.body);
    let appointment = app
        .post(
            key,
            "/v1/class-sessions",
            json!({"serviceId": cut, "staffId": s.staff[0], "start": at(s.tz, day, 16, 0).to_rfc3339()}),
        )
        .await;
    assert_eq!(appointment.field_code(), "not_a_class");
}

#[tokio::test]
async fn a_web_page_with_a_publishable_key_can_list_find_and_book_and_nothing_else() {
    let app = TestApp::spawn().await;
    let s = app.studio("Europe/London", every_day(&[("09:00", "17:00")]), json!({}), 1).await;
    let created = app
        .post(&s.org.key, "/v1/publishable-keys", json!({"name": "Site", "allowedOrigins": ["https://glow.example/"]}))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(created.body["allowedOrigins"], json!(["https://glow.example"]));
    let pk = created.body["publishableKey"].as_str().unwrap().to_string();
    assert!(pk.starts_with("fav_pk_"));
    let origin = [("Origin", "https://glow.example")];
    let page = |method: Method, path: String, body: Option<Value>| {
        let app = &app;
        let pk = pk.clone();
        async move { app.call_with(Some(&pk), method, &path, body, &origin).await }
    };

    // The browser's preflight, then the calls.
    let preflight = app
        .http
        .request(Method::OPTIONS, format!("{}/v1/bookings", app.base))
        .header("Origin", "https://glow.example")
        .header("Access-Control-Request-Method", "POST")
        .header("Access-Control-Request-Headers", "authorization, content-type")
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), StatusCode::NO_CONTENT);
    assert_eq!(preflight.headers()["access-control-allow-origin"], "https://glow.example");
    assert!(preflight.headers()["access-control-allow-headers"].to_str().unwrap().contains("authorization"));

    let services = page(Method::GET, "/v1/services".into(), None).await;
    assert_eq!(services.status, StatusCode::OK, "{}", services.body);
    assert_eq!(services.headers["access-control-allow-origin"], "https://glow.example");
    assert_eq!(services.body["items"][0]["id"], s.service.as_str());
    let day = in_days(3);
    let from = at(s.tz, day, 0, 0).to_rfc3339();
    let to = at(s.tz, day, 23, 0).to_rfc3339();
    let slots = page(
        Method::GET,
        format!("/v1/services/{}/slots?from={}&to={}", s.service, urlencode(&from), urlencode(&to)),
        None,
    )
    .await;
    assert_eq!(slots.status, StatusCode::OK, "{}", slots.body);
    let start = slots.body["slots"][0]["start"].as_str().unwrap().to_string();
    let booked = page(
        Method::POST,
        "/v1/bookings".into(),
        Some(json!({"serviceId": s.service, "start": start, "customer": {"name": "Web Visitor", "email": "web@example.com"}})),
    )
    .await;
    assert_eq!(booked.status, StatusCode::CREATED, "{}", booked.body);
    assert_eq!(booked.headers["access-control-allow-origin"], "https://glow.example");
    let customer_id = app.get(&s.org.key, &format!("/v1/bookings/{}", booked.body["id"].as_str().unwrap())).await.body
        ["customerId"]
        .clone();
    // The answer does not depend on whether the customer was known: no customerId, whose
    // UUIDv7 would tell when an existing customer was created.
    let known = app.customer(&s.org, json!({"name": "Regular", "email": "regular@example.com"})).await;
    let mut shapes = Vec::new();
    for (hour, email) in [(1, "regular@example.com"), (2, "stranger@example.com")] {
        let start = (start.parse::<DateTime<Utc>>().unwrap() + Duration::hours(hour)).to_rfc3339();
        let res = page(
            Method::POST,
            "/v1/bookings".into(),
            Some(json!({"serviceId": s.service, "start": start, "customer": {"name": "Someone", "email": email}})),
        )
        .await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
        assert!(!res.body.to_string().contains(&known.to_string()), "the known customer's id: {}", res.body);
        assert!(res.body.get("customerId").is_none(), "{}", res.body);
        let mut keys: Vec<String> = res.body.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        shapes.push(keys);
    }
    assert_eq!(shapes[0], shapes[1]);
    let events = app.get(&s.org.key, "/v1/audit-events?tableName=bookings").await;
    assert_eq!(events.body["items"][0]["via"], "rest");

    // Nothing else: not another customer by id, not reading bookings or customers, not other origins.
    let by_id = page(
        Method::POST,
        "/v1/bookings".into(),
        Some(json!({"serviceId": s.service, "start": start, "customerId": customer_id})),
    )
    .await;
    assert_eq!(by_id.field_code(), "not_allowed_for_publishable_key");
    for (method, path) in [
        (Method::GET, format!("/v1/bookings/{}", booked.body["id"].as_str().unwrap())),
        (Method::GET, "/v1/customers".to_string()),
        (Method::GET, "/v1/bookings".to_string()),
    ] {
        let res = page(method, path.clone(), None).await;
        assert_eq!((res.status, res.code()), (StatusCode::FORBIDDEN, "not_allowed_for_publishable_key"), "{path}");
    }
    let service = page(Method::POST, "/v1/services".into(), Some(json!({"name": "Free", "durationMinutes": 30}))).await;
    assert_eq!(service.status, StatusCode::FORBIDDEN);
    let elsewhere =
        app.call_with(Some(&pk), Method::GET, "/v1/services", None, &[("Origin", "https://evil.example")]).await;
    assert_eq!((elsewhere.status, elsewhere.code()), (StatusCode::FORBIDDEN, "origin_not_allowed"));
    let (status, _) = app.rpc(Some(&pk), "/mcp", "tools/list", json!({}), &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "publishable keys are not MCP keys");

    // Revoked: the next call is refused.
    let id = created.body["id"].as_str().unwrap();
    let revoked = app.delete_confirmed(&s.org.key, &format!("/v1/publishable-keys/{id}")).await;
    assert_eq!(revoked.body["status"], "revoked", "{}", revoked.body);
    let after = page(Method::GET, "/v1/services".into(), None).await;
    assert_eq!(after.status, StatusCode::UNAUTHORIZED);
    let bad = app
        .post(&s.org.key, "/v1/publishable-keys", json!({"name": "x", "allowedOrigins": ["glow.example/path"]}))
        .await;
    assert_eq!(bad.field_code(), "invalid_origin");
}

#[tokio::test]
async fn one_off_hours_replace_a_dates_weekly_hours() {
    let app = TestApp::spawn().await;
    let weekdays: Value = (1..=5).map(|d| json!({"weekday": d, "start": "09:00", "end": "17:00"})).collect();
    let s = app.studio("Europe/London", weekdays, json!({}), 1).await;
    let key = &s.org.key;
    let saturday = next(Weekday::Sat);
    let monday = next(Weekday::Mon);
    let day_slots = |day: NaiveDate| {
        let app = &app;
        let service = s.service.clone();
        let tz = s.tz;
        async move { local_times(tz, &app.slots(key, &service, at(tz, day, 0, 0), at(tz, day, 23, 0), "").await) }
    };
    assert!(day_slots(saturday).await.is_empty());
    let path = |day: NaiveDate| format!("/v1/staff/{}/hours-exceptions/{day}", s.staff[0]);
    let extra = app
        .call(
            Some(key),
            Method::PUT,
            &path(saturday),
            Some(json!({"hours": [{"start": "10:00", "end": "13:00"}], "reason": "fair"})),
        )
        .await;
    assert_eq!(extra.status, StatusCode::OK, "{}", extra.body);
    assert_eq!(extra.body["hours"], json!([{"start": "10:00", "end": "13:00"}]));
    assert_eq!(day_slots(saturday).await, ["10:00", "11:00", "12:00"]);
    let booked = app.book(key, &s.service, at(s.tz, saturday, 11, 0), json!({})).await;
    assert_eq!(booked.status, StatusCode::CREATED, "the grid of the day's own hours: {}", booked.body);
    // A day off on a working day, then back to the weekly hours.
    let off = app.call(Some(key), Method::PUT, &path(monday), Some(json!({"hours": []}))).await;
    assert_eq!(off.body["hours"], json!([]));
    assert!(day_slots(monday).await.is_empty());
    let hours = app.get(key, &format!("/v1/staff/{}/working-hours", s.staff[0])).await;
    assert_eq!(hours.body["exceptions"].as_array().unwrap().len(), 2, "{}", hours.body);
    let removed = app.call(Some(key), Method::DELETE, &path(monday), None).await;
    assert_eq!(removed.status, StatusCode::OK, "{}", removed.body);
    assert_eq!(day_slots(monday).await.len(), 8);
    let bad = app
        .call(Some(key), Method::PUT, &path(monday), Some(json!({"hours": [{"start": "13:00", "end": "10:00"}]})))
        .await;
    assert_eq!((bad.field(), bad.field_code()), ("hours[0].end", "end_before_start"));
    let overlapping = app
        .call(
            Some(key),
            Method::PUT,
            &path(monday),
            Some(json!({"hours": [{"start": "09:00", "end": "12:00"}, {"start": "11:00", "end": "13:00"}]})),
        )
        .await;
    assert_eq!((overlapping.field(), overlapping.field_code()), ("hours[1]", "overlapping_hours"));
    assert_eq!(day_slots(monday).await.len(), 8, "nothing was written");
}

#[tokio::test]
async fn web_pages_are_limited_per_visitor_not_per_shared_key() {
    let mut settings = crate::common::relaxed();
    settings.abuse.web_bookings_per_ip_per_hour = 2;
    settings.key_requests_per_minute = 8;
    settings.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    let app = TestApp::spawn_with(settings).await;
    let s = app.studio("Europe/London", every_day(&[("09:00", "17:00")]), json!({}), 1).await;
    let pk = app
        .post(&s.org.key, "/v1/publishable-keys", json!({"name": "Site", "allowedOrigins": ["https://glow.example"]}))
        .await
        .body["publishableKey"]
        .as_str()
        .unwrap()
        .to_string();
    // Many visitors share the page's key: the per-key budget (8 a minute here) does not apply.
    for _ in 0..12 {
        let res =
            app.call_with(Some(&pk), Method::GET, "/v1/services", None, &[("Origin", "https://glow.example")]).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    }
    let day = in_days(3);
    let book = |hour: u32, visitor: &'static str| {
        let app = &app;
        let pk = pk.clone();
        let body = json!({"serviceId": s.service, "start": at(s.tz, day, hour, 0).to_rfc3339(),
                          "customer": {"name": "Visitor", "email": format!("v{hour}@example.com")}});
        async move {
            app.call_with(
                Some(&pk),
                Method::POST,
                "/v1/bookings",
                Some(body),
                &[("Origin", "https://glow.example"), ("X-Forwarded-For", visitor)],
            )
            .await
        }
    };
    assert_eq!(book(9, "198.51.100.7").await.status, StatusCode::CREATED);
    assert_eq!(book(10, "198.51.100.7").await.status, StatusCode::CREATED);
    let third = book(11, "198.51.100.7").await;
    assert_eq!((third.status, third.code()), (StatusCode::TOO_MANY_REQUESTS, "rate_limited"), "{}", third.body);
    assert!(third.headers.contains_key("retry-after"));
    assert_eq!(third.headers["access-control-allow-origin"], "https://glow.example", "the page can show the error");
    assert_eq!(book(11, "203.0.113.9").await.status, StatusCode::CREATED, "another visitor books");
}

#[tokio::test]
async fn two_staff_booked_at_once_for_a_service_needing_a_room_both_get_one_of_the_two_free_rooms() {
    let app = TestApp::spawn().await;
    let s = app.studio("Europe/London", every_day(&[("08:00", "20:00")]), json!({"resourceTypes": ["room"]}), 2).await;
    for name in ["Room 1", "Room 2"] {
        let room = app.post(&s.org.key, "/v1/resources", json!({"name": name, "type": "room"})).await;
        assert_eq!(room.status, StatusCode::CREATED, "{}", room.body);
    }
    let day = in_days(3);
    // Every round is a fresh race at a new time: by named staff, then by "any".
    for hour in 8..20 {
        let start = at(s.tz, day, hour, 0);
        let staff = |i: usize| if hour % 2 == 0 { json!(s.staff[i]) } else { json!("any") };
        let calls = (0..2).map(|i| {
            let body = json!({"staffId": staff(i), "customer": {"name": format!("C{hour}-{i}"), "email": format!("c{hour}-{i}@example.com")}});
            app.book(&s.org.key, &s.service, start, body)
        });
        let results = futures_util::future::join_all(calls).await;
        for r in &results {
            assert_eq!(r.status, StatusCode::CREATED, "at {hour}:00 a booking was lost: {}", r.body);
        }
        let rooms: Vec<&Value> = results.iter().map(|r| &r.body["resourceIds"][0]).collect();
        assert_ne!(rooms[0], rooms[1], "one room each");
        assert_ne!(results[0].body["staffId"], results[1].body["staffId"]);
    }
}

#[tokio::test]
async fn one_new_customer_booking_several_times_at_once_gets_every_booking_and_stays_one_customer() {
    let app = TestApp::spawn().await;
    let s = app.studio("Europe/London", every_day(&[("08:00", "20:00")]), json!({}), 1).await;
    let day = in_days(3);
    for (round, customer) in [
        json!({"name": "Nina New", "email": "nina@example.com"}),
        json!({"name": "Pat Phone", "phone": "+44 7700 900777"}),
        json!({"name": "Bo Both", "email": "bo@example.com", "phone": "+44 7700 900888"}),
    ]
    .into_iter()
    .enumerate()
    {
        let calls = (0..4).map(|i| {
            let start = at(s.tz, day, 8 + (round as u32) * 4 + i, 0);
            app.book(&s.org.key, &s.service, start, json!({"customer": customer.clone()}))
        });
        let results = futures_util::future::join_all(calls).await;
        for r in &results {
            assert_eq!(r.status, StatusCode::CREATED, "{customer}: {}", r.body);
        }
        let mut ids: Vec<&str> = results.iter().map(|r| r.body["customerId"].as_str().unwrap()).collect();
        ids.dedup();
        assert_eq!(ids.len(), 1, "{customer} became {} customers", ids.len());
    }
    assert_eq!(app.count("app.customers", Some(s.org.id)).await, 3);
}

#[tokio::test]
async fn slots_default_to_the_coming_week_and_say_why_there_are_none() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Empty").await;
    let service = app.post(&org.key, "/v1/services", json!({"name": "Cut", "durationMinutes": 60})).await;
    let service = service.body["id"].as_str().unwrap().to_string();
    let reason = |res: &Res| res.body["reason"].as_str().unwrap_or("").to_string();
    let res = app.get(&org.key, &format!("/v1/services/{service}/slots")).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let (from, to): (DateTime<Utc>, DateTime<Utc>) =
        (res.body["from"].as_str().unwrap().parse().unwrap(), res.body["to"].as_str().unwrap().parse().unwrap());
    assert_eq!(to - from, Duration::days(7), "a week from now");
    assert!((from - Utc::now()).num_minutes().abs() < 5);
    assert_eq!((res.body["slots"].clone(), reason(&res)), (json!([]), "no_staff".to_string()));

    let staff = app.post(&org.key, "/v1/staff", json!({"name": "Sam"})).await.body["id"].as_str().unwrap().to_string();
    app.patch(&org.key, &format!("/v1/services/{service}"), json!({"staffIds": [staff]})).await;
    let res = app.get(&org.key, &format!("/v1/services/{service}/slots")).await;
    assert_eq!(reason(&res), "no_working_hours");
    app.call(
        Some(&org.key),
        Method::PUT,
        &format!("/v1/staff/{staff}/working-hours"),
        Some(json!({"hours": every_day(&[("09:00", "10:00")])})),
    )
    .await;
    let res = app.get(&org.key, &format!("/v1/services/{service}/slots")).await;
    assert_eq!(res.body["reason"], Value::Null, "{}", res.body);
    // One a day: seven, or six when a DST change makes the week's last 09:00 fall after it.
    let n = res.body["slots"].as_array().unwrap().len();
    assert!((6..=7).contains(&n), "one a day: {}", res.body);
    let far = app
        .get(
            &org.key,
            &format!(
                "/v1/services/{service}/slots?from={}",
                urlencode(&(Utc::now() + Duration::days(200)).to_rfc3339())
            ),
        )
        .await;
    assert_eq!(reason(&far), "outside_booking_window");
    app.patch(&org.key, &format!("/v1/services/{service}"), json!({"resourceTypes": ["room"]})).await;
    let res = app.get(&org.key, &format!("/v1/services/{service}/slots")).await;
    assert_eq!(reason(&res), "no_resources");

    // A resource filter or booking naming something the service cannot use is refused.
    let chair = app.post(&org.key, "/v1/resources", json!({"name": "Chair", "type": "chair"})).await;
    let chair = chair.body["id"].as_str().unwrap().to_string();
    let unknown = uuid::Uuid::now_v7().to_string();
    for (resource, code) in [(&chair, "resource_not_needed"), (&unknown, "unknown_resource")] {
        let res = app.get(&org.key, &format!("/v1/services/{service}/slots?resourceId={resource}")).await;
        assert_eq!((res.status, res.field(), res.field_code()), (StatusCode::UNPROCESSABLE_ENTITY, "resourceId", code));
        let start = at(Tz::UTC, in_days(3), 9, 0);
        let res = app.book(&org.key, &service, start, json!({"resourceId": resource})).await;
        assert_eq!((res.status, res.field(), res.field_code()), (StatusCode::UNPROCESSABLE_ENTITY, "resourceId", code));
    }
    assert_eq!(app.count("app.bookings", Some(org.id)).await, 0);
}

#[tokio::test]
async fn blocking_time_answers_with_the_bookings_that_fall_in_it() {
    let app = TestApp::spawn().await;
    let s = app.studio("Europe/London", every_day(&[("09:00", "17:00")]), json!({}), 1).await;
    let key = &s.org.key;
    let day = in_days(3);
    let booked = app.book(key, &s.service, at(s.tz, day, 10, 0), json!({})).await;
    let other_day = app.book(key, &s.service, at(s.tz, day + Duration::days(1), 10, 0), json!({})).await;
    let id = booked.body["id"].clone();
    let off = app
        .post(
            key,
            &format!("/v1/staff/{}/time-off", s.staff[0]),
            json!({"start": at(s.tz, day, 9, 30).to_rfc3339(), "end": at(s.tz, day, 10, 30).to_rfc3339()}),
        )
        .await;
    assert_eq!(off.status, StatusCode::CREATED, "{}", off.body);
    let ids: Vec<&Value> = off.body["affectedBookings"].as_array().unwrap().iter().map(|b| &b["id"]).collect();
    assert_eq!(ids, [&id], "{}", off.body);
    assert_eq!(off.body["affectedBookings"][0]["customer"]["name"], "Amy");
    // A short day that still covers 10:00-11:00 affects nothing; a day off affects the booking.
    let path = format!("/v1/staff/{}/hours-exceptions/{day}", s.staff[0]);
    let short =
        app.call(Some(key), Method::PUT, &path, Some(json!({"hours": [{"start": "10:00", "end": "12:00"}]}))).await;
    assert_eq!(short.body["affectedBookings"], json!([]), "{}", short.body);
    let sick = app.call(Some(key), Method::PUT, &path, Some(json!({"hours": [], "reason": "ill"}))).await;
    let ids: Vec<&Value> = sick.body["affectedBookings"].as_array().unwrap().iter().map(|b| &b["id"]).collect();
    assert_eq!(ids, [&id], "only that day's: {}", sick.body);
    assert_ne!(other_day.body["id"], id);
    assert_eq!(app.get(key, &format!("/v1/bookings/{}", id.as_str().unwrap())).await.body["status"], "confirmed");
}

#[tokio::test]
async fn a_name_alone_that_matches_customers_is_refused_with_the_candidates() {
    let app = TestApp::spawn().await;
    let s = app.studio("Europe/London", every_day(&[("09:00", "17:00")]), json!({}), 1).await;
    let key = &s.org.key;
    let wong = app.customer(&s.org, json!({"name": "Amy Wong", "email": "amy.wong@example.com"})).await;
    let start = at(s.tz, in_days(3), 10, 0);
    let amy = app.book(key, &s.service, start, json!({"customer": {"name": "amy"}})).await;
    assert_eq!(
        (amy.status, amy.code(), amy.field()),
        (StatusCode::UNPROCESSABLE_ENTITY, "ambiguous_customer", "customer")
    );
    assert_eq!(amy.body["candidates"][0]["id"], wong.to_string(), "{}", amy.body);
    assert_eq!(amy.body["candidates"][0]["name"], "Amy Wong");
    assert_eq!(app.count("app.customers", Some(s.org.id)).await, 1, "no second Amy");
    // With a way to reach her, she is a new customer; a name nobody has is new too.
    let new_amy =
        app.book(key, &s.service, start, json!({"customer": {"name": "Amy", "phone": "+44 7700 900111"}})).await;
    assert_eq!(new_amy.status, StatusCode::CREATED, "{}", new_amy.body);
    let zed = app.book(key, &s.service, start + Duration::hours(1), json!({"customer": {"name": "Zed"}})).await;
    assert_eq!(zed.status, StatusCode::CREATED, "{}", zed.body);
}

#[tokio::test]
async fn the_organisation_tells_the_local_time_and_whether_its_zone_was_ever_set() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Clock").await;
    let res = app.patch(&org.key, "/v1/organisation", json!({"timezone": "Asia/Kolkata"})).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let got = app.get(&org.key, "/v1/organisation").await.body;
    let local = DateTime::parse_from_rfc3339(got["localTime"].as_str().unwrap()).unwrap();
    assert_eq!(local.offset().local_minus_utc(), 5 * 3600 + 1800, "{got}");
    assert!((local.with_timezone(&Utc) - Utc::now()).num_seconds().abs() < 60, "{got}");
    assert_eq!(got["today"], local.date_naive().to_string());
    assert_eq!(got["weekday"], local.format("%A").to_string());
    assert_eq!(got["timezoneIsDefault"], false);
    // A workspace made without a country or zone runs on UTC and says so.
    let plain = app.signup("plain@example.com", "Plain", None).await;
    let got = app.get(&plain.key, "/v1/organisation").await.body;
    assert_eq!((got["timezone"].clone(), got["timezoneIsDefault"].clone()), (json!("UTC"), json!(true)), "{got}");
}
