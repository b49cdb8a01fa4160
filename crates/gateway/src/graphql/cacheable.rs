//! What the response cache needs to know of a GraphQL operation, read from its parsed document:
//! whether its answer may be cached and shared by every caller of a class, whether it carries
//! view counts (which change without any edit), and whether a mutation may have changed content.
//!
//! The lists below are allow-lists on purpose: a root field added later is not cached, and a
//! mutation added later invalidates the cache, until someone decides otherwise here.

use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, OperationDefinition, OperationType, Selection,
    SelectionSet,
};

/// Root query fields whose answer depends only on the caller's audience (reader or partner),
/// the content and the clock: never on who exactly is asking (`me`, tokens, webhooks) or from
/// where.
const SHARED_QUERIES: &[&str] = &[
    "site",
    "page",
    "channels",
    "channel",
    "tags",
    "tag",
    "sources",
    "source",
    "article",
    "articles",
    "search",
    "recommended",
    "clickRanking",
    "node",
    "__typename",
    "__schema",
    "__type",
];

/// Mutations that change nothing a cached answer can show: views (counted apart, see
/// [`VOLATILE_FIELDS`]), sign-ins, takedown requests (only editors list them), tokens and
/// webhooks. Every other mutation invalidates the cache.
const CONTENT_NEUTRAL_MUTATIONS: &[&str] = &[
    "recordView",
    "requestTakedown",
    "login",
    "issueApiToken",
    "revokeApiToken",
    "registerWebhook",
    "deleteWebhook",
    "__typename",
];

/// Fields whose values move with every counted view rather than with edits.
const VOLATILE_FIELDS: &[&str] = &["viewCount", "clickRanking"];

/// What the cache makes of one operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Shape {
    /// A query whose every root field is shared: its answer may be cached per caller class.
    pub shared: bool,
    /// It selects view counts or a ranking somewhere.
    pub volatile: bool,
    /// A mutation that may have changed what readers see.
    pub changes_content: bool,
}

/// The shape of the operation `operation_name` picks from `doc`. An operation that cannot be
/// picked (an unknown name, several and none named) is neither shared nor a content change:
/// execution refuses it.
pub fn shape(doc: &ExecutableDocument, operation_name: Option<&str>) -> Shape {
    let operation = match (&doc.operations, operation_name) {
        (DocumentOperations::Single(op), _) => Some(&op.node),
        (DocumentOperations::Multiple(ops), Some(name)) => ops.get(name).map(|op| &op.node),
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => {
            ops.values().next().map(|op| &op.node)
        }
        _ => None,
    };
    let Some(operation) = operation else {
        return Shape::default();
    };
    let roots = root_fields(doc, operation);
    let all_in = |list: &[&str]| roots.iter().all(|name| list.contains(name));
    match operation.ty {
        OperationType::Query => Shape {
            shared: all_in(SHARED_QUERIES),
            volatile: mentions(doc, VOLATILE_FIELDS),
            changes_content: false,
        },
        OperationType::Mutation => Shape {
            shared: false,
            volatile: false,
            changes_content: !all_in(CONTENT_NEUTRAL_MUTATIONS),
        },
        OperationType::Subscription => Shape::default(),
    }
}

/// The names (not aliases) of the operation's root fields, through fragments at the root.
fn root_fields<'a>(
    doc: &'a ExecutableDocument,
    operation: &'a OperationDefinition,
) -> Vec<&'a str> {
    let mut names = Vec::new();
    let mut sets: Vec<&SelectionSet> = vec![&operation.selection_set.node];
    // Fragments spread at the root, each once (a fragment that spreads itself is refused
    // earlier, by the query limits).
    let mut seen = Vec::new();
    while let Some(set) = sets.pop() {
        for item in &set.items {
            match &item.node {
                Selection::Field(field) => names.push(field.node.name.node.as_str()),
                Selection::InlineFragment(inline) => sets.push(&inline.node.selection_set.node),
                Selection::FragmentSpread(spread) => {
                    let name = &spread.node.fragment_name.node;
                    if seen.contains(&name) {
                        continue;
                    }
                    seen.push(name);
                    if let Some(fragment) = doc.fragments.get(name) {
                        sets.push(&fragment.node.selection_set.node);
                    }
                }
            }
        }
    }
    names
}

/// Whether any operation or fragment of `doc` selects a field named in `fields`, at any depth.
/// Looking at the whole document rather than the operation that runs may say yes too often,
/// which only shortens how long an answer is kept.
fn mentions(doc: &ExecutableDocument, fields: &[&str]) -> bool {
    let mut sets: Vec<&SelectionSet> = doc
        .operations
        .iter()
        .map(|(_, op)| &op.node.selection_set.node)
        .collect();
    sets.extend(doc.fragments.values().map(|f| &f.node.selection_set.node));
    while let Some(set) = sets.pop() {
        for item in &set.items {
            match &item.node {
                Selection::Field(field) => {
                    if fields.contains(&field.node.name.node.as_str()) {
                        return true;
                    }
                    sets.push(&field.node.selection_set.node);
                }
                Selection::InlineFragment(inline) => sets.push(&inline.node.selection_set.node),
                Selection::FragmentSpread(_) => {}
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(query: &str, name: Option<&str>) -> Shape {
        shape(&async_graphql::parser::parse_query(query).unwrap(), name)
    }

    #[test]
    fn public_reads_are_shared_and_per_caller_fields_are_not() {
        assert!(of("{ site { name } articles(first: 2) { totalCount } }", None).shared);
        assert!(
            of(
                "query A { ...F } fragment F on Query { channels { slug } }",
                None
            )
            .shared
        );
        assert!(!of("{ site { name } me { username } }", None).shared);
        assert!(!of("{ ... on Query { webhookEndpoints { id } } }", None).shared);
        assert!(!of("query A { site { name } } query B { me { id } }", Some("B")).shared);
        assert!(of("query A { site { name } } query B { me { id } }", Some("A")).shared);
        assert!(!of("query A { site { name } } query B { me { id } }", None).shared);
        assert!(
            !of(
                "mutation { login(username: \"a\", password: \"b\") { token } }",
                None
            )
            .shared
        );
    }

    #[test]
    fn view_counts_and_rankings_are_volatile_wherever_they_are_selected() {
        assert!(!of("{ article(slug: \"a\") { title } }", None).volatile);
        assert!(
            of(
                "{ article(slug: \"a\") { ...C } } fragment C on Article { viewCount }",
                None
            )
            .volatile
        );
        assert!(of("{ r: clickRanking { rank } }", None).volatile);
    }

    #[test]
    fn mutations_change_content_unless_known_not_to() {
        assert!(
            of(
                "mutation { publishArticle(id: \"x\", version: 1) { id } }",
                None
            )
            .changes_content
        );
        assert!(
            !of(
                "mutation { recordView(articleId: \"x\") { counted } }",
                None
            )
            .changes_content
        );
        assert!(
            of(
                "mutation { recordView(articleId: \"x\") { counted } deleteTag(id: \"t\") }",
                None
            )
            .changes_content
        );
        assert!(!of("{ site { name } }", None).changes_content);
    }
}
