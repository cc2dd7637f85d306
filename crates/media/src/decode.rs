//! Decoding an upload's first frame, with its size checked on the header before any pixel is
//! allocated: a few kilobytes claiming 20000×20000 pixels is refused, never decoded.

use std::io::Cursor;

use image::error::{DecodingError, ImageFormatHint, LimitErrorKind};
use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, ImageError, ImageFormat, ImageReader};

use crate::truncation::jpeg_is_complete;
use crate::{AvatarError, AvatarLimits};

/// An upload's first frame as stored, and how it must be turned to stand upright.
pub(crate) struct Decoded {
    /// The pixels as stored in the file, before orientation.
    pub(crate) image: DynamicImage,
    /// The EXIF orientation (a phone stores a portrait photo sideways and says so here).
    pub(crate) orientation: Orientation,
}

/// Decodes the first frame of `input`, known by its content to be `format`.
pub(crate) fn decode_first_frame(
    input: &[u8],
    format: ImageFormat,
    limits: &AvatarLimits,
) -> Result<Decoded, AvatarError> {
    let refused = |error| refusal(error, limits);
    let mut reader = ImageReader::with_format(Cursor::new(input), format);
    reader.limits(limits.for_decoder());
    // Reads the header only (PNG stops at the first IDAT; JPEG parses its markers; GIF and WebP
    // their headers) and refuses a side beyond `max_side` there.
    let mut decoder = reader.into_decoder().map_err(refused)?;

    let (width, height) = decoder.dimensions();
    if width > limits.max_side || height > limits.max_side {
        return Err(too_many_pixels(limits));
    }
    // What `ImageReader::decode` does and `into_decoder` does not: the image buffer counts
    // against the allocation budget (so a 16-bit image is refused a little below `max_side`),
    // and the decoder gets only what is left for its own buffers (a GIF frame that does not
    // line up with its screen is decoded apart first).
    let mut budget = limits.for_decoder();
    if budget.reserve(decoder.total_bytes()).is_err() {
        return Err(too_many_pixels(limits));
    }
    decoder.set_limits(budget).map_err(refused)?;

    if format == ImageFormat::Jpeg && !jpeg_is_complete(input) {
        return Err(AvatarError::Undecodable(ImageError::Decoding(
            DecodingError::new(
                ImageFormatHint::Exact(ImageFormat::Jpeg),
                "the JPEG ends before its End Of Image marker",
            ),
        )));
    }
    // Read before decoding, which consumes the decoder. The EXIF itself goes no further.
    let orientation = decoder.orientation().map_err(refused)?;
    // GIF and animated WebP decoders yield their first frame here; the rest is never read.
    let image = DynamicImage::from_decoder(decoder).map_err(refused)?;
    Ok(Decoded { image, orientation })
}

fn too_many_pixels(limits: &AvatarLimits) -> AvatarError {
    AvatarError::TooManyPixels {
        max_side: limits.max_side,
    }
}

/// A decoder's error, as the client's: a limit on the image's size is `TooManyPixels`, the rest
/// (truncated, corrupt, unsupported variant, a chunk over the allocation budget) `Undecodable`.
fn refusal(error: ImageError, limits: &AvatarLimits) -> AvatarError {
    match &error {
        ImageError::Limits(limit) if limit.kind() == LimitErrorKind::DimensionError => {
            too_many_pixels(limits)
        }
        _ => AvatarError::Undecodable(error),
    }
}
