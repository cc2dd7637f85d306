//! Why an upload was refused, in words a client may read.

/// Why `process_avatar` refused an upload.
///
/// The messages are safe to send to the client: they say what was wrong with the upload and
/// nothing about the server. The decoder's own error travels as the `source`, for the log.
/// `TooLarge` is 413 payload_too_large; `Encode` is the server's fault (500); the rest are
/// 400 invalid_image.
#[derive(Debug, thiserror::Error)]
pub enum AvatarError {
    /// More bytes than `max_bytes`: refused before any byte was read.
    #[error("the image is larger than {max_bytes} bytes")]
    TooLarge {
        /// The limit it went over.
        max_bytes: usize,
    },
    /// Not a JPEG, PNG, WebP or GIF by its first bytes, whatever its name or declared type.
    #[error("the file is not a JPEG, PNG, WebP or GIF image")]
    NotAnImage,
    /// Its header claims more than `max_side` pixels on a side (or, at 16 bits a channel, more
    /// than a `max_side`×`max_side` image weighs): refused before decoding.
    #[error("the image has too many pixels: at most {max_side}×{max_side} are accepted")]
    TooManyPixels {
        /// The limit it went over.
        max_side: u32,
    },
    /// A known format that does not decode: truncated, corrupt, or a variant not supported.
    #[error("the image could not be decoded: it is truncated, corrupt or of an unsupported kind")]
    Undecodable(#[source] image::ImageError),
    /// The avatar could not be encoded: not the client's fault.
    #[error("the avatar could not be encoded")]
    Encode(#[source] image::ImageError),
}

impl AvatarError {
    /// Whether this is 413 payload_too_large rather than 400 invalid_image (or 500 for `Encode`).
    pub fn is_too_large(&self) -> bool {
        matches!(self, Self::TooLarge { .. })
    }
}
