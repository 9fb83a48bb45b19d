//! Agent workflow guides from `skills/`, served as MCP resources (`skill://favcrm/<name>`)
//! and listed in the server card.

use serde::Serialize;

/// One skill: its front matter and its whole text.
#[derive(Debug, Clone, Serialize)]
pub struct Skill {
    pub name: &'static str,
    pub description: String,
    pub uri: String,
    #[serde(skip)]
    pub text: &'static str,
}

const FILES: &[(&str, &str)] = &[
    ("customer-lifecycle", include_str!("../skills/customer-lifecycle/SKILL.md")),
    ("api-keys", include_str!("../skills/api-keys/SKILL.md")),
    ("agentic-registration", include_str!("../skills/agentic-registration/SKILL.md")),
    ("team-onboarding", include_str!("../skills/team-onboarding/SKILL.md")),
    ("booking-operations", include_str!("../skills/booking-operations/SKILL.md")),
    ("billing", include_str!("../skills/billing/SKILL.md")),
    ("commerce", include_str!("../skills/commerce/SKILL.md")),
    ("subscriptions", include_str!("../skills/subscriptions/SKILL.md")),
    ("loyalty", include_str!("../skills/loyalty/SKILL.md")),
    ("messaging", include_str!("../skills/messaging/SKILL.md")),
    ("whatsapp-setup", include_str!("../skills/whatsapp-setup/SKILL.md")),
    ("reporting", include_str!("../skills/reporting/SKILL.md")),
    ("content", include_str!("../skills/content/SKILL.md")),
];

/// The index committed beside the skills (`skills/index.json`).
pub const INDEX: &str = include_str!("../skills/index.json");

pub fn all() -> Vec<Skill> {
    FILES
        .iter()
        .map(|(name, text)| Skill {
            name,
            description: front_matter(text, "description").unwrap_or_default(),
            uri: format!("skill://favcrm/{name}"),
            text,
        })
        .collect()
}

pub fn find(uri: &str) -> Option<Skill> {
    all().into_iter().find(|s| s.uri == uri)
}

/// A value from the `---` front matter at the top of a SKILL.md.
pub fn front_matter(text: &str, key: &str) -> Option<String> {
    let body = text.strip_prefix("---\n")?;
    let (head, _) = body.split_once("\n---")?;
    head.lines().find_map(|line| line.strip_prefix(key)?.strip_prefix(':').map(|v| v.trim().to_string()))
}
