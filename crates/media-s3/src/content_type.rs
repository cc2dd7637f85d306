//! The content type of a stored file that came back without a usable one.

/// The types that say nothing: what S3 answers for an object stored without a type.
const UNKNOWN: [&str; 2] = ["binary/octet-stream", "application/octet-stream"];

/// The type to serve `name` with, given what the store answered: the store's when it says
/// something, else one guessed from the extension. Objects written by [`crate::S3MediaStore`]
/// always carry their type; others (copied in by a tool that set none) get the guess.
pub(crate) fn served_type(stored: Option<&str>, name: &str) -> String {
    match stored.map(str::trim) {
        Some(stored) if !stored.is_empty() && !UNKNOWN.contains(&stored) => stored.to_owned(),
        _ => guess(name).unwrap_or(UNKNOWN[1]).to_owned(),
    }
}

/// The type of the image extensions avatars are stored with.
fn guess(name: &str) -> Option<&'static str> {
    let (_, extension) = name.rsplit_once('.')?;
    Some(match extension.to_ascii_lowercase().as_str() {
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "webp" => "image/webp",
        "gif" => "image/gif",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stored_type_wins() {
        assert_eq!(
            served_type(Some("image/webp"), "avatars/a.jpg"),
            "image/webp"
        );
    }

    #[test]
    fn a_missing_or_generic_type_is_guessed_from_the_extension() {
        assert_eq!(served_type(None, "avatars/a.jpg"), "image/jpeg");
        assert_eq!(served_type(Some(""), "avatars/a.JPEG"), "image/jpeg");
        assert_eq!(
            served_type(Some("binary/octet-stream"), "avatars/a.webp"),
            "image/webp"
        );
        assert_eq!(
            served_type(Some("application/octet-stream"), "a.png"),
            "image/png"
        );
    }

    #[test]
    fn an_unknown_extension_stays_generic() {
        assert_eq!(served_type(None, "avatars/a"), "application/octet-stream");
        assert_eq!(
            served_type(None, "avatars/a.exe"),
            "application/octet-stream"
        );
        assert_eq!(
            served_type(Some("binary/octet-stream"), "a.bin"),
            "application/octet-stream"
        );
    }
}
