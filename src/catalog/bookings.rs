//! Bookings: services, staff, resources, working hours, time off, closures, availability and
//! the booking lifecycle. Toolset `bookings`; scopes `bookings:read` and `bookings:write`.
//! Setting up services, staff, resources, hours and closures is for managers and above; staff
//! see and change only the bookings assigned to them (row-level security).
#![allow(dead_code)]

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::types::{Cursor, Date, Email, Id, Int, Letters, Limit, Phone, StaffChoice, Text, Timestamp, WallTime};
use super::{Effect, Method, Operation, Page, Spec};

/// Money in integer minor units (cents, pence) of an ISO 4217 currency.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Money {
    pub amount: i64,
    pub currency: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MoneyInput {
    /// Integer minor units, e.g. 4500 for 45.00.
    pub amount: Int<0, 100_000_000_000>,
    /// ISO 4217 code. Default: the organisation's currency.
    pub currency: Option<Letters<3>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CancellationPolicyInput {
    /// Hours before the start until which cancelling is free.
    pub free_cancel_hours: Option<Int<0, 720>>,
    /// Fee for a later cancellation, minor units of the service's currency.
    pub late_cancel_fee_amount: Option<Int<0, 100_000_000_000>>,
    /// Fee for a no-show, minor units of the service's currency.
    pub no_show_fee_amount: Option<Int<0, 100_000_000_000>>,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CancellationPolicy {
    pub free_cancel_hours: i64,
    pub late_cancel_fee: Money,
    pub no_show_fee: Money,
}

#[derive(Debug, Clone, Copy, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Active,
    Archived,
}

/// A service customers book.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Service {
    #[schemars(with = "uuid::Uuid")]
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub duration_minutes: i64,
    pub price: Money,
    pub buffer_before_minutes: i64,
    pub buffer_after_minutes: i64,
    pub min_notice_minutes: i64,
    pub max_advance_days: i64,
    pub slot_interval_minutes: i64,
    pub requires_confirmation: bool,
    pub cancellation_policy: CancellationPolicy,
    #[schemars(with = "Vec<uuid::Uuid>")]
    pub staff_ids: Vec<String>,
    pub resource_types: Vec<String>,
    /// 1: appointments; more: a class booked seat by seat in scheduled sessions.
    pub capacity: i64,
    /// A freed class seat goes to the waiting list until this many minutes before the start.
    pub waitlist_cutoff_minutes: i64,
    pub billing: ServiceBilling,
    pub status: Status,
    pub created_at: String,
    pub updated_at: String,
    pub archived_at: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateService {
    pub name: Text<1, 200>,
    pub duration_minutes: Int<5, 1440>,
    pub description: Option<Text<0, 5000>>,
    /// Price; default 0 in the organisation's currency.
    pub price: Option<MoneyInput>,
    /// Minutes kept free before each booking (preparation).
    pub buffer_before_minutes: Option<Int<0, 240>>,
    /// Minutes kept free after each booking (clean-up).
    pub buffer_after_minutes: Option<Int<0, 240>>,
    /// How long before its start a booking must be made. Default 0.
    pub min_notice_minutes: Option<Int<0, 525_600>>,
    /// How many days ahead bookings open. Default 90.
    pub max_advance_days: Option<Int<1, 730>>,
    /// Spacing of start times. Default: the duration.
    pub slot_interval_minutes: Option<Int<5, 1440>>,
    /// true: new bookings are pending until confirm_booking.
    pub requires_confirmation: Option<bool>,
    pub cancellation_policy: Option<CancellationPolicyInput>,
    /// Staff who can deliver it (replaces the list).
    pub staff_ids: Option<Vec<Id>>,
    /// Resource types a booking needs one free resource of each (room, chair, …).
    #[schemars(length(max = 5))]
    pub resource_types: Option<Vec<Text<1, 50>>>,
    /// Seats: 1 (default) for appointments; more makes a class, booked in scheduled sessions.
    pub capacity: Option<Int<1, 500>>,
    /// Minutes before a class starts after which freed seats no longer go to the waiting list. Default 60.
    pub waitlist_cutoff_minutes: Option<Int<0, 10080>>,
    /// How its bookings are billed.
    pub billing: Option<ServiceBillingInput>,
}

/// How a service's bookings are billed; fields left out stay as they are.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ServiceBillingInput {
    /// The tax rate its invoice lines get (null: none).
    pub tax_rate_id: Option<Id>,
    /// true: completing a booking starts a draft invoice for its price.
    pub invoice_on_complete: Option<bool>,
    /// true: a late cancellation or no-show with a fee starts a draft invoice for the fee.
    pub invoice_fees: Option<bool>,
    /// true: a booking that does not say how it is paid (payWith) spends one of the customer's
    /// credits when they have a usable one, and is priced as usual when not.
    pub pay_with_credits: Option<bool>,
}

/// How a service's bookings are billed.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceBilling {
    #[schemars(with = "Option<uuid::Uuid>")]
    pub tax_rate_id: Option<String>,
    pub invoice_on_complete: bool,
    pub invoice_fees: bool,
    pub pay_with_credits: bool,
}

/// Fields left out stay as they are.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UpdateService {
    pub service_id: Id,
    pub name: Option<Text<1, 200>>,
    pub duration_minutes: Option<Int<5, 1440>>,
    pub description: Option<Text<0, 5000>>,
    /// Price; default 0 in the organisation's currency.
    pub price: Option<MoneyInput>,
    /// Minutes kept free before each booking (preparation).
    pub buffer_before_minutes: Option<Int<0, 240>>,
    /// Minutes kept free after each booking (clean-up).
    pub buffer_after_minutes: Option<Int<0, 240>>,
    /// How long before its start a booking must be made. Default 0.
    pub min_notice_minutes: Option<Int<0, 525_600>>,
    /// How many days ahead bookings open. Default 90.
    pub max_advance_days: Option<Int<1, 730>>,
    /// Spacing of start times. Default: the duration.
    pub slot_interval_minutes: Option<Int<5, 1440>>,
    /// true: new bookings are pending until confirm_booking.
    pub requires_confirmation: Option<bool>,
    pub cancellation_policy: Option<CancellationPolicyInput>,
    /// Staff who can deliver it (replaces the list).
    pub staff_ids: Option<Vec<Id>>,
    /// Resource types a booking needs one free resource of each (room, chair, …).
    #[schemars(length(max = 5))]
    pub resource_types: Option<Vec<Text<1, 50>>>,
    /// Seats: 1 (default) for appointments; more makes a class, booked in scheduled sessions.
    pub capacity: Option<Int<1, 500>>,
    /// Minutes before a class starts after which freed seats no longer go to the waiting list. Default 60.
    pub waitlist_cutoff_minutes: Option<Int<0, 10080>>,
    /// How its bookings are billed.
    pub billing: Option<ServiceBillingInput>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ServiceRef {
    pub service_id: Id,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ListArchivable {
    /// true to include archived ones.
    pub include_archived: Option<bool>,
    pub limit: Option<Limit>,
    pub cursor: Option<Cursor>,
}

/// A person who delivers services.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Staff {
    #[schemars(with = "uuid::Uuid")]
    pub id: String,
    pub name: String,
    pub email: Option<String>,
    /// The team member (user id) behind this profile, who then sees their own bookings.
    #[schemars(with = "Option<uuid::Uuid>")]
    pub user_id: Option<String>,
    pub status: Status,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateStaff {
    pub name: Text<1, 200>,
    pub email: Option<Email>,
    /// Link to a team member (userId from list_team_members).
    pub user_id: Option<Id>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UpdateStaff {
    pub staff_id: Id,
    pub name: Option<Text<1, 200>>,
    pub email: Option<Email>,
    pub user_id: Option<Id>,
    /// true: no new slots for them; false: active again.
    pub archived: Option<bool>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct StaffRef {
    pub staff_id: Id,
}

/// A room or piece of equipment.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Resource {
    #[schemars(with = "uuid::Uuid")]
    pub id: String,
    pub name: String,
    pub r#type: String,
    pub capacity: i64,
    pub status: Status,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ListResources {
    /// Only resources of this type.
    pub r#type: Option<Text<1, 50>>,
    pub limit: Option<Limit>,
    pub cursor: Option<Cursor>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateResource {
    pub name: Text<1, 200>,
    /// Lower-case type that services ask for: room, chair, bed, …
    pub r#type: Text<1, 50>,
    pub capacity: Option<Int<1, 500>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UpdateResource {
    pub resource_id: Id,
    pub name: Option<Text<1, 200>>,
    pub r#type: Option<Text<1, 50>>,
    pub capacity: Option<Int<1, 500>>,
    pub archived: Option<bool>,
}

/// A weekly range of working time, wall clock in the organisation's time zone.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HoursRange {
    /// ISO weekday: 1 = Monday … 7 = Sunday.
    pub weekday: Int<1, 7>,
    /// HH:MM, e.g. 09:00.
    pub start: WallTime,
    /// HH:MM, after start; 24:00 for midnight.
    pub end: WallTime,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SetWorkingHours {
    pub staff_id: Id,
    /// The whole week; several ranges a day make breaks. An empty list: not working.
    #[schemars(length(max = 100))]
    pub hours: Vec<HoursRange>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct HoursOut {
    pub weekday: i64,
    pub start: String,
    pub end: String,
}

/// A period of time off.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TimeOff {
    #[schemars(with = "uuid::Uuid")]
    pub id: String,
    #[schemars(with = "Option<uuid::Uuid>")]
    pub staff_id: Option<String>,
    pub start: String,
    pub end: String,
    pub reason: Option<String>,
    /// From add_time_off: the active bookings in the period. They stay booked: cancel or
    /// reschedule them (and tell the customers).
    pub affected_bookings: Option<Vec<Booking>>,
}

/// A staff member's week, upcoming time off and one-off hours.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkingHours {
    #[schemars(with = "uuid::Uuid")]
    pub staff_id: String,
    /// The time zone the hours are in (the organisation's).
    pub timezone: String,
    pub hours: Vec<HoursOut>,
    pub time_off: Vec<TimeOff>,
    /// Dates with one-off hours, from yesterday on.
    pub exceptions: Vec<HoursException>,
}

/// A range of wall-clock time within one day.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TimeRange {
    /// HH:MM.
    pub start: WallTime,
    /// HH:MM, after start; 24:00 for midnight.
    pub end: WallTime,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct TimeRangeOut {
    pub start: String,
    pub end: String,
}

/// One-off hours of a staff member on a date.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HoursException {
    #[schemars(with = "uuid::Uuid")]
    pub staff_id: String,
    pub date: String,
    /// The ranges worked that day; empty: not working (or, after removal, the weekly hours apply).
    pub hours: Vec<TimeRangeOut>,
    pub reason: Option<String>,
    /// From set_hours_exception: the active bookings that day now outside the hours. They stay
    /// booked: cancel or reschedule them (and tell the customers).
    pub affected_bookings: Option<Vec<Booking>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SetHoursException {
    pub staff_id: Id,
    /// The date (organisation's time zone).
    pub date: Date,
    /// The ranges worked that day, replacing the weekly hours; empty: not working that day.
    #[schemars(length(max = 20))]
    pub hours: Vec<TimeRange>,
    pub reason: Option<Text<0, 500>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HoursExceptionRef {
    pub staff_id: Id,
    pub date: Date,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AddTimeOff {
    pub staff_id: Id,
    pub start: Timestamp,
    pub end: Timestamp,
    pub reason: Option<Text<0, 500>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TimeOffRef {
    pub time_off_id: Id,
}

/// Whole days the business is closed.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Closure {
    #[schemars(with = "uuid::Uuid")]
    pub id: String,
    pub starts_on: String,
    pub ends_on: String,
    pub reason: Option<String>,
    pub created_at: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AddClosure {
    /// First closed day (organisation's time zone).
    pub starts_on: Date,
    /// Last closed day, inclusive.
    pub ends_on: Date,
    pub reason: Option<Text<0, 500>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ListClosures {
    /// Closures ending on or after this day. Default: yesterday.
    pub from: Option<Date>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Closures {
    pub items: Vec<Closure>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct GetAvailableSlots {
    pub service_id: Id,
    /// Start of the range (RFC 3339); now when left out.
    pub from: Option<Timestamp>,
    /// End of the range, at most 31 days after from; 7 days after from when left out.
    pub to: Option<Timestamp>,
    /// Only this staff member.
    pub staff_id: Option<Id>,
    /// Only with this resource (one of a type the service needs; anything else is a 422).
    pub resource_id: Option<Id>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct SlotStaff {
    #[schemars(with = "uuid::Uuid")]
    pub id: String,
    pub name: String,
}

/// An open start time and who and what can take it.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Slot {
    pub start: String,
    pub end: String,
    pub staff: Vec<SlotStaff>,
    #[schemars(with = "Vec<uuid::Uuid>")]
    pub resource_ids: Vec<String>,
    /// For a class: the session and its free seats.
    #[schemars(with = "Option<uuid::Uuid>")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub class_session_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seats_remaining: Option<i64>,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Slots {
    #[schemars(with = "uuid::Uuid")]
    pub service_id: String,
    /// The organisation's time zone (slots are in UTC; show them in this zone).
    pub timezone: String,
    pub duration_minutes: i64,
    /// The range searched.
    pub from: String,
    pub to: String,
    pub slots: Vec<Slot>,
    /// Why there are no slots (null when there are some): `outside_booking_window` (the range is
    /// before the minimum notice or past the booking window), `no_class_sessions` (a class with no
    /// session in the range), `no_staff` (no active staff member offers the service),
    /// `no_resources` (a needed room or equipment type has no active resource),
    /// `no_working_hours` (its staff have no hours set), or `fully_booked` (bookings, time off
    /// and closures fill the hours).
    pub reason: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCustomer {
    pub name: Text<1, 200>,
    /// Used to find an existing customer first.
    pub email: Option<Email>,
    /// Used to find an existing customer when there is no email match.
    pub phone: Option<Phone>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateBooking {
    pub service_id: Id,
    /// A start from get_available_slots (RFC 3339).
    pub start: Timestamp,
    /// A staff id, or "any" (default) for whoever is free.
    pub staff_id: Option<StaffChoice>,
    /// A specific resource of a type the service needs (an unknown one, or one of another type,
    /// is a 422).
    pub resource_id: Option<Id>,
    /// An existing customer; or give `customer`.
    pub customer_id: Option<Id>,
    /// Found by email, then phone, or created. A name alone that matches existing customers
    /// ("Amy" when "Amy Wong" exists) is refused with ambiguous_customer and the candidates:
    /// pass customerId, or an email or phone for a new customer.
    pub customer: Option<NewCustomer>,
    pub notes: Option<Text<0, 5000>>,
    /// credits: pay with one of the customer's credits (a pack or a membership), spent in the
    /// same transaction: the eligible one that expires first and is valid at the start (409
    /// no_credits when there is none). A free cancellation gives it back; a late one keeps it.
    /// price: never with a credit. Left out: as the service's billing.payWithCredits says.
    pub pay_with: Option<PayWith>,
}

/// How a booking is paid for, besides its invoice.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PayWith {
    Credits,
    Price,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum BookingStatus {
    Pending,
    Confirmed,
    Declined,
    Cancelled,
    CheckedIn,
    Completed,
    NoShow,
}

/// A record named in an answer: its id and its name.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Named {
    #[schemars(with = "uuid::Uuid")]
    pub id: String,
    pub name: String,
}

/// One booking status, or several (over REST: comma-separated).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Statuses {
    One(BookingStatus),
    Several(Vec<BookingStatus>),
}

/// A booking.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Booking {
    #[schemars(with = "uuid::Uuid")]
    pub id: String,
    #[schemars(with = "uuid::Uuid")]
    pub service_id: String,
    pub service: Option<Named>,
    #[schemars(with = "uuid::Uuid")]
    pub staff_id: String,
    pub staff: Option<Named>,
    /// Left out of the answer to a web page's booking (a publishable key), as is `customer`.
    #[schemars(with = "uuid::Uuid")]
    pub customer_id: String,
    pub customer: Option<Named>,
    #[schemars(with = "Vec<uuid::Uuid>")]
    pub resource_ids: Vec<String>,
    pub status: BookingStatus,
    pub starts_at: String,
    pub ends_at: String,
    pub price: Money,
    pub notes: Option<String>,
    pub cancelled_at: Option<String>,
    #[schemars(with = "Option<uuid::Uuid>")]
    pub cancelled_by_user_id: Option<String>,
    pub cancel_reason: Option<String>,
    /// Cancelled inside the free-cancellation window.
    pub late_cancel: Option<bool>,
    /// Fee due (late cancellation or no-show).
    pub fee: Option<Money>,
    #[schemars(with = "Option<uuid::Uuid>")]
    pub rescheduled_from_id: Option<String>,
    #[schemars(with = "Option<uuid::Uuid>")]
    pub rescheduled_to_id: Option<String>,
    /// For a class: the session whose seat this is.
    #[schemars(with = "Option<uuid::Uuid>")]
    pub class_session_id: Option<String>,
    /// The invoice that bills this booking (its price or its fee), once billed.
    #[schemars(with = "Option<uuid::Uuid>")]
    pub invoice_id: Option<String>,
    /// credits when a credit paid for it (its price is then not invoiced).
    pub paid_with: Option<PayWith>,
    /// The credit grant it drew on.
    #[schemars(with = "Option<uuid::Uuid>")]
    pub credit_grant_id: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct BookingRef {
    pub booking_id: Id,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct BookingWithReason {
    pub booking_id: Id,
    pub reason: Option<Text<0, 500>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RescheduleBooking {
    pub booking_id: Id,
    /// The new start, from get_available_slots.
    pub start: Timestamp,
    /// "same" (default), "any", or a staff id.
    pub staff_id: Option<StaffChoice>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ListBookings {
    /// Bookings starting at or after this time.
    pub from: Option<Timestamp>,
    /// Bookings starting before this time.
    pub to: Option<Timestamp>,
    /// One status or several, e.g. ["pending", "confirmed"].
    pub status: Option<Statuses>,
    /// Only bookings that hold their time: pending, confirmed and checked in.
    pub active: Option<bool>,
    pub staff_id: Option<Id>,
    pub customer_id: Option<Id>,
    pub limit: Option<Limit>,
    pub cursor: Option<Cursor>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct StatsRange {
    pub from: Timestamp,
    /// At most 366 days after from.
    pub to: Timestamp,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ByStatus {
    pub pending: i64,
    pub confirmed: i64,
    pub declined: i64,
    /// Real cancellations (not reschedules).
    pub cancelled: i64,
    pub checked_in: i64,
    pub completed: i64,
    pub no_show: i64,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BookingStats {
    pub from: String,
    pub to: String,
    /// Always "startsAt": bookings are counted when they start in [from, to), whenever they
    /// were made, cancelled or moved.
    pub counted_by: String,
    /// Bookings in the range, each once; a rescheduled booking's old time is not among them.
    pub total: i64,
    /// Bookings moved to another time (counted at their old start; the new booking is counted
    /// under its own status). Not cancellations.
    pub rescheduled: i64,
    pub by_status: ByStatus,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ScheduleClassSession {
    /// A service with capacity above 1.
    pub service_id: Id,
    pub staff_id: Id,
    /// A room or other resource the class holds.
    pub resource_id: Option<Id>,
    /// The first session's start (RFC 3339).
    pub start: Timestamp,
    /// How many weekly sessions, at the same wall-clock time: 1 (default) to 52.
    pub repeat_weeks: Option<Int<1, 52>>,
    /// Seats per session. Default: the service's capacity.
    pub capacity: Option<Int<1, 500>>,
}

#[derive(Debug, Clone, Copy, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SessionStatus {
    Scheduled,
    Cancelled,
}

/// A class session.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClassSession {
    #[schemars(with = "uuid::Uuid")]
    pub id: String,
    #[schemars(with = "uuid::Uuid")]
    pub service_id: String,
    #[schemars(with = "uuid::Uuid")]
    pub staff_id: String,
    #[schemars(with = "Option<uuid::Uuid>")]
    pub resource_id: Option<String>,
    /// Shared by the sessions of one weekly series.
    #[schemars(with = "Option<uuid::Uuid>")]
    pub series_id: Option<String>,
    pub start: String,
    pub end: String,
    pub capacity: i64,
    pub seats_booked: i64,
    pub seats_remaining: i64,
    /// Customers on the waiting list.
    pub waiting: i64,
    pub status: SessionStatus,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScheduledSessions {
    #[schemars(with = "Option<uuid::Uuid>")]
    pub series_id: Option<String>,
    pub items: Vec<ClassSession>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ClassSessions {
    pub items: Vec<ClassSession>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ListClassSessions {
    pub service_id: Option<Id>,
    pub staff_id: Option<Id>,
    /// Default: now.
    pub from: Option<Timestamp>,
    /// Default: 31 days after from; at most 92 days after it.
    pub to: Option<Timestamp>,
    pub include_cancelled: Option<bool>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CancelClassSession {
    pub class_session_id: Id,
    /// Told to the booked customers.
    pub reason: Option<Text<0, 500>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct JoinWaitlist {
    pub class_session_id: Id,
    pub customer_id: Option<Id>,
    pub customer: Option<NewCustomer>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct WaitlistEntryRef {
    pub waitlist_entry_id: Id,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ListWaitlist {
    pub class_session_id: Id,
    /// true: also promoted, left and closed entries.
    pub include_all: Option<bool>,
}

#[derive(Debug, Clone, Copy, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum WaitlistStatus {
    Waiting,
    Promoted,
    Left,
    Closed,
}

/// A customer on a class session's waiting list.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WaitlistEntry {
    #[schemars(with = "uuid::Uuid")]
    pub id: String,
    #[schemars(with = "uuid::Uuid")]
    pub class_session_id: String,
    #[schemars(with = "uuid::Uuid")]
    pub customer_id: String,
    pub status: WaitlistStatus,
    /// Place in line while waiting (1 is next).
    pub position: Option<i64>,
    /// The booking made when promoted.
    #[schemars(with = "Option<uuid::Uuid>")]
    pub booking_id: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Waitlist {
    pub items: Vec<WaitlistEntry>,
}

/// A spec of this toolset with the usual defaults.
#[allow(clippy::too_many_arguments)]
fn spec(
    name: &'static str,
    title: &'static str,
    description: &'static str,
    scope: &'static str,
    method: Method,
    path: &'static str,
    effect: Effect,
    idempotent: bool,
    success_status: u16,
) -> Spec {
    Spec {
        name,
        title,
        description,
        toolset: "bookings",
        scope,
        method,
        path,
        effect,
        idempotent,
        confirm: effect == Effect::Destructive,
        preview: if effect == Effect::Destructive && path.starts_with("/v1/bookings/") {
            Some(super::Preview::Effect("api.preview_booking_change"))
        } else {
            None
        },
        success_status,
        open_world: false,
    }
}

const READ: &str = "bookings:read";
const WRITE: &str = "bookings:write";

pub fn operations() -> Vec<Operation> {
    use Effect::{Destructive, Read, Write};
    use Method::{Delete, Get, Patch, Post, Put};
    vec![
        Operation::new::<ListArchivable, Page<Service>>(spec(
            "list_services",
            "List services",
            "List the services customers can book (active ones unless includeArchived), with duration, price, \
             buffers, booking window, cancellation policy, staff and needed resource types.",
            READ,
            Get,
            "/v1/services",
            Read,
            true,
            200,
        )),
        Operation::new::<ServiceRef, Service>(spec(
            "get_service",
            "Get a service",
            "Return one service by id: duration, price, buffers, booking window, policy, staff and resource types.",
            READ,
            Get,
            "/v1/services/{serviceId}",
            Read,
            true,
            200,
        )),
        Operation::new::<CreateService, Service>(spec(
            "create_service",
            "Create a service",
            "Create a bookable service (managers and above): name, duration, price in minor units, buffers, minimum \
             notice, how far ahead, slot spacing, whether bookings need confirmation, cancellation policy, the staff \
             who deliver it and the resource types it needs.",
            WRITE,
            Post,
            "/v1/services",
            Write,
            false,
            201,
        )),
        Operation::new::<UpdateService, Service>(spec(
            "update_service",
            "Update a service",
            "Change a service's fields (managers and above); fields left out stay. Existing bookings keep their \
             time and price.",
            WRITE,
            Patch,
            "/v1/services/{serviceId}",
            Write,
            true,
            200,
        )),
        Operation::new::<ServiceRef, Service>(spec(
            "archive_service",
            "Archive a service",
            "Stop a service from being booked (managers and above); existing bookings stay.",
            WRITE,
            Post,
            "/v1/services/{serviceId}/archive",
            Write,
            true,
            200,
        )),
        Operation::new::<ListArchivable, Page<Staff>>(spec(
            "list_staff",
            "List staff",
            "List the staff who deliver services, with the team member each one is linked to.",
            READ,
            Get,
            "/v1/staff",
            Read,
            true,
            200,
        )),
        Operation::new::<CreateStaff, Staff>(spec(
            "create_staff",
            "Add a staff member",
            "Add a person who delivers services (managers and above), optionally linked to a team member by userId \
             so that they see their own bookings. Then set_working_hours and add them to services.",
            WRITE,
            Post,
            "/v1/staff",
            Write,
            false,
            201,
        )),
        Operation::new::<UpdateStaff, Staff>(spec(
            "update_staff",
            "Update a staff member",
            "Change a staff member's name, email or linked team member, or archive them (no new slots).",
            WRITE,
            Patch,
            "/v1/staff/{staffId}",
            Write,
            true,
            200,
        )),
        Operation::new::<ListResources, Page<Resource>>(spec(
            "list_resources",
            "List resources",
            "List active rooms and equipment, optionally of one type.",
            READ,
            Get,
            "/v1/resources",
            Read,
            true,
            200,
        )),
        Operation::new::<CreateResource, Resource>(spec(
            "create_resource",
            "Add a resource",
            "Add a room or piece of equipment of a type that services can need (managers and above).",
            WRITE,
            Post,
            "/v1/resources",
            Write,
            false,
            201,
        )),
        Operation::new::<UpdateResource, Resource>(spec(
            "update_resource",
            "Update a resource",
            "Change a resource's name, type or capacity, or archive it.",
            WRITE,
            Patch,
            "/v1/resources/{resourceId}",
            Write,
            true,
            200,
        )),
        Operation::new::<StaffRef, WorkingHours>(spec(
            "get_working_hours",
            "Get working hours",
            "A staff member's weekly hours (wall clock in the organisation's time zone) and upcoming time off.",
            READ,
            Get,
            "/v1/staff/{staffId}/working-hours",
            Read,
            true,
            200,
        )),
        Operation::new::<SetWorkingHours, WorkingHours>(spec(
            "set_working_hours",
            "Set working hours",
            "Replace a staff member's weekly hours (managers and above): ranges per ISO weekday in wall-clock time; \
             two ranges on a day make a break. Hours follow the organisation's time zone through DST changes.",
            WRITE,
            Put,
            "/v1/staff/{staffId}/working-hours",
            Write,
            true,
            200,
        )),
        Operation::new::<SetHoursException, HoursException>(spec(
            "set_hours_exception",
            "Set one-off hours",
            "Set a staff member's hours for one date (an extra Saturday, a short day), replacing that date's \
             weekly hours; an empty list means not working that day: use that for a sick day or a day off (the \
             date is in the organisation's time zone). Answers with affectedBookings: the bookings that day now \
             outside the hours, which stay booked until you cancel or reschedule them. Managers and above.",
            WRITE,
            Put,
            "/v1/staff/{staffId}/hours-exceptions/{date}",
            Write,
            true,
            200,
        )),
        Operation::new::<HoursExceptionRef, HoursException>(spec(
            "remove_hours_exception",
            "Remove one-off hours",
            "Remove a date's one-off hours so that the weekly hours apply again. Removing twice changes nothing.",
            WRITE,
            Delete,
            "/v1/staff/{staffId}/hours-exceptions/{date}",
            Write,
            true,
            200,
        )),
        Operation::new::<AddTimeOff, TimeOff>(spec(
            "add_time_off",
            "Add time off",
            "Block a staff member for a period between two instants (a holiday of several days, an appointment, \
             the rest of today when someone goes home ill). For a whole sick day or day off, set_hours_exception \
             with no hours is simpler. Answers with affectedBookings: the bookings in the period, which stay \
             booked until you cancel or reschedule them. Managers and above.",
            WRITE,
            Post,
            "/v1/staff/{staffId}/time-off",
            Write,
            false,
            201,
        )),
        Operation::new::<TimeOffRef, TimeOff>(spec(
            "remove_time_off",
            "Remove time off",
            "Delete a period of time off; its slots open again.",
            WRITE,
            Delete,
            "/v1/time-off/{timeOffId}",
            Destructive,
            false,
            200,
        )),
        Operation::new::<AddClosure, Closure>(spec(
            "add_closure",
            "Add a closure",
            "Close the business on whole days (inclusive, its time zone): no slots on them. Existing bookings stay.",
            WRITE,
            Post,
            "/v1/closures",
            Write,
            false,
            201,
        )),
        Operation::new::<ListClosures, Closures>(spec(
            "list_closures",
            "List closures",
            "List the days the business is closed, from a date on.",
            READ,
            Get,
            "/v1/closures",
            Read,
            true,
            200,
        )),
        Operation::new::<GetAvailableSlots, Slots>(spec(
            "get_available_slots",
            "Find open slots",
            "Open start times of a service between from and to (at most 31 days), each with the staff and resources \
             that can take it. Honours working hours, breaks, time off, closures, buffers, minimum notice and the \
             booking window, across DST. Show times in the returned time zone; slots can be taken by others \
             before you book.",
            READ,
            Get,
            "/v1/services/{serviceId}/slots",
            Read,
            true,
            200,
        )),
        Operation::new::<CreateBooking, Booking>(spec(
            "create_booking",
            "Book a slot",
            "Book a start from get_available_slots for a customer (customerId, or customer {name, email, phone} found \
             or created). staffId \"any\" picks whoever is free. Confirm the slot with the person first. A clash is \
             409 slot_taken with nearbySlots; do not retry the same start.",
            WRITE,
            Post,
            "/v1/bookings",
            Write,
            false,
            201,
        )),
        Operation::new::<BookingRef, Booking>(spec(
            "get_booking",
            "Get a booking",
            "Return one booking: service, staff, customer, time, status, price, fees and reschedule links.",
            READ,
            Get,
            "/v1/bookings/{bookingId}",
            Read,
            true,
            200,
        )),
        Operation::new::<ListBookings, Page<Booking>>(spec(
            "list_bookings",
            "List bookings",
            "List bookings by start time, each with its service, staff member and customer by name, filtered by \
             range, one or several statuses (or active: true for pending, confirmed and checked in), staff or \
             customer. Staff see only their own.",
            READ,
            Get,
            "/v1/bookings",
            Read,
            true,
            200,
        )),
        Operation::new::<BookingRef, Booking>(spec(
            "confirm_booking",
            "Confirm a booking",
            "Confirm a pending booking request (for services that need confirmation). Confirming twice changes nothing.",
            WRITE,
            Post,
            "/v1/bookings/{bookingId}/confirm",
            Write,
            true,
            200,
        )),
        Operation::new::<BookingWithReason, Booking>(spec(
            "decline_booking",
            "Decline a booking",
            "Decline a pending booking request; the slot opens again.",
            WRITE,
            Post,
            "/v1/bookings/{bookingId}/decline",
            Destructive,
            true,
            200,
        )),
        Operation::new::<BookingWithReason, Booking>(spec(
            "cancel_booking",
            "Cancel a booking",
            "Cancel a booking; records who cancelled, the reason, whether it was late under the service's policy and \
             the fee due.",
            WRITE,
            Post,
            "/v1/bookings/{bookingId}/cancel",
            Destructive,
            true,
            200,
        )),
        Operation::new::<RescheduleBooking, Booking>(spec(
            "reschedule_booking",
            "Reschedule a booking",
            "Move a booking to a new start from get_available_slots, atomically: the new time is taken and the old \
             freed together, or nothing changes (409 slot_taken). Returns the new booking, linked to the old.",
            WRITE,
            Post,
            "/v1/bookings/{bookingId}/reschedule",
            Write,
            false,
            201,
        )),
        Operation::new::<BookingRef, Booking>(spec(
            "check_in_booking",
            "Check a customer in",
            "Mark that the customer of a confirmed booking arrived.",
            WRITE,
            Post,
            "/v1/bookings/{bookingId}/check-in",
            Write,
            true,
            200,
        )),
        Operation::new::<BookingRef, Booking>(spec(
            "complete_booking",
            "Complete a booking",
            "Mark a confirmed or checked-in booking as done, once it has started.",
            WRITE,
            Post,
            "/v1/bookings/{bookingId}/complete",
            Write,
            true,
            200,
        )),
        Operation::new::<BookingRef, Booking>(spec(
            "mark_no_show",
            "Mark a no-show",
            "Mark that the customer did not come, only after the start time; sets the service's no-show fee.",
            WRITE,
            Post,
            "/v1/bookings/{bookingId}/no-show",
            Destructive,
            true,
            200,
        )),
        Operation::new::<ScheduleClassSession, ScheduledSessions>(spec(
            "schedule_class_session",
            "Schedule a class",
            "Schedule a session of a class (a service with capacity above 1) with a staff member and optionally a \
             room, or one a week for repeatWeeks weeks at the same wall-clock time (all or nothing; 409 slot_taken \
             when the staff member or room is busy). Managers and above.",
            WRITE,
            Post,
            "/v1/class-sessions",
            Write,
            false,
            201,
        )),
        Operation::new::<ListClassSessions, ClassSessions>(spec(
            "list_class_sessions",
            "List class sessions",
            "List class sessions in a range (default the next 31 days) with seats booked, seats left and how many \
             customers wait.",
            READ,
            Get,
            "/v1/class-sessions",
            Read,
            true,
            200,
        )),
        Operation::new::<CancelClassSession, ClassSession>(spec(
            "cancel_class_session",
            "Cancel a class session",
            "Cancel a class session with every seat booked in it (no fees) and close its waiting list. Managers and \
             above.",
            WRITE,
            Post,
            "/v1/class-sessions/{classSessionId}/cancel",
            Destructive,
            true,
            200,
        )),
        Operation::new::<JoinWaitlist, WaitlistEntry>(spec(
            "join_waitlist",
            "Join a waiting list",
            "Put a customer on the waiting list of a full class session (409 seats_available when seats are free: \
             book instead). A cancelled seat goes to the first in line automatically until the service's cut-off.",
            WRITE,
            Post,
            "/v1/class-sessions/{classSessionId}/waitlist",
            Write,
            false,
            201,
        )),
        Operation::new::<WaitlistEntryRef, WaitlistEntry>(spec(
            "leave_waitlist",
            "Leave a waiting list",
            "Take a customer off a waiting list. Leaving twice changes nothing.",
            WRITE,
            Delete,
            "/v1/waitlist-entries/{waitlistEntryId}",
            Write,
            true,
            200,
        )),
        Operation::new::<ListWaitlist, Waitlist>(spec(
            "list_waitlist",
            "List a waiting list",
            "The customers waiting for a seat in a class session, first in line first, with their position.",
            READ,
            Get,
            "/v1/class-sessions/{classSessionId}/waitlist",
            Read,
            true,
            200,
        )),
        Operation::new::<StatsRange, BookingStats>(spec(
            "get_booking_stats",
            "Booking counts",
            "Count bookings that start in a range of at most 366 days, by status. A reschedule is counted under \
             rescheduled, not as a cancellation; the range is by start time, not by when a booking was made or \
             cancelled (staff: their own).",
            READ,
            Get,
            "/v1/booking-stats",
            Read,
            true,
            200,
        )),
    ]
}
