//! An upload in, an avatar out: each step bounded before the next one costs anything.

use image::GenericImageView;

use crate::decode::{Decoded, decode_first_frame};
use crate::encode::encode_jpeg;
use crate::flatten::{onto_white, without_alpha};
use crate::scale::scale_to_fit;
use crate::sniff::accepted_format;
use crate::{Avatar, AvatarError, AvatarLimits};

/// Turns an uploaded image into an avatar: a JPEG within `limits.size`×`limits.size`, upright,
/// transparency on white, first frame only, and no byte of the upload's metadata.
///
/// In order, each check before anything the next one costs: the byte count (`TooLarge`), the
/// format by content (`NotAnImage`), the dimensions from the header (`TooManyPixels`), then the
/// decoding (`Undecodable`). CPU-bound (tens of milliseconds for a phone photo): call it off the
/// async executor.
pub fn process_avatar(input: &[u8], limits: &AvatarLimits) -> Result<Avatar, AvatarError> {
    if input.len() > limits.max_bytes {
        return Err(AvatarError::TooLarge {
            max_bytes: limits.max_bytes,
        });
    }
    let format = accepted_format(input).ok_or(AvatarError::NotAnImage)?;
    let Decoded { image, orientation } = decode_first_frame(input, format, limits)?;

    let mut image = scale_to_fit(onto_white(image), limits.size);
    // Turned after scaling, where it costs a few hundred kilobytes instead of a full-size copy;
    // the box is square, so the size comes out the same either way round.
    image.apply_orientation(orientation);
    let image = without_alpha(image);

    let (width, height) = image.dimensions();
    Ok(Avatar {
        bytes: encode_jpeg(&image)?,
        content_type: "image/jpeg",
        extension: "jpg",
        width,
        height,
    })
}
