//! The subscription root: `articlePublished`.
//!
//! A subscription is run once when it starts, to check its arguments and learn what it listens
//! for (its [`Interest`]), and then once for each publication it wants, with a fresh
//! [`super::loaders::RequestContext`] each time: a payload is resolved like the answer to a
//! query made at that moment (its own "now", fresh dataloaders, the caller's audience), not
//! through caches as old as the connection. [`super::ws`] drives both runs.

use std::{
    collections::HashSet,
    sync::{Arc, Mutex, PoisonError},
};

use async_graphql::{Context, Subscription as SubscriptionObject};
use futures::Stream;
use newsroom_domain::{
    Error as DomainError, articles::Audience, catalog, changes::Publication, entities::article,
};

use super::{
    errors::GqlResultExt,
    types::{Article, request},
};

/// The subscription root type.
#[derive(Debug, Default, Clone, Copy)]
pub struct Subscription;

/// What a subscription listens for, learned on its first run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Interest {
    /// The channels it wants, sub-channels included; `None` for every channel.
    channels: Option<HashSet<i64>>,
}

impl Interest {
    /// Whether a caller of `audience` with this interest is told of `publication`: partners only
    /// of what they may republish, everyone only of what readers see.
    pub fn wants(&self, publication: &Publication, audience: Audience) -> bool {
        let allowed = match audience.public() {
            Audience::Partner => publication.for_partners,
            Audience::Reader | Audience::Editor => true,
        };
        allowed && self.covers(&publication.article)
    }

    fn covers(&self, article: &article::Model) -> bool {
        self.channels
            .as_ref()
            .is_none_or(|channels| channels.contains(&article.channel_id))
    }
}

/// Request data of a subscription's first run: where its resolver leaves the [`Interest`].
#[derive(Debug, Default)]
pub struct Starting(Mutex<Option<Interest>>);

impl Starting {
    /// The interest the first run found, if it got that far.
    pub fn take(&self) -> Option<Interest> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).take()
    }
}

/// Request data of a run for one publication.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// What became visible.
    pub publication: Arc<Publication>,
    /// What the subscription listens for.
    pub interest: Arc<Interest>,
}

#[SubscriptionObject]
impl Subscription {
    /// An article at the moment it becomes visible: when it is published, and a scheduled one
    /// when its publish time comes. `channel` (a slug) narrows it to that channel and its
    /// sub-channels. Partners are told only of articles they may republish; drafts, taken-down
    /// and unpublished articles are never told. Served over WebSocket at `/graphql`
    /// (graphql-transport-ws); see the README.
    async fn article_published(
        &self,
        ctx: &Context<'_>,
        channel: Option<String>,
    ) -> async_graphql::Result<impl Stream<Item = Article> + use<>> {
        let req = request(ctx)?;
        if let Some(delivery) = ctx.data_opt::<Delivery>() {
            let told = delivery
                .interest
                .wants(&delivery.publication, req.audience())
                .then(|| Article(delivery.publication.article.clone()));
            return Ok(futures::stream::iter(told));
        }
        let channels = match channel {
            None => None,
            Some(slug) => Some(
                catalog::channel_with_descendants(&req.db, &slug)
                    .await
                    .gql()?
                    .ok_or_else(|| {
                        DomainError::validation(
                            "channel",
                            format!("no channel has the slug `{slug}`"),
                        )
                    })
                    .gql()?
                    .into_iter()
                    .collect(),
            ),
        };
        if let Some(starting) = ctx.data_opt::<Arc<Starting>>() {
            *starting.0.lock().unwrap_or_else(PoisonError::into_inner) =
                Some(Interest { channels });
        }
        Ok(futures::stream::iter(None))
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use newsroom_domain::entities::{ArticleKind, ArticleStatus, BodyFormat};

    use super::*;

    fn publication(channel_id: i64, for_partners: bool) -> Publication {
        let now = Utc::now();
        Publication {
            article: article::Model {
                id: 1,
                slug: "a".into(),
                title: "A".into(),
                lead: None,
                body: String::new(),
                body_format: BodyFormat::Markdown,
                cover_image: None,
                author: None,
                channel_id,
                source_id: None,
                original_url: None,
                original_published_at: None,
                kind: ArticleKind::Original,
                status: ArticleStatus::Published,
                published_at: Some(now),
                featured: false,
                recommended: false,
                disclaimer: None,
                view_count: 0,
                version: 1,
                created_at: now,
                updated_at: now,
            },
            for_partners,
        }
    }

    #[test]
    fn partners_hear_only_of_what_they_may_republish_and_channels_narrow() {
        let everything = Interest::default();
        let parks = Interest {
            channels: Some(HashSet::from([7, 8])),
        };
        assert!(everything.wants(&publication(1, false), Audience::Reader));
        assert!(everything.wants(&publication(1, false), Audience::Editor));
        assert!(!everything.wants(&publication(1, false), Audience::Partner));
        assert!(everything.wants(&publication(1, true), Audience::Partner));
        assert!(parks.wants(&publication(8, false), Audience::Reader));
        assert!(!parks.wants(&publication(1, false), Audience::Reader));
    }
}
