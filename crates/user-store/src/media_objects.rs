//! The database as media store (`MEDIA_STORE` unset): files in a table, so SQLite and any
//! number of PostgreSQL instances serve avatars with nothing more to run.

use diesel::prelude::*;
use wxlogin_domain::MediaObject;

use crate::database::Database;
use crate::error::DbResult;
use crate::schema::media_objects;

impl Database {
    pub(crate) fn put_media(&self, object: &MediaObject, now: i64) -> DbResult<()> {
        // A file is written once under a name never reused: storing it again (a retried
        // upload) changes nothing.
        let insert = diesel::insert_into(media_objects::table).values((
            media_objects::name.eq(&object.name),
            media_objects::content_type.eq(&object.content_type),
            media_objects::bytes.eq(&object.bytes),
            media_objects::created_at.eq(now),
        ));
        let mut conn = self.writer()?;
        match &mut *conn {
            crate::connection::AnyConnection::Postgresql(c) => {
                insert.on_conflict_do_nothing().execute(c)?
            }
            crate::connection::AnyConnection::Sqlite(c) => {
                insert.on_conflict_do_nothing().execute(c)?
            }
        };
        Ok(())
    }

    pub(crate) fn get_media(&self, name: &str) -> DbResult<Option<MediaObject>> {
        Ok(media_objects::table
            .filter(media_objects::name.eq(name))
            .select((media_objects::content_type, media_objects::bytes))
            .first::<(String, Vec<u8>)>(&mut *self.conn()?)
            .optional()?
            .map(|(content_type, bytes)| MediaObject {
                name: name.to_owned(),
                content_type,
                bytes,
            }))
    }

    pub(crate) fn delete_media(&self, name: &str) -> DbResult<()> {
        diesel::delete(media_objects::table.filter(media_objects::name.eq(name)))
            .execute(&mut *self.writer()?)?;
        Ok(())
    }
}
