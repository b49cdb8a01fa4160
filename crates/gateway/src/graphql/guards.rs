//! Role guards: every mutation and every editor-only field states who may use it with
//! `#[graphql(guard = ...)]`, checked before the resolver runs.

use async_graphql::{Context, Guard};
use newsroom_domain::entities::Role;

use super::{
    errors::{Code, coded},
    types::request,
};

/// Who a guard lets through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleGuard {
    /// Editors and admins.
    Editor,
    /// Admins only.
    Admin,
    /// Syndication partners only.
    Partner,
    /// Partners (their own things), editors and admins (everyone's).
    PartnerOrEditor,
}

impl Guard for RoleGuard {
    async fn check(&self, ctx: &Context<'_>) -> async_graphql::Result<()> {
        let Some(role) = request(ctx)?.caller.role() else {
            return Err(coded(
                Code::Unauthenticated,
                "sign in first: this needs a token",
            ));
        };
        let allowed = match self {
            RoleGuard::Editor => role.is_editorial(),
            RoleGuard::Admin => role == Role::Admin,
            RoleGuard::Partner => role == Role::Partner,
            RoleGuard::PartnerOrEditor => role == Role::Partner || role.is_editorial(),
        };
        if allowed {
            Ok(())
        } else {
            let needed = match self {
                RoleGuard::Editor => "an editor or admin",
                RoleGuard::Admin => "an admin",
                RoleGuard::Partner => "a partner",
                RoleGuard::PartnerOrEditor => "a partner, an editor or an admin",
            };
            Err(coded(Code::Forbidden, format!("only {needed} may do this")))
        }
    }
}
