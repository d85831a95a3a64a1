//! The owner's sharing policy: reading and saving it, and the checks that hold
//! every new or changed share link and every new share code to it.
//!
//! A policy applies from the moment it is saved, to what is made or changed from
//! then on; links and codes that exist are not changed by it. A link changed later
//! must meet the policy as it is after the change (so a change to a link made under
//! an older policy may need to bring its expiry or password along).

use super::error::{Error, Result};
use super::AppState;
use crate::domain::policy::{SharingPolicy, MAX_LINK_LIFETIME_DAYS};
use crate::domain::share::DEFAULT_LIFETIME_DAYS;
use crate::domain::task_share::CodePermissions;
use crate::domain::time::Timestamp;
use crate::storage::Owner;

/// `owner`'s sharing policy (the default until they save one).
pub async fn get(state: &AppState, owner: &Owner) -> Result<SharingPolicy> {
    Ok(state.db().sharing_policy(&owner.owner_id).await?)
}

/// Replaces `owner`'s sharing policy with `policy`; answers it as stored. An
/// invalid policy is refused and nothing is stored.
pub async fn save(state: &AppState, owner: &Owner, policy: SharingPolicy) -> Result<SharingPolicy> {
    if let Some(days) = policy.max_link_lifetime_days {
        if !(1..=MAX_LINK_LIFETIME_DAYS).contains(&days) {
            return Err(Error::invalid(
                "max_link_lifetime_days",
                format!("max_link_lifetime_days must be from 1 to {MAX_LINK_LIFETIME_DAYS} days, or null"),
            ));
        }
    }
    let saved = state.db().save_sharing_policy(&owner.owner_id, &policy).await?;
    tracing::info!(owner_id = %owner.owner_id, "sharing policy saved");
    Ok(saved)
}

/// The expiry of a link made without one: the default lifetime, or the policy's
/// maximum when that is shorter.
pub fn default_expiry(policy: &SharingPolicy, now: Timestamp) -> Timestamp {
    let days =
        policy.max_link_lifetime_days.map_or(DEFAULT_LIFETIME_DAYS, |max| max.min(DEFAULT_LIFETIME_DAYS));
    now.plus_days(days)
}

/// A share link as it would be once made or changed: what the policy judges.
#[derive(Debug, Clone, Copy)]
pub struct LinkTerms {
    pub expires_at: Timestamp,
    pub has_password: bool,
    /// Whether the link restricts who may open it to an audience (email addresses
    /// or domains) instead of anyone holding it.
    pub restricted_audience: bool,
}

/// Checks a link against `policy` at `now`; the refusal names the field that
/// breaks it (`expires_at`, `password` or `audience`).
pub fn check_link(policy: &SharingPolicy, link: &LinkTerms, now: Timestamp) -> Result<()> {
    if let Some(days) = policy.max_link_lifetime_days {
        if link.expires_at > now.plus_days(days) {
            return Err(Error::invalid(
                "expires_at",
                format!(
                    "Your sharing policy allows links to last at most {days} day{}: choose an earlier expires_at",
                    if days == 1 { "" } else { "s" }
                ),
            ));
        }
    }
    if policy.require_password && !link.has_password {
        return Err(Error::invalid("password", "Your sharing policy requires every link to have a password"));
    }
    if policy.require_audience && !link.restricted_audience {
        return Err(Error::invalid(
            "audience",
            "Your sharing policy requires every link to be restricted to an audience (email addresses or domains)",
        ));
    }
    Ok(())
}

/// The write permissions of a share code, by their seed-003 names.
fn write_permissions(p: CodePermissions) -> [(bool, &'static str); 4] {
    [
        (p.can_send_message, "canSendMessage"),
        (p.can_create_pr, "canCreatePr"),
        (p.can_approve_pr, "canApprovePr"),
        (p.can_merge_pr, "canMergePr"),
    ]
}

/// Checks a new share code's permissions against `policy`; the refusal names the
/// first write permission the policy does not allow (`permissions.canSendMessage`…).
pub fn check_code(policy: &SharingPolicy, permissions: CodePermissions) -> Result<()> {
    if policy.allow_share_code_write {
        return Ok(());
    }
    match write_permissions(permissions).into_iter().find(|(granted, _)| *granted) {
        Some((_, name)) => Err(Error::invalid(
            format!("permissions.{name}"),
            format!(
                "permissions.{name} is not allowed: your sharing policy allows share codes to view only \
                 (no messages or pull-request actions)"
            ),
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000;

    fn terms(expires_in_days: i64) -> LinkTerms {
        LinkTerms {
            expires_at: Timestamp(expires_in_days * DAY),
            has_password: true,
            restricted_audience: true,
        }
    }

    #[test]
    fn the_default_policy_allows_everything() {
        let policy = SharingPolicy::default();
        let open =
            LinkTerms { expires_at: Timestamp(3650 * DAY), has_password: false, restricted_audience: false };
        assert!(check_link(&policy, &open, Timestamp(0)).is_ok());
        assert!(check_code(&policy, CodePermissions::ALL).is_ok());
        assert_eq!(default_expiry(&policy, Timestamp(0)), Timestamp(30 * DAY));
    }

    #[test]
    fn each_rule_names_its_field() {
        let field = |policy: SharingPolicy, link: LinkTerms| match check_link(&policy, &link, Timestamp(0)) {
            Err(Error::Invalid(e)) => e.field,
            other => panic!("{other:?}"),
        };
        let lifetime = SharingPolicy { max_link_lifetime_days: Some(7), ..SharingPolicy::default() };
        assert!(check_link(&lifetime, &terms(7), Timestamp(0)).is_ok());
        assert_eq!(field(lifetime, terms(8)), "expires_at");
        assert_eq!(default_expiry(&lifetime, Timestamp(0)), Timestamp(7 * DAY));
        let password = SharingPolicy { require_password: true, ..SharingPolicy::default() };
        assert_eq!(field(password, LinkTerms { has_password: false, ..terms(1) }), "password");
        let audience = SharingPolicy { require_audience: true, ..SharingPolicy::default() };
        assert!(check_link(&audience, &terms(1), Timestamp(0)).is_ok(), "a restricted audience meets it");
        assert_eq!(field(audience, LinkTerms { restricted_audience: false, ..terms(1) }), "audience");
    }

    #[test]
    fn view_only_codes_meet_a_policy_without_write() {
        let policy = SharingPolicy { allow_share_code_write: false, ..SharingPolicy::default() };
        assert!(check_code(&policy, CodePermissions::default()).is_ok());
        let refused = |p: CodePermissions| match check_code(&policy, p) {
            Err(Error::Invalid(e)) => e.field,
            other => panic!("{other:?}"),
        };
        let base = CodePermissions::default();
        assert_eq!(refused(CodePermissions { can_send_message: true, ..base }), "permissions.canSendMessage");
        assert_eq!(refused(CodePermissions { can_create_pr: true, ..base }), "permissions.canCreatePr");
        assert_eq!(refused(CodePermissions { can_approve_pr: true, ..base }), "permissions.canApprovePr");
        assert_eq!(refused(CodePermissions { can_merge_pr: true, ..base }), "permissions.canMergePr");
        assert!(check_code(&SharingPolicy::default(), CodePermissions::ALL).is_ok());
    }
}
