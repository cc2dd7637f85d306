//! Where a session's refresh tokens stand: read, and moved on by one in a single conditional
//! update (no table of tokens).

use diesel::prelude::*;
use wxlogin_domain::RefreshState;

use crate::database::Database;
use crate::error::DbResult;
use crate::schema::sessions;
use crate::sessions::SessionRow;

impl Database {
    pub(crate) fn find_refresh_state(&self, id: &str) -> DbResult<Option<RefreshState>> {
        let found: Option<(SessionRow, i64, Option<i64>, Option<i64>)> = sessions::table
            .filter(sessions::id.eq(id))
            .select((
                SessionRow::as_select(),
                sessions::refresh_counter,
                sessions::refreshed_at,
                sessions::prior_refreshed_at,
            ))
            .first(&mut *self.conn()?)
            .optional()?;
        Ok(found.map(
            |(row, counter, refreshed_at, prior_refreshed_at)| RefreshState {
                session: row.into(),
                counter,
                refreshed_at,
                prior_refreshed_at,
            },
        ))
    }

    pub(crate) fn rotate_refresh(&self, id: &str, counter: i64, now: i64) -> DbResult<bool> {
        // One statement, compare-and-set on the counter: of two instances spending the same
        // token at once, one moves it on and the other reads the state again.
        let moved = diesel::update(sessions::table)
            .filter(sessions::id.eq(id))
            .filter(sessions::refresh_counter.eq(counter))
            .filter(sessions::revoked_at.is_null())
            .filter(sessions::expires_at.ge(now))
            .set((
                sessions::refresh_counter.eq(counter + 1),
                sessions::prior_refreshed_at.eq(sessions::refreshed_at),
                sessions::refreshed_at.eq(now),
            ))
            .execute(&mut *self.writer()?)?;
        Ok(moved == 1)
    }
}
