//! Hand-written PostgreSQL statements that diesel still prepares once per connection.
//!
//! `diesel::sql_query` is never cached (diesel cannot know that its text is constant), so a
//! statement sent through it is parsed and planned on every execution: for a login's
//! data-modifying CTE that was more of the database's CPU than running it. A [`Statement`]
//! has constant text, so diesel caches it by that text like any query it builds itself.

use diesel::pg::Pg;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{Array, BigInt, Nullable, Text, Untyped};
use diesel::{QueryResult, RunQueryDsl};

/// A value bound to one `?` of a [`Statement`].
pub(crate) enum Bind<'a> {
    Text(&'a str),
    OptionalText(Option<&'a str>),
    BigInt(i64),
    /// A `text[]`, as `unnest(?::text[])` reads it.
    TextArray(Vec<&'a str>),
    /// A `bigint[]`.
    BigIntArray(Vec<i64>),
}

/// Constant SQL whose `?`s take `binds` in order (each `?` its own value, even when two are
/// the same), loaded into a `QueryableByName` row or executed.
pub(crate) struct Statement<'a> {
    sql: &'static str,
    binds: Vec<Bind<'a>>,
}

impl<'a> Statement<'a> {
    pub(crate) fn new(sql: &'static str, binds: Vec<Bind<'a>>) -> Self {
        Self { sql, binds }
    }
}

impl QueryFragment<Pg> for Statement<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        let mut binds = self.binds.iter();
        for (i, part) in self.sql.split('?').enumerate() {
            if i > 0 {
                match binds.next() {
                    Some(Bind::Text(value)) => out.push_bind_param::<Text, _>(value)?,
                    Some(Bind::OptionalText(value)) => {
                        out.push_bind_param::<Nullable<Text>, _>(value)?;
                    }
                    Some(Bind::BigInt(value)) => out.push_bind_param::<BigInt, _>(value)?,
                    Some(Bind::TextArray(values)) => {
                        out.push_bind_param::<Array<Text>, _>(values)?;
                    }
                    Some(Bind::BigIntArray(values)) => {
                        out.push_bind_param::<Array<BigInt>, _>(values)?;
                    }
                    None => {
                        return Err(diesel::result::Error::QueryBuilderError(
                            "a statement has more `?` than values".into(),
                        ));
                    }
                }
            }
            out.push_sql(part);
        }
        if binds.next().is_some() {
            return Err(diesel::result::Error::QueryBuilderError(
                "a statement has more values than `?`".into(),
            ));
        }
        Ok(())
    }
}

/// Not a static id: diesel keys its statement cache by the SQL text, which is constant.
impl QueryId for Statement<'_> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl Query for Statement<'_> {
    type SqlType = Untyped;
}

impl<Conn> RunQueryDsl<Conn> for Statement<'_> {}

/// What a PostgreSQL-only statement gives on another backend: the caller chose the wrong path.
pub(crate) fn only_on_postgres() -> crate::error::DbError {
    diesel::result::Error::QueryBuilderError("a PostgreSQL statement on another backend".into())
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use diesel::query_builder::QueryBuilder;

    fn sql(statement: &Statement<'_>) -> QueryResult<String> {
        let mut builder = diesel::pg::PgQueryBuilder::default();
        statement.to_sql(&mut builder, &Pg)?;
        Ok(builder.finish())
    }

    #[test]
    fn every_question_mark_becomes_the_next_placeholder() {
        let statement = Statement::new(
            "SELECT ? WHERE ? IS NULL OR x = ?",
            vec![Bind::Text("a"), Bind::OptionalText(None), Bind::BigInt(3)],
        );
        assert_eq!(
            sql(&statement).expect("builds"),
            "SELECT $1 WHERE $2 IS NULL OR x = $3"
        );
    }

    #[test]
    fn a_miscount_of_values_is_an_error_not_a_wrong_statement() {
        let too_few = Statement::new("SELECT ?, ?", vec![Bind::Text("a")]);
        assert!(sql(&too_few).is_err());
        let too_many = Statement::new("SELECT ?", vec![Bind::Text("a"), Bind::BigInt(1)]);
        assert!(sql(&too_many).is_err());
    }
}
