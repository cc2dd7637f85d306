//! Which accepted format an upload is, by its first bytes alone.

use image::ImageFormat;

/// The MIME type of `input` if its first bytes are those of an accepted format (JPEG, PNG, WebP,
/// GIF), else `None`. Cheap (at most 16 bytes are looked at): lets the server refuse a file that
/// is no image before it reads the rest. It proves nothing about the rest: `process_avatar`
/// still decodes it.
pub fn sniff(input: &[u8]) -> Option<&'static str> {
    accepted_format(input).map(|format| format.to_mime_type())
}

/// The accepted format of `input`, by content: the name and the declared type are the client's
/// word, and a file named `.jpg` may be an SVG or a TIFF.
pub(crate) fn accepted_format(input: &[u8]) -> Option<ImageFormat> {
    match image::guess_format(input).ok()? {
        format @ (ImageFormat::Jpeg | ImageFormat::Png | ImageFormat::WebP | ImageFormat::Gif) => {
            Some(format)
        }
        _ => None,
    }
}
