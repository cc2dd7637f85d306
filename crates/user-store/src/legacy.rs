//! Rows from before identities existed (a server that served one mini program), given to the
//! app they came from.

use diesel::prelude::*;

use crate::connection::AnyConnection;
use crate::error::DbResult;
use crate::schema::{identities, sessions};

/// Rows made before identities existed (appid `''`), given to the app they came from.
pub(crate) fn claim_legacy_rows(conn: &mut AnyConnection, appid: &str) -> DbResult<usize> {
    if appid.is_empty() {
        return Ok(0);
    }
    conn.transaction(|conn| {
        let claimed = diesel::update(identities::table.filter(identities::appid.eq("")))
            .set(identities::appid.eq(appid))
            .execute(&mut *conn)?;
        diesel::update(sessions::table.filter(sessions::appid.eq("")))
            .set(sessions::appid.eq(appid))
            .execute(&mut *conn)?;
        Ok(claimed)
    })
}

/// How many identities still wait for the app they came from.
pub(crate) fn unclaimed_legacy_rows(conn: &mut AnyConnection) -> DbResult<i64> {
    Ok(identities::table
        .filter(identities::appid.eq(""))
        .count()
        .get_result(conn)?)
}
