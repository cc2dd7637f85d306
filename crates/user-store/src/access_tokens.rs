//! The WeChat access token of each app, one row per appid, shared by every instance: a lease
//! picks the one instance that fetches, and expiring a refused token is a compare-and-set.

use diesel::prelude::*;
use wxlogin_domain::{AccessToken, StoredAccessToken};

use crate::connection::AnyConnection;
use crate::database::Database;
use crate::error::DbResult;
use crate::schema::access_tokens;

#[derive(Queryable, Selectable)]
#[diesel(table_name = access_tokens)]
struct AccessTokenRow {
    token: String,
    expires_at: i64,
    fetches: i64,
}

/// Makes sure `appid` has its access token row, on either backend.
fn ensure_row(conn: &mut AnyConnection, appid: &str) -> DbResult<()> {
    let row = access_tokens::appid.eq(appid);
    match conn {
        AnyConnection::Postgresql(c) => diesel::insert_into(access_tokens::table)
            .values(row)
            .on_conflict(access_tokens::appid)
            .do_nothing()
            .execute(c)?,
        AnyConnection::Sqlite(c) => diesel::insert_into(access_tokens::table)
            .values(row)
            .on_conflict(access_tokens::appid)
            .do_nothing()
            .execute(c)?,
    };
    Ok(())
}

/// Gives up `owner`'s lease on the access token of `appid`, if it holds it.
fn release_lease(conn: &mut AnyConnection, appid: &str, owner: &str) -> DbResult<()> {
    diesel::update(access_tokens::table)
        .filter(access_tokens::appid.eq(appid))
        .filter(access_tokens::lease_owner.eq(owner))
        .set((
            access_tokens::lease_owner.eq(None::<String>),
            access_tokens::lease_until.eq(0),
        ))
        .execute(conn)?;
    Ok(())
}

fn load_row(conn: &mut AnyConnection, appid: &str) -> DbResult<Option<AccessTokenRow>> {
    Ok(access_tokens::table
        .filter(access_tokens::appid.eq(appid))
        .select(AccessTokenRow::as_select())
        .get_result(conn)
        .optional()?)
}

impl Database {
    pub(crate) fn load_access_token(&self, appid: &str) -> DbResult<Option<StoredAccessToken>> {
        let Some(row) = load_row(&mut *self.conn()?, appid)? else {
            return Ok(None);
        };
        if row.token.is_empty() {
            return Ok(None);
        }
        match self.sealer.open(&row.token, appid) {
            Ok(token) => Ok(Some(StoredAccessToken {
                token: AccessToken::new(token),
                use_until: row.expires_at,
                fetches: row.fetches,
            })),
            Err(e) => {
                // Sealed under a key rotated away: as good as no token; a new one replaces it.
                log::warn!("the stored access token of {appid} cannot be opened ({e}); ignored");
                Ok(None)
            }
        }
    }

    pub(crate) fn lease_access_token_refresh(
        &self,
        appid: &str,
        owner: &str,
        now: i64,
        until: i64,
    ) -> DbResult<bool> {
        let mut conn = self.writer()?;
        ensure_row(&mut conn, appid)?;
        // A single UPDATE decides between racing instances: its WHERE is evaluated on the row
        // as it is when the update runs, so exactly one of them sees a free lease.
        let taken = diesel::update(access_tokens::table)
            .filter(access_tokens::appid.eq(appid))
            // A usable token stored by another instance since the caller looked: no lease.
            .filter(access_tokens::expires_at.le(now))
            .filter(
                access_tokens::lease_until
                    .lt(now)
                    .or(access_tokens::lease_owner.eq(owner)),
            )
            .set((
                access_tokens::lease_owner.eq(owner),
                access_tokens::lease_until.eq(until),
            ))
            .execute(&mut *conn)?;
        Ok(taken == 1)
    }

    pub(crate) fn save_access_token(
        &self,
        appid: &str,
        owner: &str,
        token: &AccessToken,
        use_until: i64,
        fetches: i64,
    ) -> DbResult<i64> {
        let sealed = self.sealer.seal(token.expose(), appid)?;
        let mut conn = self.writer()?;
        ensure_row(&mut conn, appid)?;
        diesel::update(access_tokens::table)
            .filter(access_tokens::appid.eq(appid))
            .set((
                access_tokens::token.eq(&sealed),
                access_tokens::expires_at.eq(use_until),
                access_tokens::fetches.eq(access_tokens::fetches + fetches),
            ))
            .execute(&mut *conn)?;
        release_lease(&mut conn, appid, owner)?;
        Ok(load_row(&mut conn, appid)?.map_or(fetches, |row| row.fetches))
    }

    pub(crate) fn release_access_token_lease(
        &self,
        appid: &str,
        owner: &str,
        fetches: i64,
    ) -> DbResult<()> {
        let mut conn = self.writer()?;
        diesel::update(access_tokens::table)
            .filter(access_tokens::appid.eq(appid))
            .set(access_tokens::fetches.eq(access_tokens::fetches + fetches))
            .execute(&mut *conn)?;
        release_lease(&mut conn, appid, owner)
    }

    pub(crate) fn expire_access_token(&self, appid: &str, token: &AccessToken) -> DbResult<bool> {
        let mut conn = self.writer()?;
        let Some(row) = load_row(&mut conn, appid)? else {
            return Ok(false);
        };
        let is_this_token = self
            .sealer
            .open(&row.token, appid)
            .is_ok_and(|stored| stored == token.expose());
        if !is_this_token {
            return Ok(false);
        }
        // Compare-and-set on the sealed text: if another instance stored a new token since it
        // was read, the text differs and nothing changes.
        let expired = diesel::update(access_tokens::table)
            .filter(access_tokens::appid.eq(appid))
            .filter(access_tokens::token.eq(&row.token))
            .set(access_tokens::expires_at.eq(0))
            .execute(&mut *conn)?;
        Ok(expired == 1)
    }
}
