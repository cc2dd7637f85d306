//! The avatar as the server stores it.

use std::fmt;

/// An avatar ready to store: a JPEG without metadata, upright, within `size`×`size`.
#[derive(Clone, PartialEq, Eq)]
pub struct Avatar {
    /// The JPEG file.
    pub bytes: Vec<u8>,
    /// Always `"image/jpeg"`, for the `Content-Type` it is served with.
    pub content_type: &'static str,
    /// Always `"jpg"`, for the name it is stored under.
    pub extension: &'static str,
    /// Its width in pixels, after orientation.
    pub width: u32,
    /// Its height in pixels, after orientation.
    pub height: u32,
}

impl fmt::Debug for Avatar {
    // The bytes are an image: a log line gets their length, not tens of kilobytes of numbers.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Avatar")
            .field("bytes", &format_args!("<{} bytes>", self.bytes.len()))
            .field("content_type", &self.content_type)
            .field("extension", &self.extension)
            .field("width", &self.width)
            .field("height", &self.height)
            .finish()
    }
}
