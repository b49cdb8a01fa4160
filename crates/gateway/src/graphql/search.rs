//! Search results in GraphQL: hits with their article, score and marked-up snippet.

use std::sync::Arc;

use async_graphql::{Context, Object};
use newsroom_domain::{
    articles::{ArticleFilter, Audience},
    search::{self, Highlight, SearchQuery},
};

use super::{
    Services,
    errors::GqlResultExt,
    types::{Article, request},
};

/// An article that matches a search.
pub struct SearchHit {
    /// The match.
    pub hit: search::Hit,
    /// The query it matched, for the snippet.
    pub query: Arc<SearchQuery>,
}

#[Object]
impl SearchHit {
    /// The article.
    async fn article(&self) -> Article {
        Article(self.hit.article.clone())
    }

    /// How well it matched; higher is better. Comparable only between hits of one search.
    async fn score(&self) -> f64 {
        self.hit.score
    }

    /// The passage of the lead or body that best shows the match, as HTML: the text escaped, each
    /// run of matching words between `highlightStart` and `highlightEnd` (inserted as given, at
    /// most 64 characters each), `…` where the passage was cut. At most 120 characters of text.
    async fn snippet(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = "<mark>")] highlight_start: String,
        #[graphql(default = "</mark>")] highlight_end: String,
    ) -> async_graphql::Result<String> {
        let highlight = Highlight::new(&highlight_start, &highlight_end).gql()?;
        let segmenter = &ctx.data::<Services>()?.segmenter;
        Ok(search::snippet(
            segmenter,
            &self.hit.article,
            self.query.words(),
            &highlight,
        ))
    }
}

/// Extra fields of a search connection.
pub struct SearchConnectionFields {
    /// The query.
    pub query: Arc<SearchQuery>,
    /// The filter.
    pub filter: ArticleFilter,
    /// Who is searching.
    pub audience: Audience,
}

#[Object]
impl SearchConnectionFields {
    /// How many articles match, on every page together. Counted only when asked for.
    async fn total_count(&self, ctx: &Context<'_>) -> async_graphql::Result<u64> {
        let req = request(ctx)?;
        search::count(&req.db, req.now, self.audience, &self.query, &self.filter)
            .await
            .gql()
    }
}
