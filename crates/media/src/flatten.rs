//! Transparency onto white: JPEG has no alpha, and a transparent pixel dropped to its hidden
//! colour is usually black, which is not what the user saw.

use image::DynamicImage;

/// `image` at 8 bits a channel and opaque: a transparent pixel becomes white, a half
/// transparent one half white. Works in place on 8-bit images, so the largest buffer of the
/// pipeline is not doubled. Keeps grey images grey (one channel is a third of the work).
pub(crate) fn onto_white(image: DynamicImage) -> DynamicImage {
    match image {
        DynamicImage::ImageLuma8(_) | DynamicImage::ImageRgb8(_) => image,
        DynamicImage::ImageLumaA8(mut grey) => {
            blend_in_place(&mut grey);
            DynamicImage::ImageLumaA8(grey)
        }
        DynamicImage::ImageRgba8(mut rgba) => {
            blend_in_place(&mut rgba);
            DynamicImage::ImageRgba8(rgba)
        }
        other if other.color().has_alpha() => {
            let mut rgba = other.into_rgba8();
            blend_in_place(&mut rgba);
            DynamicImage::ImageRgba8(rgba)
        }
        other if other.color().has_color() => DynamicImage::ImageRgb8(other.into_rgb8()),
        other => DynamicImage::ImageLuma8(other.into_luma8()),
    }
}

/// Composites pixels whose last channel is alpha onto white, and makes them opaque.
fn blend_in_place<P: image::Pixel<Subpixel = u8>>(image: &mut image::ImageBuffer<P, Vec<u8>>) {
    let channels = usize::from(P::CHANNEL_COUNT);
    for pixel in image.chunks_exact_mut(channels) {
        let (colour, alpha) = pixel.split_at_mut(channels - 1);
        let alpha = u32::from(alpha[0]);
        for value in colour {
            let blended = (u32::from(*value) * alpha + 255 * (255 - alpha) + 127) / 255;
            // At most (255·a + 255·(255 − a) + 127) / 255 = 255: always fits.
            *value = u8::try_from(blended).unwrap_or(u8::MAX);
        }
        pixel[channels - 1] = u8::MAX;
    }
}

/// `image` without its (now opaque) alpha channel, as the JPEG encoder wants it.
pub(crate) fn without_alpha(image: DynamicImage) -> DynamicImage {
    match image {
        DynamicImage::ImageLuma8(_) | DynamicImage::ImageRgb8(_) => image,
        other if other.color().has_color() => DynamicImage::ImageRgb8(other.into_rgb8()),
        other => DynamicImage::ImageLuma8(other.into_luma8()),
    }
}

#[cfg(test)]
mod tests {
    use image::{GrayAlphaImage, LumaA, Rgba, RgbaImage};

    use super::*;

    #[test]
    fn a_transparent_pixel_becomes_white_and_an_opaque_one_keeps_its_colour() {
        let mut rgba = RgbaImage::new(2, 1);
        rgba.put_pixel(0, 0, Rgba([0, 0, 0, 0]));
        rgba.put_pixel(1, 0, Rgba([10, 20, 30, 255]));

        let flat = onto_white(DynamicImage::ImageRgba8(rgba)).into_rgba8();

        assert_eq!(flat.get_pixel(0, 0), &Rgba([255, 255, 255, 255]));
        assert_eq!(flat.get_pixel(1, 0), &Rgba([10, 20, 30, 255]));
    }

    #[test]
    fn a_half_transparent_black_pixel_becomes_mid_grey() {
        let grey = GrayAlphaImage::from_pixel(1, 1, LumaA([0, 128]));

        let flat = onto_white(DynamicImage::ImageLumaA8(grey)).into_luma_alpha8();

        assert_eq!(flat.get_pixel(0, 0), &LumaA([127, 255]));
    }
}
