//! Query limits: what one GraphQL request may ask of the server. Everything here runs on the
//! parsed document before authentication, rate counting or execution, so a request over a limit
//! touches no database. Each refusal names its limit in `extensions.limit` and the maximum in
//! `extensions.max`.
//!
//! async-graphql's own `limit_depth` and `limit_complexity` stay on as a second line (the
//! complexity needs the schema's per-field costs); the checks here come first because they count
//! fragments once per use in linear time, so a "fragment bomb" cannot make validation itself
//! the expensive part, and they keep every later sum far from overflowing.

use std::collections::HashMap;

use async_graphql::{
    Name, Pos, Positioned, ServerError, Variables,
    parser::types::{
        DocumentOperations, ExecutableDocument, FragmentDefinition, OperationDefinition, Selection,
        SelectionSet,
    },
};

use crate::{config::Config, graphql::errors::Code};

/// How deep an introspection query (`__schema`, `__type`) may nest, whatever the depth limit:
/// the standard one that tools send (GraphiQL's, graphql-js's `getIntrospectionQuery`) follows
/// `ofType` down to depth 15, which a public API's depth limit would refuse. What it reads is the
/// schema, bounded by the schema's size; in production introspection is off altogether.
pub const INTROSPECTION_DEPTH: usize = 16;

/// The limits, read from the configuration once.
#[derive(Debug, Clone, Copy)]
pub struct QueryLimits {
    /// Deepest field nesting.
    pub max_depth: usize,
    /// Most work, as async-graphql counts it.
    pub max_complexity: usize,
    /// Aliased fields in one operation, fragments counted at each use.
    pub max_aliases: usize,
    /// Top-level fields in one operation.
    pub max_root_fields: usize,
    /// Longest query text, in bytes.
    pub max_query_bytes: usize,
    /// Largest `first` / `last`.
    pub max_page_size: u64,
    /// Whether a POST may carry several operations.
    pub batch: bool,
    /// Operations in one batch.
    pub max_batch: usize,
}

impl QueryLimits {
    /// The limits `config` sets.
    pub fn from_config(config: &Config) -> Self {
        QueryLimits {
            max_depth: config.graphql_max_depth,
            max_complexity: config.graphql_max_complexity,
            max_aliases: config.graphql_max_aliases,
            max_root_fields: config.graphql_max_root_fields,
            max_query_bytes: config.graphql_max_query_bytes,
            max_page_size: config.graphql_max_page_size,
            batch: config.graphql_batch,
            max_batch: config.graphql_max_batch,
        }
    }
}

impl Default for QueryLimits {
    fn default() -> Self {
        Self::from_config(&Config::default())
    }
}

/// What a limit refusal says: the message, the limit's name and its maximum.
pub fn over_limit(
    limit: &str,
    max: impl Into<u64>,
    message: String,
    pos: Option<Pos>,
) -> ServerError {
    let mut error = ServerError::new(message, pos);
    let extensions = error.extensions.get_or_insert_with(Default::default);
    extensions.set("code", Code::BadUserInput.as_str());
    extensions.set("limit", limit);
    extensions.set("max", max.into());
    error
}

/// The cost of a list field for complexity: its page size (`first`, else `last`, else the
/// default), clamped to the largest page, times what each item selects. Saturating and capped, so
/// that no query, however nested, overflows async-graphql's sums.
pub fn page_cost(size: Option<i32>, default: i32, child_complexity: usize) -> usize {
    const CAP: usize = 1 << 40;
    let max = usize::try_from(newsroom_domain::pagination::MAX_PAGE_SIZE).unwrap_or(100);
    let size = usize::try_from(size.unwrap_or(default))
        .unwrap_or(0)
        .clamp(1, max);
    size.saturating_mul(child_complexity.max(1)).min(CAP)
}

/// Parses `query`, with a syntax error told by its position and what was expected: never the
/// query text itself, which a client already has and which may be megabytes long.
pub fn parse(query: &str) -> Result<ExecutableDocument, ServerError> {
    async_graphql::parser::parse_query(query).map_err(|e| {
        let positions: Vec<Pos> = e.positions().collect();
        let message = match &e {
            async_graphql::parser::Error::Syntax { message, start, .. } => {
                // pest's message draws the offending line; keep only its last line,
                // `= expected ...`, which names grammar rules and nothing the client sent.
                let expected = message
                    .lines()
                    .rev()
                    .find_map(|line| line.trim_start().strip_prefix("= "))
                    .unwrap_or("unexpected input");
                format!(
                    "syntax error at line {}, column {}: {expected}",
                    start.line, start.column
                )
            }
            other => format!("the query is not valid GraphQL: {other}"),
        };
        let mut error = ServerError::new(message, positions.first().copied());
        error.locations = positions;
        error
            .extensions
            .get_or_insert_with(Default::default)
            .set("code", Code::BadUserInput.as_str());
        error
    })
}

/// Checks a parsed document against every limit. All of its operations are checked, not only
/// the one that would run: async-graphql validates them all.
pub fn check(
    limits: &QueryLimits,
    doc: &ExecutableDocument,
    variables: &Variables,
) -> Result<(), ServerError> {
    let mut fragments = Fragments {
        doc,
        done: HashMap::new(),
        visiting: Vec::new(),
    };
    for (_, operation) in doc.operations.iter() {
        let shape = fragments.selection_set(&operation.node.selection_set.node)?;
        let pos = Some(operation.pos);
        let counted = [
            (
                "depth",
                "field nesting depth",
                shape.depth,
                limits.max_depth,
            ),
            (
                "rootFields",
                "number of top-level fields",
                shape.root_fields,
                limits.max_root_fields,
            ),
            (
                "aliases",
                "number of aliases",
                shape.aliases,
                limits.max_aliases,
            ),
        ];
        for (limit, what, n, max) in counted {
            if n > max {
                return Err(over_limit(
                    limit,
                    max as u64,
                    format!("the operation's {what} is {n}, over the `{limit}` limit of {max}"),
                    pos,
                ));
            }
        }
        // Every field costs at least 1, so more fields than the complexity limit is over it;
        // refusing here keeps validation's own walk short.
        if shape.fields > limits.max_complexity {
            return Err(too_complex(limits));
        }
    }
    check_page_sizes(limits, doc, variables)
}

/// The refusal of a query over the complexity limit.
pub fn too_complex(limits: &QueryLimits) -> ServerError {
    over_limit(
        "complexity",
        limits.max_complexity as u64,
        format!(
            "the query is too complex: it asks for more work than the complexity limit of {} \
             (each field costs 1, a list field its `first` times what it selects)",
            limits.max_complexity
        ),
        None,
    )
}

/// What a selection set adds up to once every fragment is spread where it is used.
#[derive(Debug, Clone, Copy, Default)]
struct Shape {
    depth: usize,
    fields: usize,
    aliases: usize,
    root_fields: usize,
}

impl Shape {
    fn add(&mut self, other: Shape) {
        self.depth = self.depth.max(other.depth);
        self.fields = self.fields.saturating_add(other.fields);
        self.aliases = self.aliases.saturating_add(other.aliases);
        self.root_fields = self.root_fields.saturating_add(other.root_fields);
    }
}

/// Fragment shapes, each computed once however often it is spread.
struct Fragments<'a> {
    doc: &'a ExecutableDocument,
    done: HashMap<&'a Name, Shape>,
    visiting: Vec<&'a Name>,
}

impl<'a> Fragments<'a> {
    fn selection_set(&mut self, set: &'a SelectionSet) -> Result<Shape, ServerError> {
        let mut shape = Shape::default();
        for item in &set.items {
            match &item.node {
                Selection::Field(field) => {
                    let child = self.selection_set(&field.node.selection_set.node)?;
                    // `__typename` costs nothing and adds no depth, as async-graphql counts.
                    let own = usize::from(field.node.name.node != "__typename");
                    let mut depth = child.depth.saturating_add(own);
                    if matches!(field.node.name.node.as_str(), "__schema" | "__type") {
                        // Introspection has a bound of its own (see `INTROSPECTION_DEPTH`).
                        if depth > INTROSPECTION_DEPTH {
                            return Err(over_limit(
                                "depth",
                                INTROSPECTION_DEPTH as u64,
                                format!(
                                    "the introspection query nests {depth} fields deep, over \
                                     the introspection depth limit of {INTROSPECTION_DEPTH}"
                                ),
                                Some(field.pos),
                            ));
                        }
                        depth = 1;
                    }
                    shape.add(Shape {
                        depth,
                        fields: child.fields.saturating_add(own),
                        aliases: child
                            .aliases
                            .saturating_add(usize::from(field.node.alias.is_some())),
                        root_fields: 1,
                    });
                }
                Selection::FragmentSpread(spread) => {
                    let name = &spread.node.fragment_name.node;
                    shape.add(self.fragment(name, spread.pos)?);
                }
                Selection::InlineFragment(inline) => {
                    shape.add(self.selection_set(&inline.node.selection_set.node)?);
                }
            }
        }
        Ok(shape)
    }

    fn fragment(&mut self, name: &'a Name, pos: Pos) -> Result<Shape, ServerError> {
        if let Some(shape) = self.done.get(name) {
            return Ok(*shape);
        }
        if self.visiting.contains(&name) {
            let mut error =
                ServerError::new(format!("fragment `{name}` spreads itself"), Some(pos));
            error
                .extensions
                .get_or_insert_with(Default::default)
                .set("code", Code::BadUserInput.as_str());
            return Err(error);
        }
        // An unknown fragment is validation's to report; it adds nothing here.
        let Some(definition) = self.doc.fragments.get(name) else {
            return Ok(Shape::default());
        };
        self.visiting.push(name);
        let shape = self.selection_set(&definition.node.selection_set.node);
        self.visiting.pop();
        let shape = shape?;
        self.done.insert(name, shape);
        Ok(shape)
    }
}

/// Refuses a `first` or `last` outside 0 to the page size limit, whether written in the query or
/// passed as a variable (or a variable's default).
fn check_page_sizes(
    limits: &QueryLimits,
    doc: &ExecutableDocument,
    variables: &Variables,
) -> Result<(), ServerError> {
    let operations: Vec<&OperationDefinition> =
        doc.operations.iter().map(|(_, op)| &op.node).collect();
    // A variable's value: as sent, else its default in whichever operation declares it.
    let variable = |name: Name| -> Result<async_graphql::Value, ()> {
        variables
            .get(&name)
            .cloned()
            .or_else(|| {
                operations.iter().find_map(|op| {
                    op.variable_definitions
                        .iter()
                        .find(|d| d.node.name.node == name)
                        .and_then(|d| d.node.default_value.as_ref())
                        .map(|v| v.node.clone())
                })
            })
            .ok_or(())
    };
    let mut sets: Vec<&SelectionSet> = operations.iter().map(|op| &op.selection_set.node).collect();
    sets.extend(
        doc.fragments
            .values()
            .map(|f: &Positioned<FragmentDefinition>| &f.node.selection_set.node),
    );
    while let Some(set) = sets.pop() {
        for item in &set.items {
            match &item.node {
                Selection::Field(field) => {
                    for (name, value) in &field.node.arguments {
                        if !matches!(name.node.as_str(), "first" | "last") {
                            continue;
                        }
                        let Ok(async_graphql::Value::Number(n)) =
                            value.node.clone().into_const_with(variable)
                        else {
                            continue;
                        };
                        let Some(n) = n.as_i64() else {
                            continue;
                        };
                        if n < 0 || n.unsigned_abs() > limits.max_page_size {
                            let mut error = over_limit(
                                "pageSize",
                                limits.max_page_size,
                                format!(
                                    "`{}` must be between 0 and {}, got {n} (the page size limit)",
                                    name.node, limits.max_page_size
                                ),
                                Some(value.pos),
                            );
                            error
                                .extensions
                                .get_or_insert_with(Default::default)
                                .set("field", name.node.as_str());
                            return Err(error);
                        }
                    }
                    sets.push(&field.node.selection_set.node);
                }
                Selection::InlineFragment(inline) => sets.push(&inline.node.selection_set.node),
                Selection::FragmentSpread(_) => {}
            }
        }
    }
    Ok(())
}

/// The operation `operation_name` picks from `doc`: the named one, or the only one. `None` when
/// the name matches none, or several are given and none is named (execution reports either).
pub fn operation<'a>(
    doc: &'a ExecutableDocument,
    operation_name: Option<&str>,
) -> Option<&'a Positioned<OperationDefinition>> {
    match (&doc.operations, operation_name) {
        (DocumentOperations::Single(op), _) => Some(op),
        (DocumentOperations::Multiple(ops), Some(name)) => ops.get(name),
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => ops.values().next(),
        (DocumentOperations::Multiple(_), None) => None,
    }
}

/// Refuses a subscription that does not select exactly one field at its root, or selects an
/// introspection field there, as the GraphQL specification requires ("Single root field"). A
/// fragment at the root is refused too: async-graphql would ignore it and run nothing.
pub fn single_root_field(operation: &Positioned<OperationDefinition>) -> Result<(), ServerError> {
    let items = &operation.node.selection_set.node.items;
    let refuse = |message: &str| {
        let mut error = ServerError::new(message, Some(operation.pos));
        error
            .extensions
            .get_or_insert_with(Default::default)
            .set("code", Code::BadUserInput.as_str());
        Err(error)
    };
    match items.as_slice() {
        [item] => match &item.node {
            Selection::Field(field) if field.node.name.node.starts_with("__") => {
                refuse("a subscription's root field must not be an introspection field")
            }
            Selection::Field(_) => Ok(()),
            _ => {
                refuse("a subscription selects its one root field directly, not through a fragment")
            }
        },
        _ => refuse("a subscription selects exactly one root field"),
    }
}

/// Whether the operation `operation_name` picks from `doc` is a mutation. A name that matches no
/// operation is left for execution to report.
pub fn is_mutation(doc: &ExecutableDocument, operation_name: Option<&str>) -> bool {
    use async_graphql::parser::types::OperationType;
    let ty = match (&doc.operations, operation_name) {
        (DocumentOperations::Single(op), _) => Some(op.node.ty),
        (DocumentOperations::Multiple(ops), Some(name)) => ops.get(name).map(|op| op.node.ty),
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => {
            ops.values().next().map(|op| op.node.ty)
        }
        // Several operations and no name: execution refuses it; but refuse GET if any is one.
        (DocumentOperations::Multiple(ops), None) => ops
            .values()
            .map(|op| op.node.ty)
            .find(|ty| *ty == OperationType::Mutation),
    };
    ty == Some(OperationType::Mutation)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> QueryLimits {
        QueryLimits {
            max_depth: 3,
            max_complexity: 10,
            max_aliases: 2,
            max_root_fields: 2,
            max_query_bytes: 1024,
            max_page_size: 50,
            batch: false,
            max_batch: 2,
        }
    }

    fn verdict(query: &str, variables: serde_json::Value) -> Result<(), String> {
        let doc = parse(query).map_err(|e| e.message)?;
        let variables = Variables::from_json(variables);
        check(&limits(), &doc, &variables).map_err(|e| {
            let ext = e.extensions.unwrap_or_default();
            ext.get("limit").map_or(e.message, |v| v.to_string())
        })
    }

    #[test]
    fn each_limit_is_counted_with_fragments_spread_where_used() {
        assert_eq!(verdict("{ a { b { c } } }", serde_json::json!({})), Ok(()));
        assert_eq!(
            verdict("{ a { b { c { d } } } }", serde_json::json!({})),
            Err("\"depth\"".into())
        );
        assert_eq!(
            verdict(
                "{ ...F } fragment F on Q { a { ...G } } fragment G on Q { b { c { d } } }",
                serde_json::json!({})
            ),
            Err("\"depth\"".into())
        );
        assert_eq!(verdict("{ x: a y: a }", serde_json::json!({})), Ok(()));
        assert_eq!(
            verdict("{ x: a y: a z: a }", serde_json::json!({})),
            Err("\"rootFields\"".into())
        );
        assert_eq!(
            verdict("{ a { x: b y: b z: b } }", serde_json::json!({})),
            Err("\"aliases\"".into())
        );
        assert_eq!(
            verdict(
                "{ a { ...F ...F ...F } } fragment F on Q { x: b }",
                serde_json::json!({})
            ),
            Err("\"aliases\"".into())
        );
        assert_eq!(
            verdict("{ a { b c d e f g h i j } }", serde_json::json!({})),
            Ok(())
        );
        assert_eq!(
            verdict("{ a { b c d e f g h i j k } }", serde_json::json!({})),
            Err("\"complexity\"".into())
        );
    }

    #[test]
    fn a_fragment_bomb_is_counted_without_expanding_it() {
        let mut query = String::from("{ ...F40 } fragment F0 on Q { a }");
        for i in 1..=40 {
            query.push_str(&format!(
                " fragment F{i} on Q {{ ...F{j} ...F{j} }}",
                j = i - 1
            ));
        }
        assert_eq!(
            verdict(&query, serde_json::json!({})),
            Err("\"rootFields\"".into())
        );
        assert!(
            verdict(
                "{ ...A } fragment A on Q { ...B } fragment B on Q { ...A }",
                serde_json::json!({})
            )
            .is_err_and(|e| e.contains("spreads itself"))
        );
    }

    #[test]
    fn page_sizes_are_checked_in_the_query_and_in_variables() {
        assert_eq!(
            verdict("{ a(first: 50) { b } }", serde_json::json!({})),
            Ok(())
        );
        assert_eq!(
            verdict("{ a(first: 51) { b } }", serde_json::json!({})),
            Err("\"pageSize\"".into())
        );
        assert_eq!(
            verdict("{ a(last: -1) { b } }", serde_json::json!({})),
            Err("\"pageSize\"".into())
        );
        assert_eq!(
            verdict(
                "query($n: Int) { a(first: $n) { b } }",
                serde_json::json!({ "n": 50 })
            ),
            Ok(())
        );
        assert_eq!(
            verdict(
                "query($n: Int) { a(first: $n) { b } }",
                serde_json::json!({ "n": 51 })
            ),
            Err("\"pageSize\"".into())
        );
        assert_eq!(
            verdict(
                "query($n: Int = 900) { a(first: $n) { b } }",
                serde_json::json!({})
            ),
            Err("\"pageSize\"".into())
        );
        assert_eq!(
            verdict(
                "{ ...F } fragment F on Q { a(first: 51) { b } }",
                serde_json::json!({})
            ),
            Err("\"pageSize\"".into())
        );
    }

    #[test]
    fn a_syntax_error_does_not_echo_the_query() {
        let query = format!("{{ site {{ name }} {}", "x".repeat(10_000));
        let error = parse(&format!("{query} (")).unwrap_err();
        assert!(error.message.len() < 200, "{}", error.message);
        assert!(
            error.message.starts_with("syntax error at line 1"),
            "{}",
            error.message
        );
        assert!(!error.message.contains("xxxx"), "{}", error.message);
    }

    #[test]
    fn deep_nesting_is_a_parse_error_not_a_crash() {
        let query = format!("{}{}", "{ a ".repeat(20_000), "}".repeat(20_000));
        assert!(parse(&query).is_err());
    }

    #[test]
    fn introspection_has_a_depth_bound_of_its_own() {
        let roomy = QueryLimits {
            max_complexity: 100,
            ..limits()
        };
        let depth_of = |query: &str| {
            let doc = parse(query).unwrap();
            check(&roomy, &doc, &Variables::default())
                .map_err(|e| e.extensions.unwrap_or_default().get("limit").cloned())
        };
        let nested = |levels: usize| {
            format!(
                "{{ __type(name: \"A\") {{ {}name{} }} }}",
                "ofType { ".repeat(levels),
                " }".repeat(levels)
            )
        };
        assert_eq!(depth_of(&nested(INTROSPECTION_DEPTH - 2)), Ok(()));
        assert_eq!(
            depth_of(&nested(INTROSPECTION_DEPTH - 1)),
            Err(Some(async_graphql::Value::from("depth")))
        );
        // Outside introspection, the configured limit (3 here) holds.
        assert_eq!(depth_of("{ a { __type(name: \"A\") { name } } }"), Ok(()));
        assert!(depth_of("{ a { b { c { d } } } }").is_err());
    }

    #[test]
    fn a_subscription_selects_one_plain_root_field() {
        let root = |query: &str| {
            let doc = parse(query).unwrap();
            let op = operation(&doc, None).unwrap();
            single_root_field(op).map_err(|e| e.message)
        };
        assert_eq!(root("subscription { a { b } }"), Ok(()));
        assert!(root("subscription { a b }").is_err_and(|e| e.contains("exactly one")));
        assert!(root("subscription { __typename }").is_err_and(|e| e.contains("introspection")));
        assert!(
            root("subscription { ...F } fragment F on S { a }")
                .is_err_and(|e| e.contains("fragment"))
        );
        let doc = parse("query A { a } subscription B { b }").unwrap();
        assert!(operation(&doc, None).is_none());
        assert!(operation(&doc, Some("B")).is_some());
    }

    #[test]
    fn costs_saturate() {
        assert_eq!(page_cost(Some(i32::MAX), 20, usize::MAX), 1 << 40);
        assert_eq!(page_cost(Some(-7), 20, 3), 3);
        assert_eq!(page_cost(None, 20, 3), 60);
    }
}
