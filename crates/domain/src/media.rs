//! Stored files (avatars), as the use cases see them: a port with one adapter per kind of
//! storage (the database, S3-compatible object storage).

use async_trait::async_trait;

use crate::Cause;

/// A stored file. Its name never names two contents: a file is written once and never
/// changed, so it can be cached for ever; a new avatar gets a new name.
#[derive(Clone, PartialEq, Eq)]
pub struct MediaObject {
    /// The file's name, with its folder: `avatars/<digest>.jpg`. Letters, digits, `.`, `-`,
    /// `_` and `/` only ([`is_media_name`]).
    pub name: String,
    /// Its type, as served: `image/jpeg`, `image/webp`.
    pub content_type: String,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

impl std::fmt::Debug for MediaObject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaObject")
            .field("name", &self.name)
            .field("content_type", &self.content_type)
            .field("bytes", &self.bytes.len())
            .finish()
    }
}

/// Whether `name` is a name a store takes: at most 200 bytes of `[A-Za-z0-9._/-]`, no empty,
/// `.` or `..` segment, no leading `/`. Whatever reaches a store through a URL is checked
/// with it first, so no name escapes its folder or bucket prefix.
pub fn is_media_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 200
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'/'))
        && name
            .split('/')
            .all(|segment| !segment.is_empty() && segment != "." && segment != "..")
}

/// Why a media store could not do what it was asked.
#[derive(Debug, Clone, thiserror::Error)]
pub enum MediaError {
    /// The name is not one a store takes ([`is_media_name`]).
    #[error("not a media name")]
    InvalidName,
    /// The store could not be reached, or failed to answer.
    #[error("the media store is unavailable")]
    Unavailable(#[source] Cause),
    /// The store answered, but not as it should (a refused request, a misconfigured bucket).
    #[error("the media store failed")]
    Failed(#[source] Cause),
}

/// Where files are kept, for every instance to serve.
///
/// Futures are `Send` and implementors `Send + Sync`.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait MediaStore: Send + Sync {
    /// Stores a file under its name. Storing the same name again with the same bytes is
    /// harmless (a retried upload).
    async fn put(&self, object: &MediaObject) -> Result<(), MediaError>;

    /// The file of that name, if there is one.
    async fn get(&self, name: &str) -> Result<Option<MediaObject>, MediaError>;

    /// Deletes the file of that name. A name with no file is not an error: a deletion that
    /// is retried after it succeeded must not fail.
    async fn delete(&self, name: &str) -> Result<(), MediaError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_stay_inside_their_folder() {
        for good in ["avatars/0f3a.jpg", "avatars/a-b_c.webp", "x"] {
            assert!(is_media_name(good), "{good}");
        }
        let long = "a".repeat(201);
        for bad in [
            "",
            "/avatars/x.jpg",
            "avatars/../x.jpg",
            "avatars/./x.jpg",
            "avatars//x.jpg",
            "avatars/x.jpg/",
            "avatars/x y.jpg",
            "avatars/%2e%2e",
            "avatars\\x.jpg",
            long.as_str(),
        ] {
            assert!(!is_media_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn debug_shows_no_bytes() {
        let object = MediaObject {
            name: "avatars/x.jpg".into(),
            content_type: "image/jpeg".into(),
            bytes: vec![0xff, 0xd8, 0xff],
        };
        assert!(format!("{object:?}").contains("bytes: 3"));
    }
}
