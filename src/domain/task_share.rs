//! Task share codes (seed 003): what a code lets its holder do, and the secrets
//! involved.
//!
//! A share code derives from its `task_share_id` under the link key (like share-link
//! tokens), so the owner can read it back while the database keeps only its hash.
//! A viewer exchanges the code for a viewer session: a random bearer token
//! (`vst_…`, 256 bits) stored only as a hash, scoped to one task and the code's
//! permissions, with an expiry.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Prefix of viewer session tokens.
pub const SESSION_PREFIX: &str = "vst_";
/// Length of a share code.
pub const CODE_LEN: usize = 24;
/// How long a viewer session lasts (never beyond its code's expiry).
pub const SESSION_LIFETIME_MS: i64 = 24 * 60 * 60 * 1000;

/// What a code's holder may do (seed 003 `permissions`). Viewing the task and its
/// progress is always allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CodePermissions {
    /// Post messages to the task (default false).
    pub can_send_message: bool,
    /// Open pull requests (default false).
    pub can_create_pr: bool,
    /// Approve pull requests (default false).
    pub can_approve_pr: bool,
    /// See pull requests and their diffs (default true).
    pub can_view_pr: bool,
    /// Merge pull requests (default false).
    pub can_merge_pr: bool,
}

impl Default for CodePermissions {
    /// Seed 003 defaults: view-only.
    fn default() -> CodePermissions {
        CodePermissions {
            can_send_message: false,
            can_create_pr: false,
            can_approve_pr: false,
            can_view_pr: true,
            can_merge_pr: false,
        }
    }
}

/// Permissions as a request gives them; omitted fields take their defaults.
#[derive(Debug, Clone, Copy, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CodePermissionsRequest {
    pub can_send_message: Option<bool>,
    pub can_create_pr: Option<bool>,
    pub can_approve_pr: Option<bool>,
    pub can_view_pr: Option<bool>,
    pub can_merge_pr: Option<bool>,
}

impl CodePermissionsRequest {
    pub fn resolve(self) -> CodePermissions {
        let d = CodePermissions::default();
        CodePermissions {
            can_send_message: self.can_send_message.unwrap_or(d.can_send_message),
            can_create_pr: self.can_create_pr.unwrap_or(d.can_create_pr),
            can_approve_pr: self.can_approve_pr.unwrap_or(d.can_approve_pr),
            can_view_pr: self.can_view_pr.unwrap_or(d.can_view_pr),
            can_merge_pr: self.can_merge_pr.unwrap_or(d.can_merge_pr),
        }
    }
}

/// An action a viewer session may or may not be allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    SendMessage,
    ViewPr,
    CreatePr,
    ApprovePr,
    MergePr,
}

impl Action {
    /// The permission (by its seed-003 name) that allows the action.
    pub fn permission(self) -> &'static str {
        match self {
            Action::SendMessage => "canSendMessage",
            Action::ViewPr => "canViewPr",
            Action::CreatePr => "canCreatePr",
            Action::ApprovePr => "canApprovePr",
            Action::MergePr => "canMergePr",
        }
    }
}

impl CodePermissions {
    /// Every permission (what a task's owner holds).
    pub const ALL: CodePermissions = CodePermissions {
        can_send_message: true,
        can_create_pr: true,
        can_approve_pr: true,
        can_view_pr: true,
        can_merge_pr: true,
    };

    pub fn allows(self, action: Action) -> bool {
        match action {
            Action::SendMessage => self.can_send_message,
            Action::ViewPr => self.can_view_pr,
            Action::CreatePr => self.can_create_pr,
            Action::ApprovePr => self.can_approve_pr,
            Action::MergePr => self.can_merge_pr,
        }
    }
}

/// True when `token` has the shape of a viewer session token.
pub fn is_session_token(token: &str) -> bool {
    token.strip_prefix(SESSION_PREFIX).is_some_and(|rest| {
        rest.len() == 43 && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn omitted_permissions_take_the_view_only_defaults() {
        let p = CodePermissionsRequest { can_send_message: Some(true), ..Default::default() }.resolve();
        assert!(p.can_send_message && p.can_view_pr);
        assert!(!p.can_create_pr && !p.can_approve_pr && !p.can_merge_pr);
        assert_eq!(CodePermissionsRequest::default().resolve(), CodePermissions::default());
        let none = CodePermissionsRequest { can_view_pr: Some(false), ..Default::default() }.resolve();
        assert!(!none.allows(Action::ViewPr));
    }

    #[test]
    fn permissions_serialize_in_camel_case() {
        let json = serde_json::to_value(CodePermissions::default()).unwrap();
        assert_eq!(json["canViewPr"], true);
        assert_eq!(json["canMergePr"], false);
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;
    use proptest::sample::select;

    use super::*;

    const FLAGS: [&str; 5] = ["canSendMessage", "canCreatePr", "canApprovePr", "canViewPr", "canMergePr"];

    /// The flag of the seed-003 permissions that governs `action`, by its JSON name.
    fn flag_of(action: Action) -> &'static str {
        match action {
            Action::SendMessage => "canSendMessage",
            Action::ViewPr => "canViewPr",
            Action::CreatePr => "canCreatePr",
            Action::ApprovePr => "canApprovePr",
            Action::MergePr => "canMergePr",
        }
    }

    fn request() -> impl Strategy<Value = (serde_json::Value, CodePermissionsRequest)> {
        prop::collection::btree_map(select(FLAGS.to_vec()), any::<bool>(), 0..=5).prop_map(|named| {
            let body = serde_json::to_value(&named).unwrap();
            let request = serde_json::from_value(body.clone()).expect("known flags parse");
            (body, request)
        })
    }

    proptest! {
        #[test]
        fn a_code_gets_the_permissions_its_request_names_and_view_only_defaults_for_the_rest(
            (body, request) in request()
        ) {
            let resolved = serde_json::to_value(request.resolve()).unwrap();
            for flag in FLAGS {
                // Seed 003 defaults: viewing pull requests only.
                let default = flag == "canViewPr";
                let expected = body.get(flag).cloned().unwrap_or(serde_json::Value::Bool(default));
                prop_assert_eq!(&resolved[flag], &expected, "{} from {}", flag, body);
            }
            prop_assert_eq!(resolved.as_object().unwrap().len(), FLAGS.len());
        }

        #[test]
        fn an_action_is_allowed_exactly_when_its_flag_is_granted(
            (_, request) in request(),
            action in select(vec![
                Action::SendMessage,
                Action::ViewPr,
                Action::CreatePr,
                Action::ApprovePr,
                Action::MergePr,
            ]),
        ) {
            let permissions = request.resolve();
            let granted = serde_json::to_value(permissions).unwrap()[flag_of(action)].as_bool().unwrap();
            prop_assert_eq!(permissions.allows(action), granted, "{:?} under {:?}", action, permissions);
            // Granting only this flag allows this action and nothing else.
            let only: CodePermissions = {
                let mut none = serde_json::json!({});
                for flag in FLAGS {
                    none[flag] = serde_json::Value::Bool(flag == flag_of(action));
                }
                serde_json::from_value::<CodePermissionsRequest>(none).unwrap().resolve()
            };
            let actions =
                [Action::SendMessage, Action::ViewPr, Action::CreatePr, Action::ApprovePr, Action::MergePr];
            for other in actions {
                prop_assert_eq!(only.allows(other), other == action, "{:?} with only {:?}", other, action);
            }
        }

        #[test]
        fn session_tokens_are_recognised_by_shape_alone(
            rest in prop_oneof![
                "[A-Za-z0-9_-]{43}",
                "[A-Za-z0-9_-]{0,42}",
                "[A-Za-z0-9_-]{44,50}",
                "[A-Za-z0-9_-]{0,20}[^A-Za-z0-9_-][A-Za-z0-9_-]{0,22}",
            ],
            prefix in prop_oneof![Just(SESSION_PREFIX.to_owned()), "[a-z_]{0,5}"],
        ) {
            let token = format!("{prefix}{rest}");
            let expected = prefix == SESSION_PREFIX
                && rest.len() == 43
                && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            prop_assert_eq!(is_session_token(&token), expected, "{:?}", token);
        }
    }
}
