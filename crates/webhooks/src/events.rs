//! The event types wxlogin sends to webhooks: the domain's list, which the store draws events
//! from, so the endpoints file and the outbox can never disagree on a name.

pub use wxlogin_domain::WEBHOOK_EVENT_TYPES as EVENT_TYPES;

/// Whether `name` is one of [`EVENT_TYPES`]. The endpoints file refuses other names, so a typo
/// is found at start rather than as an endpoint that silently never hears anything.
pub fn is_event_type(name: &str) -> bool {
    EVENT_TYPES.contains(&name)
}
