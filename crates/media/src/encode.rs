//! The avatar as a JPEG, and nothing else: no EXIF, no GPS, no ICC profile, no comment.

use image::DynamicImage;
use image::codecs::jpeg::JpegEncoder;

use crate::AvatarError;

/// Indistinguishable from the source at avatar size, about a third of quality 100's bytes.
const QUALITY: u8 = 85;

/// Encodes an opaque 8-bit image. `JpegEncoder` writes metadata only when asked
/// (`set_exif_metadata`, `set_icc_profile`), and it is never asked: the upload's metadata was
/// left behind in the decoder.
pub(crate) fn encode_jpeg(image: &DynamicImage) -> Result<Vec<u8>, AvatarError> {
    let mut bytes = Vec::new();
    JpegEncoder::new_with_quality(&mut bytes, QUALITY)
        .encode_image(image)
        .map_err(AvatarError::Encode)?;
    Ok(bytes)
}
