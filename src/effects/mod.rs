//! Side effects: what happens outside favcrm's database once a change has committed (mail
//! today; SMS, WhatsApp, payment providers and webhooks next). No request handler needs to
//! know how an effect is performed.
//!
//! Today the call path hands mail to [`mail::Mailer`] right after the commit that asked for it
//! (`crate::call`). The way effects will work (issue 15): a handler asks for an effect by
//! writing it down in the database, in the same transaction as the change that causes it (an
//! outbox row); a worker here (`effects/worker.rs`, run inside `favcrm serve` and alone as
//! `favcrm worker`) claims due rows with `FOR UPDATE SKIP LOCKED`, performs them through the
//! providers in this folder (`effects/mail.rs`, then `sms.rs`, `whatsapp.rs`, `stripe.rs`,
//! `webhooks.rs`), and records the outcome, retrying with backoff.

pub mod mail;
pub mod secrets;
pub mod stripe;
